"""The layers that multiply: what noise and faults are injected into, named as in the float model.

The compute layers are the quantized (QuantLayer) and approximate (ApproxLayer) wrappers and the
bare Conv2d / Linear layers of a float model, named as in the float model (a wrapper takes the
name of the layer it wraps), so one noise or fault model fits every variant of an architecture.
"""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from ._quantize import QUANTIZABLE, QuantLayer

CALIBRATION_IMAGES = 2000  # training images that set activation ranges (quantizers) and output-noise ranges


def _approx_type() -> type:
    from .approx import ApproxLayer  # the approximate layers build on this package's quantizer

    return ApproxLayer


def is_wrapper(m: nn.Module) -> bool:
    return isinstance(m, (QuantLayer, _approx_type()))


def is_approximate(m: nn.Module) -> bool:
    return isinstance(m, _approx_type())


def compute_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Every layer that multiplies, in module order: wrappers, and conv/linear layers no wrapper holds."""
    inner = {id(m.layer) for m in model.modules() if is_wrapper(m)}
    return {n: m for n, m in model.named_modules()
            if is_wrapper(m) or (isinstance(m, QUANTIZABLE) and id(m) not in inner)}


def wrapped_layer(m: nn.Module) -> nn.Module:
    """The conv or linear layer a compute layer multiplies with (the layer itself when it is bare)."""
    return m.layer if is_wrapper(m) else m


def select_layers(model: nn.Module, layers: tuple[str, ...], what: str) -> dict[str, nn.Module]:
    """The named compute layers (all when `layers` is empty); an unknown name lists the model's."""
    found = compute_layers(model)
    unknown = [n for n in layers if n not in found]
    if unknown:
        raise ConfigError(f"{what} layers: unknown {', '.join(unknown)}; the model's layers are {', '.join(found)}")
    return {n: m for n, m in found.items() if not layers or n in layers}
