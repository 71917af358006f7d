"""What a model's own layers say about its cost: storage widths, per-layer bits, density, multiplier power.

The single place where size and energy of any variant (float, quantized, pruned, approximate) are
read off the model itself, so a number is always the cost of the model it is measured on.
"""

from __future__ import annotations

from torch import nn

from ..records.names import DEFAULT_HARDWARE
from ._energy import DEFAULT_DATAFLOW, FLOAT32, EnergyEstimate, LayerBits, estimate_energy
from ._shapes import layer_shapes
from ._hardware import Hardware
from ._quantize import QUANTIZABLE, QuantLayer
from ._sparse import best_encoding


def _approx_layers(model: nn.Module) -> dict[str, nn.Module]:
    from .approx import approx_layers  # the approximate layers build on this package's quantizer

    return approx_layers(model)


def layer_bits(model: nn.Module) -> dict[str, LayerBits]:
    """Integer widths of every quantized (N-bit) and approximate (8-bit) layer, keyed by the wrapped layer."""
    bits = {f"{n}.layer": LayerBits(m.weight_bits, m.act_bits, 32, is_float=False)
            for n, m in model.named_modules() if isinstance(m, QuantLayer)}
    bits.update({n: LayerBits(8, 8, 32, is_float=False) for n in _approx_layers(model)})
    return bits


def weight_density(model: nn.Module) -> dict[str, float]:
    """Fraction of non-zero weights of every conv/linear layer."""
    return {n: float((m.weight != 0).double().mean()) for n, m in model.named_modules() if isinstance(m, QUANTIZABLE)}


def power_factors(model: nn.Module) -> dict[str, float]:
    """Multiplier power relative to the exact 8x8 multiplier, per approximate layer (known power only)."""
    return {n: m.multiplier.relative_power for n, m in _approx_layers(model).items()
            if m.multiplier.relative_power is not None}


def storage_bytes(model: nn.Module) -> int:
    """Bytes to store the parameters: weights of conv/linear layers at their layer's width in the
    smallest of dense and the sparse encodings, everything else (biases, BN) dense at 32 bits."""
    widths = {f"{n}.weight": b.weights for n, b in layer_bits(model).items()}
    total = 0
    for name, p in model.named_parameters():
        b = widths.get(name, 32)
        total += best_encoding(p, b)[1] if name.endswith("weight") and p.dim() > 1 else (p.numel() * b + 7) // 8
    return total


def variant_energy(model: nn.Module, input_shape: tuple[int, int, int], hw: Hardware | str = DEFAULT_HARDWARE,
                   dataflow: str = DEFAULT_DATAFLOW) -> EnergyEstimate:
    """Energy of the model as it is: its layers' bit widths, weight density and multiplier power. The
    operations between integer layers (pooling, sums, activations) work on the integer activations the
    layer before them wrote, so they move and add words of that width."""
    shapes = layer_shapes(model, input_shape)
    bits = layer_bits(model)
    current = None
    for s in shapes:
        if s.kind in ("conv", "linear"):
            current = bits.get(s.name)
        elif current is not None:
            bits[s.name] = LayerBits(current.activations, current.activations, current.accumulator, is_float=False)
    return estimate_energy(shapes, hw, dataflow, bits=bits or FLOAT32, weight_density=weight_density(model),
                           mult_factor=power_factors(model))
