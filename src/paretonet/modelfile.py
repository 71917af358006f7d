"""Model files: weights in safetensors plus a JSON with everything needed to rebuild the model.

`save_model("runs/lenet5", ...)` writes runs/lenet5.safetensors and runs/lenet5.json. A variant
(quantized, pruned, approximate) is saved as what it is: the JSON names the variant and, per
approximate layer, its multiplier with the SHA-256 of its table; the tables themselves travel in
the safetensors file, and loading refuses a table whose hash differs. Loading never unpickles:
a file that is not safetensors (a pickle, a torch.save zip) is refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import ModelFileError, ParetonetError
from .spaces import Architecture, build_model

FORMAT_VERSION = 2  # 2: variants (variant string, multiplier tables)
_PICKLE_PROTOCOL = 0x80
_ZIP_MAGIC = b"PK\x03\x04"
_TABLE_KEY = "paretonet.multiplier_table."


@dataclass(frozen=True)
class ModelMeta:
    architecture: str
    input_shape: tuple[int, int, int]
    n_classes: int
    dataset: str
    seed: int = 0
    variant: str = ""  # Variant's canonical string; '' is the float model as trained
    multipliers: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)  # layer -> name, sha256, ...
    metrics: dict[str, float] = field(default_factory=dict, hash=False)
    train_config: dict[str, Any] = field(default_factory=dict, hash=False)
    paretonet_version: str = ""
    format: int = FORMAT_VERSION


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """(weights .safetensors, metadata .json) for a model path given with or without a suffix."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def _multipliers_of(model: nn.Module) -> tuple[dict[str, dict[str, Any]], dict[str, torch.Tensor]]:
    """Per approximate layer (keyed by the layer it wraps): its multiplier's data, and the tables by hash."""
    from .hw.approx import ApproxLayer

    info, tables = {}, {}
    for name, m in model.named_modules():
        if isinstance(m, ApproxLayer):
            mult = m.multiplier
            info[name] = {"name": mult.name, "sha256": mult.table_sha256, "signed": mult.signed,
                          "power_mw": mult.power_mw, "area_um2": mult.area_um2, "delay_ns": mult.delay_ns,
                          "source": mult.source}
            tables[_TABLE_KEY + mult.table_sha256] = torch.from_numpy(mult.table.astype("int32"))
    return info, tables


def save_model(path: str | Path, model: nn.Module, meta: ModelMeta) -> tuple[Path, Path]:
    """Write <path>.safetensors and <path>.json; returns both paths. The multipliers are read off the model."""
    from safetensors.torch import save_file

    from ._version import __version__

    weights, sidecar = model_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    multipliers, tables = _multipliers_of(model)
    meta_d = {**asdict(meta), "multipliers": multipliers, "format": FORMAT_VERSION,
              "paretonet_version": meta.paretonet_version or __version__}
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file({**state, **tables}, str(weights), metadata={"paretonet_architecture": meta.architecture})
    sidecar.write_text(json.dumps(meta_d, indent=2, sort_keys=True) + "\n")
    return weights, sidecar


def _check_safetensors(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(9)
    except OSError as e:
        raise ModelFileError(f"cannot read model file {path}: {e.strerror or e}") from None
    if len(head) == 9 and head[8:9] == b"{":
        return  # an 8-byte header length, then the JSON header (the length's first byte may be 0x80 too)
    if head[:1] == bytes([_PICKLE_PROTOCOL]) or head[:4] == _ZIP_MAGIC:
        raise ModelFileError(
            f"model file {path} is a pickle / torch.save file; paretonet never unpickles files "
            "(save weights with safetensors)"
        )
    if len(head) < 9 or head[8:9] != b"{":
        raise ModelFileError(f"model file {path} is not a safetensors file (expected an 8-byte length and a JSON header)")


def read_meta(path: str | Path) -> ModelMeta:
    """The model's JSON, checked field by field (strict types: "2" is not a format number)."""
    from ._schema import ModelMetaSchema, validate

    _, sidecar = model_paths(path)
    try:
        d = json.loads(sidecar.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"model metadata {sidecar} is missing (a model is a .safetensors file plus its .json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"model metadata {sidecar} is not valid JSON: {e}") from None
    try:
        m = validate(ModelMetaSchema, d, f"model metadata {sidecar}")
    except ParetonetError as e:
        raise ModelFileError(str(e)) from None
    if m.format > FORMAT_VERSION:
        raise ModelFileError(f"model metadata {sidecar} has format {m.format}; this paretonet reads up to {FORMAT_VERSION}")
    fields = {k: getattr(m, k) for k in ModelMeta.__dataclass_fields__}
    return ModelMeta(**{**fields, "input_shape": tuple(m.input_shape)})


def _multiplier_tables(meta: ModelMeta, state: dict[str, torch.Tensor], weights: Path) -> dict[str, Any]:
    """layer -> Multiplier rebuilt from the stored table, whose hash must be the one the JSON names."""
    from .hw.approx import Multiplier

    out = {}
    for layer, info in meta.multipliers.items():
        sha = info.get("sha256")
        table = state.get(_TABLE_KEY + str(sha))
        if table is None:
            raise ModelFileError(f"model file {weights}: no table for multiplier {info.get('name')!r} of layer {layer}")
        try:
            mult = Multiplier(str(info["name"]), table.numpy().astype("int64"), bool(info.get("signed", False)),
                              info.get("power_mw"), info.get("area_um2"), info.get("delay_ns"), str(info.get("source", "")))
        except (KeyError, ParetonetError) as e:
            raise ModelFileError(f"model metadata for {weights}: multiplier of layer {layer}: {e}") from None
        if mult.table_sha256 != sha:
            raise ModelFileError(f"model file {weights}: the table of multiplier {mult.name!r} (layer {layer}) does not "
                                 f"match its hash {str(sha)[:12]}...; the file was altered")
        out[layer] = mult
    return out


def load_model(path: str | Path) -> tuple[nn.Module, ModelMeta]:
    """Rebuild the model (and its variant's layers) from its JSON and load its weights; eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .variant import Variant, variant_structure

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
    multipliers = _multiplier_tables(meta, state, weights)
    state = {k: v for k, v in state.items() if not k.startswith(_TABLE_KEY)}
    try:
        arch = Architecture.parse(meta.architecture)
        model = variant_structure(build_model(arch, meta.input_shape, meta.n_classes), Variant.parse(meta.variant),
                                  multipliers)
    except ParetonetError as e:
        raise ModelFileError(f"model metadata for {weights}: {e}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise ModelFileError(f"weights in {weights} do not match architecture {meta.architecture}: {first}") from None
    model.eval()
    return model, meta
