"""Optional cross-check of the analytic energy model with ZigZag (PyPI zigzag-dse, extra `zigzag`).

The model is exported to ONNX and handed to ZigZag's Python API with one of the accelerator
and mapping descriptions ZigZag ships (default: its TPU-like one). ZigZag configures the root
logger and writes output files, so it runs in a temporary folder and the caller's logging is
restored afterwards. It takes seconds per network: a cross-check, not the search's estimator.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError
from ..layers import Resize, eval_mode
from ._energy import LayerEnergy


@dataclass(frozen=True)
class ZigZagEstimate:
    accelerator: str
    total_energy: float  # ZigZag's unit (pJ for its shipped descriptions)
    latency_cycles: float
    layers: tuple[tuple[str, float], ...]  # (layer, energy) for every layer ZigZag costed


def zigzag_energy(model: nn.Module, input_shape: tuple[int, int, int], accelerator: str = "tpu_like") -> ZigZagEstimate:
    try:
        import onnx
        import zigzag
        from zigzag.api import get_hardware_performance_zigzag
    except ImportError:
        raise ConfigError("the ZigZag cross-check needs the extra: pip install 'paretonet[zigzag]'") from None
    inputs = Path(zigzag.__file__).parent / "inputs"
    hw, mapping = inputs / "hardware" / f"{accelerator}.yaml", inputs / "mapping" / f"{accelerator}.yaml"
    if not hw.is_file() or not mapping.is_file():
        known = sorted(p.stem for p in (inputs / "hardware").glob("*.yaml") if (inputs / "mapping" / p.name).is_file())
        raise ConfigError(f"zigzag accelerator: got {accelerator!r}, expected one of {', '.join(known)}")
    model, input_shape = _without_resize(model, input_shape)
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        with eval_mode(model), tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            path = Path(tmp) / "model.onnx"
            with warnings.catch_warnings():  # the TorchScript exporter is deprecated; ZigZag reads its output
                warnings.simplefilter("ignore", DeprecationWarning)
                torch.onnx.export(model, torch.zeros(1, *input_shape), str(path), dynamo=False, opset_version=13)
            onnx.save(onnx.shape_inference.infer_shapes(onnx.load(str(path))), str(path))
            try:
                energy, latency, cmes = get_hardware_performance_zigzag(
                    str(path), str(hw), str(mapping), opt="energy", dump_folder=str(Path(tmp) / "out"),
                    loma_show_progress_bar=False)
            except Exception as e:  # ZigZag 3.9.1 fails inside its own code on some layers
                raise ConfigError(f"ZigZag could not cost this model: {type(e).__name__}: {str(e)[:80]}") from None
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
    per_layer = cmes[0][1] if cmes and isinstance(cmes[0][1], list) else []
    layers = tuple((str(getattr(getattr(cme, "layer", None), "name", i)), float(cme.energy_total))
                   for i, (cme, _) in enumerate(per_layer))
    return ZigZagEstimate(accelerator, float(energy), float(latency), layers)


def _without_resize(model: nn.Module, input_shape: tuple[int, int, int]) -> tuple[nn.Module, tuple[int, int, int]]:
    """ZigZag cannot parse an input Resize; our energy model does not cost it either, so export what follows."""
    if isinstance(model, nn.Sequential) and len(model) == 2 and isinstance(model[1], nn.Sequential) \
            and len(model[1]) and isinstance(model[1][0], Resize):
        side = model[1][0].side
        return nn.Sequential(*model[1][1:]), (input_shape[0], side, side)
    return model, input_shape


def match_layers(ours: Sequence[LayerEnergy], zz: ZigZagEstimate) -> list[tuple[str, float | None, float]]:
    """(layer, our energy or None, ZigZag's) per layer ZigZag costed; ours are matched to its conv/linear
    layers in order when both list the same number, else left out (None) rather than guessed."""
    mine = [layer for layer in ours if layer.macs]
    same = len(mine) == len(zz.layers)
    return [(mine[k].name if same else name, mine[k].total_pj if same else None, z_e)
            for k, (name, z_e) in enumerate(zz.layers)]
