"""paretonet: pick image-classification CNNs on accuracy, robustness, size and energy at once."""

from __future__ import annotations

from ._version import __version__
from .data import DataConfig, Dataset, load_dataset
from .errors import ParetonetError
from .modelfile import ModelMeta, load_model, save_model
from .pipeline import TrainedModel, train_architecture
from .records import Objective, Record
from .spaces import SPACES, Architecture, build_model, mutate_architecture, sample_architecture
from .train import TrainConfig, TrainResult, train

__all__ = [
    "SPACES",
    "Architecture",
    "DataConfig",
    "Dataset",
    "ModelMeta",
    "Objective",
    "ParetonetError",
    "Record",
    "TrainConfig",
    "TrainResult",
    "TrainedModel",
    "__version__",
    "build_model",
    "load_dataset",
    "load_model",
    "mutate_architecture",
    "sample_architecture",
    "save_model",
    "train",
    "train_architecture",
]
