"""Model files: weights in safetensors plus a JSON with everything needed to rebuild the model.

`save_model("runs/lenet5", ...)` writes runs/lenet5.safetensors and runs/lenet5.json. Loading
never unpickles: a file that is not safetensors (a pickle, a torch.save zip) is refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from .errors import ModelFileError, ParetonetError
from .spaces import Architecture, build_model

FORMAT_VERSION = 1
_PICKLE_PROTOCOL = 0x80
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class ModelMeta:
    architecture: str
    input_shape: tuple[int, int, int]
    n_classes: int
    dataset: str
    seed: int = 0
    metrics: dict[str, float] = field(default_factory=dict, hash=False)
    train_config: dict[str, Any] = field(default_factory=dict, hash=False)
    paretonet_version: str = ""
    format: int = FORMAT_VERSION


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """(weights .safetensors, metadata .json) for a model path given with or without a suffix."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def save_model(path: str | Path, model: nn.Module, meta: ModelMeta) -> tuple[Path, Path]:
    """Write <path>.safetensors and <path>.json; returns both paths."""
    from safetensors.torch import save_file

    from . import __version__

    weights, sidecar = model_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    meta_d = asdict(meta)
    meta_d["paretonet_version"] = meta.paretonet_version or __version__
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(weights), metadata={"paretonet_architecture": meta.architecture})
    sidecar.write_text(json.dumps(meta_d, indent=2, sort_keys=True) + "\n")
    return weights, sidecar


def _check_safetensors(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(9)
    except OSError as e:
        raise ModelFileError(f"cannot read model file {path}: {e.strerror or e}") from None
    if head[:1] == bytes([_PICKLE_PROTOCOL]) or head[:4] == _ZIP_MAGIC:
        raise ModelFileError(
            f"model file {path} is a pickle / torch.save file; paretonet never unpickles files "
            "(save weights with safetensors)"
        )
    if len(head) < 9 or head[8:9] != b"{":
        raise ModelFileError(f"model file {path} is not a safetensors file (expected an 8-byte length and a JSON header)")


def read_meta(path: str | Path) -> ModelMeta:
    _, sidecar = model_paths(path)
    try:
        d = json.loads(sidecar.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"model metadata {sidecar} is missing (a model is a .safetensors file plus its .json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"model metadata {sidecar} is not valid JSON: {e}") from None
    if not isinstance(d, dict):
        raise ModelFileError(f"model metadata {sidecar}: expected a JSON object")
    missing = [k for k in ("architecture", "input_shape", "n_classes", "dataset") if k not in d]
    if missing:
        raise ModelFileError(f"model metadata {sidecar} lacks {', '.join(missing)}")
    if d.get("format", FORMAT_VERSION) > FORMAT_VERSION:
        raise ModelFileError(f"model metadata {sidecar} has format {d['format']}; this paretonet reads up to {FORMAT_VERSION}")
    known = {k: v for k, v in d.items() if k in ModelMeta.__dataclass_fields__}
    known["input_shape"] = tuple(int(v) for v in known["input_shape"])
    return ModelMeta(**known)


def load_model(path: str | Path) -> tuple[nn.Module, ModelMeta]:
    """Rebuild the model from its JSON and load its safetensors weights; the model is in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, _ = model_paths(path)
    if not weights.is_file():
        given = Path(path)
        if given.is_file() and given.suffix not in (".json",):
            weights = given  # e.g. model.pt: refused below with the reason
        else:
            raise ModelFileError(f"model file {weights} does not exist")
    _check_safetensors(weights)
    meta = read_meta(weights)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelFileError(f"model file {weights} is not a valid safetensors file: {e}") from None
    try:
        arch = Architecture.parse(meta.architecture)
        model = build_model(arch, meta.input_shape, meta.n_classes)
    except ParetonetError as e:
        raise ModelFileError(f"model metadata for {weights}: {e}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise ModelFileError(f"weights in {weights} do not match architecture {meta.architecture}: {first}") from None
    model.eval()
    return model, meta
