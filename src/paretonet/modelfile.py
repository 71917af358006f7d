"""Model files: weights in safetensors plus a JSON with everything needed to rebuild the model.

`save_model("runs/lenet5", ...)` writes runs/lenet5.safetensors and runs/lenet5.json. A variant
(quantized, pruned, approximate) is saved as what it is: the JSON names the variant and, per
approximate layer, its multiplier with the SHA-256 of its table; the tables themselves travel in
the safetensors file, and loading refuses a table whose hash differs. Loading never unpickles:
a file that is not safetensors (a pickle, a torch.save zip) is refused.

A user's own network is rebuilt by its JSON's `entry_point`, which imports Python code. That code runs only
when its module is installed in the environment (the user put it there) or when the caller trusts the file
for this run (`load_model(..., trust_code=True)`, `with trusting_code():`, the CLI's `--trust-code`), as
Hugging Face's `trust_remote_code` does: a module found only beside a model someone sent never runs by default.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from .errors import ConfigError, ModelFileError, ParetonetError
from .spaces import Architecture, build_model

FORMAT_VERSION = 2  # 2: variants (variant string, multiplier tables)
_PICKLE_PROTOCOL = 0x80
_ZIP_MAGIC = b"PK\x03\x04"
_TABLE_KEY = "paretonet.multiplier_table."
_TRUST_CODE: ContextVar[bool] = ContextVar("paretonet_trust_code", default=False)


@contextmanager
def trusting_code(trusted: bool = True) -> Iterator[None]:
    """Within the block, models whose entry point is code beside the model file (not installed) may run it."""
    token = _TRUST_CODE.set(trusted)
    try:
        yield
    finally:
        _TRUST_CODE.reset(token)


def trust_code_for_this_run(trusted: bool = True) -> None:
    """The CLI's --trust-code: set for the rest of the current context (each CLI call runs in a fresh one)."""
    _TRUST_CODE.set(trusted)


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
    entry_point: str = ""  # a user's model: 'package.module:factory' returning the nn.Module (then no genotype)


@dataclass(frozen=True)
class ModelReference:
    """What stands for the architecture of a user's model (entry point and weights hash) where a genotype
    would: its string is the Records' architecture key; it has no genotype to prune channels of."""

    reference: str

    def __str__(self) -> str:
        return self.reference

    def of_model(self, model: nn.Module) -> "ModelReference":
        raise ConfigError(f"--channels: channel pruning rewrites a search space's genotype; {self.reference} has none "
                          "(unstructured --prune, --bits and approximate multipliers work on any model)")


def architecture_of(meta: "ModelMeta") -> "Architecture | ModelReference":
    """The genotype of a paretonet model, or the reference of a user's (entry point) model."""
    user = meta.entry_point or meta.architecture.startswith("onnx:")
    return ModelReference(meta.architecture) if user else Architecture.parse(meta.architecture)


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
    if meta.architecture.startswith("onnx:"):
        raise ModelFileError("--save-model: a variant of an ONNX model cannot be saved yet (it has no genotype or entry "
                             "point to rebuild it from); its Records are written with --output")
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
    from ._schema import ModelMetaSchema, read_json, validate

    _, sidecar = model_paths(path)
    if not sidecar.is_file():
        raise ModelFileError(f"model metadata {sidecar} is missing (a model is a .safetensors file plus its .json)")
    try:
        d = read_json(sidecar, f"model metadata {sidecar}")
        m = validate(ModelMetaSchema, d, f"model metadata {sidecar}")
    except ParetonetError as e:
        raise ModelFileError(str(e)) from None
    if m.format > FORMAT_VERSION:
        raise ModelFileError(f"model metadata {sidecar} has format {m.format}; this paretonet reads up to {FORMAT_VERSION}")
    fields = {k: getattr(m, k) for k in ModelMeta.__dataclass_fields__}
    fields["multipliers"] = {layer: e.model_dump() for layer, e in m.multipliers.items()}
    if not m.architecture and not m.entry_point:
        raise ModelFileError(f"model metadata {sidecar}: give 'architecture' (a paretonet genotype) or 'entry_point' "
                             "('package.module:factory' returning your nn.Module)")
    if m.entry_point and not m.architecture:  # the reference records carry: entry point and weights hash
        fields["architecture"] = f"entry:{m.entry_point}@{_sha256(model_paths(path)[0])[:12]}"
    return ModelMeta(**{**fields, "input_shape": tuple(m.input_shape)})


def _sha256(path: Path) -> str:
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        raise ModelFileError(f"model file {path} cannot be read: {e.strerror or e}") from None


def entry_point_model(reference: str, seed: int | None = None) -> nn.Module:
    """A fresh network from 'entry:package.module:factory' (importable as installed or from the current folder),
    initialized from `seed` in a forked RNG (the caller's RNG state is untouched)."""
    entry_point = reference.removeprefix("entry:").split("@")[0]
    with torch.random.fork_rng():
        if seed is not None:
            torch.manual_seed(seed)
        return _from_entry_point(entry_point, Path.cwd(), "--arch")


