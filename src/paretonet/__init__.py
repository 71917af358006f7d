"""paretonet: pick image-classification CNNs on accuracy, robustness, size and energy at once.

The names below load on first use (Optuna's habit), so `import paretonet` and `paretonet --help` cost no torch.
"""

from __future__ import annotations

from ._lazy import lazy_exports
from ._version import __version__  # noqa: F401 (in __all__)
from .errors import ParetonetError  # noqa: F401 (in __all__)

_WHERE = {
    "DataConfig": ".data", "Dataset": ".data", "load_dataset": ".data",
    "ModelMeta": ".modelfile", "load_model": ".modelfile", "save_model": ".modelfile",
    "TrainedModel": ".pipeline", "train_architecture": ".pipeline",
    "Objective": ".records", "Record": ".records",
    "SPACES": ".spaces", "Architecture": ".spaces", "build_model": ".spaces", "mutate_architecture": ".spaces",
    "sample_architecture": ".spaces",
    "TrainConfig": ".train", "TrainResult": ".train",  # the loop itself: paretonet.train.train (the subpackage owns the name)
}

__all__ = sorted([*_WHERE, "ParetonetError", "__version__"])
__getattr__, __dir__ = lazy_exports(__name__, globals(), _WHERE)
