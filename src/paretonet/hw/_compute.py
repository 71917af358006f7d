"""The layers that multiply: what noise and faults are injected into, named as in the float model.

The compute layers are the quantized (QuantLayer) and approximate (ApproxLayer) wrappers and the
bare Conv2d / Linear layers of a float model, named as in the float model (a wrapper takes the
name of the layer it wraps), so one noise or fault model fits every variant of an architecture.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..errors import ConfigError
from ._quantize import QUANTIZABLE, LayerWrapper

CALIBRATION_IMAGES = 2000  # training images that set activation ranges (quantizers) and output-noise ranges


def compute_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Every layer that multiplies, in module order: wrappers, and conv/linear layers no wrapper holds."""
    inner = {id(m.layer) for m in model.modules() if isinstance(m, LayerWrapper)}
    return {n: m for n, m in model.named_modules()
            if isinstance(m, LayerWrapper) or (isinstance(m, QUANTIZABLE) and id(m) not in inner)}


def wrapped_layer(m: nn.Module) -> nn.Module:
    """The conv or linear layer a compute layer multiplies with (the layer itself when it is bare)."""
    return m.layer if isinstance(m, LayerWrapper) else m


def select_layers(model: nn.Module, layers: Sequence[str], what: str) -> dict[str, nn.Module]:
    """The named compute layers (readable or module names; all when `layers` is empty)."""
    found = compute_layers(model)
    chosen = set(resolve_layers(model, layers, f"{what} layers"))
    return {n: m for n, m in found.items() if not layers or n in chosen}


def layer_names(model: nn.Module) -> dict[str, str]:
    """Module name -> readable name of every compute layer, in order: conv1, conv2, ..., fc1, ..., and the
    last linear layer 'classifier'. The same for every variant of an architecture (wrappers keep names)."""
    layers = compute_layers(model)
    linears = [n for n, m in layers.items() if isinstance(wrapped_layer(m), nn.Linear)]
    out, convs, fcs = {}, 0, 0
    for n, m in layers.items():
        if isinstance(wrapped_layer(m), nn.Conv2d):
            convs += 1
            out[n] = f"conv{convs}"
        elif n == linears[-1]:
            out[n] = "classifier"
        else:
            fcs += 1
            out[n] = f"fc{fcs}"
    return out


def resolve_layers(model: nn.Module, names: Sequence[str], what: str) -> tuple[str, ...]:
    """Module names of layers given by readable name (conv1, fc1, classifier) or module name (1.1)."""
    readable = layer_names(model)
    by_readable = {v: k for k, v in readable.items()}
    out = []
    for n in names:
        if n in by_readable:
            out.append(by_readable[n])
        elif n in readable:
            out.append(n)
        else:
            known = ", ".join(f"{v} ({k})" for k, v in readable.items())
            raise ConfigError(f"{what}: unknown layer {n!r}; the model's layers are {known}")
    return tuple(out)