def _installed(module_name: str, folder: Path) -> bool:
    """Is the module's top-level package importable from the environment itself: found on sys.path without the
    current folder or the model's folder (where a file someone sent would be)?"""
    import importlib.machinery
    import sys

    top = module_name.split(".")[0]
    if top in sys.builtin_module_names:
        return True
    local = {Path.cwd().resolve(), folder.resolve()}
    path = [p for p in sys.path if p and Path(p).resolve() not in local]
    spec = importlib.machinery.PathFinder.find_spec(top, path)
    return spec is not None


def _from_entry_point(entry_point: str, folder: Path, where: str, trust_code: bool | None = True) -> nn.Module:
    """Call 'package.module:factory' (importable as installed, or from `folder` when code there is trusted:
    `trust_code`, or None for the current context's setting); errors start with `where`."""
    import importlib
    import importlib.machinery
    import sys

    module_name, colon, attr = entry_point.partition(":")
    if not colon or not module_name or not attr:
        raise ModelFileError(f"{where}: entry_point {entry_point!r} is not 'package.module:factory'")
    trusted = _TRUST_CODE.get() if trust_code is None else trust_code
    if not trusted and not _installed(module_name, folder):
        local = importlib.machinery.PathFinder.find_spec(module_name.split(".")[0], [str(folder.resolve())])
        if local is not None:  # code that came with the file: run only when the user says so for this run
            raise ModelFileError(f"{where}: entry_point {entry_point!r} would import and run {local.origin}, which "
                                 "is not installed in this environment; if you trust whoever made this model, "
                                 "pass --trust-code (Python: load_model(path, trust_code=True))")
    folder = str(folder.resolve())
    added = trusted and folder not in sys.path  # untrusted: a file beside the model must not shadow an installed one
    if added:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, attr)
        model = factory()
    except Exception as e:  # noqa: BLE001 - a user's code: any failure is reported as one line
        raise ModelFileError(f"{where}: entry point {entry_point!r} failed: "
                             f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    finally:
        if added:
            sys.path.remove(folder)
    if not isinstance(model, nn.Module):
        raise ModelFileError(f"{where}: entry point {entry_point!r} returned a {type(model).__name__}, "
                             "not a torch.nn.Module")
    return model


def _state_mismatch(model: nn.Module, state: dict[str, torch.Tensor], limit: int = 3) -> str:
    """The first missing, unexpected and wrongly shaped keys, for a one-line error."""
    own = model.state_dict()
    missing = [k for k in own if k not in state][:limit]
    unexpected = [k for k in state if k not in own][:limit]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in state and state[k].shape != own[k].shape][:limit]
    parts = [f"missing {', '.join(missing)}" if missing else "", f"unexpected {', '.join(unexpected)}" if unexpected else "",
             f"shape of {'; '.join(shapes)}" if shapes else ""]
    return "; ".join(p for p in parts if p)


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
            mult = Multiplier(info["name"], table.numpy().astype("int64"), info.get("signed", False),
                              info.get("power_mw"), info.get("area_um2"), info.get("delay_ns"), str(info.get("source", "")))
        except (KeyError, ParetonetError) as e:
            raise ModelFileError(f"model metadata for {weights}: multiplier of layer {layer}: {e}") from None
        if mult.table_sha256 != sha:
            raise ModelFileError(f"model file {weights}: the table of multiplier {mult.name!r} (layer {layer}) does not "
                                 f"match its hash {str(sha)[:12]}...; the file was altered")
        out[layer] = mult
    return out


def load_model(path: str | Path, trust_code: bool | None = None) -> tuple[nn.Module, ModelMeta]:
    """Rebuild the model (and its variant's layers) from its JSON and load its weights; eval mode.
    `trust_code`: may an entry point that is not installed (a module beside the file) run; None: as the
    current context says (`trusting_code`, the CLI's --trust-code), by default no."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .variant import Variant, variant_structure

    if Path(path).suffix == ".onnx":  # converted, checked against onnxruntime; no variant of its own
        from .onnxfile import load_onnx

        net, info = load_onnx(path)
        return net, ModelMeta(**info)
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
        sidecar = model_paths(weights)[1]
        base = (_from_entry_point(meta.entry_point, sidecar.parent, f"model metadata {sidecar}", trust_code)
                if meta.entry_point
                else build_model(Architecture.parse(meta.architecture), meta.input_shape, meta.n_classes))
        model = variant_structure(base, Variant.parse(meta.variant), multipliers)
    except ModelFileError:
        raise
    except ParetonetError as e:
        raise ModelFileError(f"model metadata for {weights}: {e}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        what = f"entry point {meta.entry_point}" if meta.entry_point else f"architecture {meta.architecture}"
        detail = _state_mismatch(model, state) or str(e).splitlines()[0]
        raise ModelFileError(f"weights in {weights} do not match {what}: {detail}") from None
    model.eval()
    return model, meta
