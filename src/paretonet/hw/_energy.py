"""E = E_data + E_MAC per layer and in total: an analytic, pure-function estimator.

Dataflows (Sima, Vidnerova, Mrazek, ICANN 2023 / Neural Computation 2024), counting words moved
from main memory into a buffer for a layer with d_l output channels, d_{l-1}
input channels (per group), input area m_{l-1}^2, output area m_l^2 and kernel area r^2:
- "A" (each filter loaded once, input re-read per output channel):
      d_l (d_{l-1} r^2 + 1) + d_l d_{l-1} m_{l-1}^2 + d_l m_l^2
- "B" (weights re-read at every output position):
      d_l (m_l^2 + d_{l-1} (r^2 (m_l^2 + 1) + m_{l-1}^2) + 1)
  Their two-level memory (main memory + a buffer) sits on the preset's levels: the formula's words are read
  from the global buffer (with three levels or more; the outermost, DRAM, moves each datum once, as in
  "hierarchy"), and the buffer (the innermost level) hands every MAC its weight and input. Counting the formula's
  words in DRAM instead made data 99 % of the energy and ranked NAS-Bench-201 cells by their number of
  convolutions, whatever their kernel (A, Kendall tau 0.75 against the FPGA's energy, below FLOPs' 0.87).
- "hierarchy" (Eyeriss-like): every level of the hardware; the outermost moves each weight,
  input and output once, an inner level serves MACs / reuse accesses of each kind (at least one
  per datum), inputs and outputs of a convolution with its kernel window as extra reuse (partial
  sums of a window accumulate in the MAC's register; an input in a PE serves every window position
  over it), as in Eyeriss's row-stationary dataflow.
Words cost their bit width times the level's pJ per bit (weights at the weight width, inputs and
outputs at the activation width, biases at the accumulator width). E_MAC = MACs x (multiply
energy scaled by the product of operand widths x the multiplier's relative power + accumulate
energy scaled by the accumulator width). With zero-skipping hardware, zero weights cost no MAC
and are not moved.

Every other operation moves data too (layers.fuse says what is fused): pooling, element-wise sums,
concatenations and unfused activations and batch norms read their inputs and write their output
once at every level ("hierarchy") or once in DRAM and main memory (A, B); their arithmetic (op_pj: an add
per pooling-window element or summand, a compare per activation, a multiply-add per batch-norm output)
is kept apart from the MACs of conv and linear layers (mac_pj), which is what an approximate
multiplier changes. A fused activation costs its compares and no data; a folded batch norm nothing.
mult_pj is the multiplies alone, a part of mac_pj: the figure the approximate-computing literature
reports (a multiplier's power relative to the exact one), without the accumulate it does not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from torch import nn

from ..errors import ConfigError, check_choice, check_float, check_int
from ._hardware import Hardware, hardware
from ..records.names import DEFAULT_DATAFLOW, DEFAULT_HARDWARE  # noqa: F401 (hw exports them)
from ..layers import LayerShape
from ._shapes import layer_shapes

DATAFLOWS = ("A", "B", "hierarchy")
# what records use: it ranks NAS-Bench-201 cells closest to a measured accelerator (benchmarks/energy_tau.py)


@dataclass(frozen=True)
class LayerBits:
    weights: int = 32
    activations: int = 32
    accumulator: int = 32
    is_float: bool = True  # float32 arithmetic; integer widths otherwise

    def __post_init__(self) -> None:
        for name in ("weights", "activations", "accumulator"):
            check_int(f"bits ({name})", getattr(self, name), minimum=1, maximum=32 if self.is_float else 64)
        if self.is_float and (self.weights, self.activations) != (32, 32):
            raise ConfigError(f"bits: a float layer has 32-bit weights and activations, got {self.weights}/{self.activations}")

    @classmethod
    def integer(cls, bits: int, accumulator: int = 32) -> "LayerBits":
        check_int("bits", bits, minimum=1, maximum=16)
        return cls(bits, bits, accumulator, is_float=False)


FLOAT32 = LayerBits()


@dataclass(frozen=True)
class LayerEnergy:
    name: str
    kind: str
    macs: int
    mac_pj: float  # multiply-accumulates of conv and linear layers
    data_pj: float
    words_by_level: tuple[tuple[str, int], ...]  # words moved at each memory level
    data_pj_by_level: tuple[tuple[str, float], ...]
    op_pj: float = 0.0  # other arithmetic: pooling and sum adds, activation compares, batch-norm multiply-adds
    mult_pj: float = 0.0  # the multiplies of mac_pj (mac_pj less its accumulates)

    @property
    def total_pj(self) -> float:
        return self.mac_pj + self.op_pj + self.data_pj


@dataclass(frozen=True)
class EnergyEstimate:
    hardware: str
    dataflow: str
    unit: str
    layers: tuple[LayerEnergy, ...]

    @property
    def mac_pj(self) -> float:
        return sum(layer.mac_pj for layer in self.layers)

    @property
    def mult_pj(self) -> float:
        return sum(layer.mult_pj for layer in self.layers)

    @property
    def op_pj(self) -> float:
        return sum(layer.op_pj for layer in self.layers)

    @property
    def data_pj(self) -> float:
        return sum(layer.data_pj for layer in self.layers)

    @property
    def total_pj(self) -> float:
        return self.mac_pj + self.op_pj + self.data_pj

    @property
    def data_fraction(self) -> float:
        return self.data_pj / self.total_pj if self.total_pj else 0.0

    def by_level(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for layer in self.layers:
            for name, pj in layer.data_pj_by_level:
                out[name] = out.get(name, 0.0) + pj
        return out


def _op_pj(hw: Hardware, bits: LayerBits) -> float:
    return hw.fp32_add_pj if bits.is_float else hw.add_pj_32 * bits.activations / 32


def mult_energy_pj(hw: Hardware, bits: LayerBits, mult_factor: float = 1.0) -> float:
    """Energy of one multiply at these widths, scaled by the multiplier's relative power."""
    if bits.is_float:
        return (hw.fp32_mac_pj - hw.fp32_add_pj) * mult_factor
    return hw.mult_pj_8x8 * bits.weights * bits.activations / 64 * mult_factor


def mac_energy_pj(hw: Hardware, bits: LayerBits, mult_factor: float = 1.0) -> float:
    """Energy of one multiply-accumulate at these widths; mult_factor scales the multiplier only."""
    add = hw.fp32_add_pj if bits.is_float else hw.add_pj_32 * bits.accumulator / 32
    return mult_energy_pj(hw, bits, mult_factor) + add


def _ops(shape: LayerShape) -> int:
    """Arithmetic operations of a layer that is not a conv or linear layer."""
    if shape.kind == "pool":
        return shape.output_count * shape.kernel_area
    if shape.kind == "add":
        return shape.output_count * max(1, shape.operands - (not shape.fused))  # summands - 1, fused or not
    if shape.kind == "activation":
        return shape.output_count
    if shape.kind == "batchnorm":
        return 0 if shape.fused else 2 * shape.output_count
    return 0


def _io(shape: LayerShape) -> tuple[float, float, float]:
    """(weights, inputs, outputs) moved by an operation with no MACs: each datum once; none if fused."""
    if shape.fused and shape.kind != "add":
        return 0.0, 0.0, 0.0
    params = 2.0 * shape.out_channels if shape.kind == "batchnorm" else 0.0  # scale and shift
    return params, float(shape.input_count), 0.0 if shape.fused else float(shape.output_count)


def _words(shape: LayerShape, dataflow: str, density: float) -> tuple[float, float, float, float]:
    """Main-memory words (weights, biases, inputs, outputs) of one layer under dataflow A or B."""
    if shape.kind not in ("conv", "linear"):
        w, i, o = _io(shape)
        return w, 0.0, i, o
    d, d_in = shape.out_channels, shape.in_channels // shape.groups
    weights = shape.weight_count * density
    if dataflow == "B":
        weights *= shape.out_area + 1
    # one bias word per filter, as both formulas count it
    return weights, float(d), float(d * d_in * shape.in_area), float(d * shape.out_area)


@lru_cache(maxsize=65536)
def layer_energy(
    shape: LayerShape, hw: Hardware, dataflow: str = DEFAULT_DATAFLOW, bits: LayerBits = FLOAT32,
    weight_density: float = 1.0, mult_factor: float = 1.0,
) -> LayerEnergy:
    """Energy of one layer for one image (pure; cached on its arguments)."""
    density = weight_density if hw.skip_zeros else 1.0
    wb, ab, accb = bits.weights, bits.activations, bits.accumulator
    is_mac = shape.kind in ("conv", "linear")
    mac_pj = shape.macs * density * mac_energy_pj(hw, bits, mult_factor) if is_mac else 0.0
    mult_pj = shape.macs * density * mult_energy_pj(hw, bits, mult_factor) if is_mac else 0.0
    op_pj = _ops(shape) * _op_pj(hw, bits)
    words, pj = [], []
    if is_mac:
        w, i, o = shape.weight_count * density, shape.input_count, shape.output_count
    else:
        w, i, o = _io(shape)
    b = shape.out_channels if shape.bias else 0
    macs = shape.macs * density
    if dataflow in ("A", "B"):
        # Sima et al.'s two-level memory on the preset's levels: the formula's words move between its main memory
        # (the global buffer when there are three levels or more; the outermost moves each datum once) and its
        # buffer (the innermost level), which hands every MAC its weight and input; partial sums stay in the MAC
        levels = hw.levels
        main = 1 if len(levels) >= 3 else 0
        fw, fb, fi, fo = _words(shape, dataflow, density)
        moves = [(levels[0], w, b, i, o)] if main else []
        moves.append((levels[main], fw, fb, fi, fo))
        if len(levels) > 1 and macs:
            moves.append((levels[-1], macs, 0.0, macs, 0.0))
        for level, lw, lb, li, lo in moves:
            words.append((level.name, round(lw + lb + li + lo)))
            pj.append((level.name, (lw * wb + lb * accb + (li + lo) * ab) * level.pj_per_bit))
    else:
        for k, level in enumerate(hw.levels):
            if k == 0 or macs == 0:  # outermost level, or no MACs to reuse data for
                lw, li, lo = w, i, o
            else:
                lw = max(w, macs / level.reuse_weights)
                # the window: an output accumulates its kernel window in the MAC's register, and an input
                # fetched into a PE serves the window positions that slide over it (stride 1)
                win = shape.kernel_area if shape.kind == "conv" else 1
                li = max(i, macs / (level.reuse_inputs * win))
                lo = max(o, macs / (level.reuse_outputs * win))
            words.append((level.name, round(lw + b + li + lo)))
            pj.append((level.name, (lw * wb + b * accb + (li + lo) * ab) * level.pj_per_bit))
    return LayerEnergy(shape.name, shape.kind, shape.macs, mac_pj, sum(p for _, p in pj), tuple(words), tuple(pj), op_pj, mult_pj)


def _per_layer(value, name: str, default):  # noqa: ANN001, ANN202
    if isinstance(value, Mapping):
        return value.get(name, default)
    return default if value is None else value


def estimate_energy(
    shapes: Sequence[LayerShape],
    hw: Hardware | str = DEFAULT_HARDWARE,
    dataflow: str = DEFAULT_DATAFLOW,
    *,
    bits: LayerBits | Mapping[str, LayerBits] = FLOAT32,
    weight_density: float | Mapping[str, float] | None = None,
    mult_factor: float | Mapping[str, float] | None = None,
) -> EnergyEstimate:
    """Energy of a list of layers; bits, density and multiplier power may be given per layer name."""
    hw = hardware(hw)
    check_choice("dataflow", dataflow, DATAFLOWS)
    layers = []
    for s in shapes:
        b = _per_layer(bits, s.name, FLOAT32)
        dens = check_float(f"weight density of {s.name}", _per_layer(weight_density, s.name, 1.0),
                           minimum=0.0, maximum=1.0)
        mf = check_float(f"multiplier power factor of {s.name}", _per_layer(mult_factor, s.name, 1.0),
                         minimum=0.0)
        layers.append(layer_energy(s, hw, dataflow, b, dens, mf))
    return EnergyEstimate(hw.name, dataflow, hw.unit, tuple(layers))


def model_energy(model: nn.Module, input_shape: tuple[int, int, int], hw: Hardware | str = DEFAULT_HARDWARE,
                 dataflow: str = DEFAULT_DATAFLOW, **kwargs: object) -> EnergyEstimate:
    """Energy of any model from one traced forward pass (per-layer options keyed by module name)."""
    return estimate_energy(layer_shapes(model, input_shape), hw, dataflow, **kwargs)  # type: ignore[arg-type]


def grouped_total_pj(groups: Sequence[tuple[int, tuple[LayerShape, ...]]], hw: Hardware | str = DEFAULT_HARDWARE,
                     dataflow: str = DEFAULT_DATAFLOW, bits: LayerBits = FLOAT32) -> float:
    """Total energy of (multiplicity, layers) groups, each distinct group priced once and remembered:
    the inner loop of a search that prices thousands of cells built from a few distinct parts."""
    hw = hardware(hw)
    check_choice("dataflow", dataflow, DATAFLOWS)
    prices = _PRICES.setdefault((hw, dataflow, bits), {})
    total = 0.0
    for k, layers in groups:
        pj = prices.get(layers)
        if pj is None:
            if len(prices) > _MAX_PRICES:
                prices.clear()
            pj = prices[layers] = estimate_energy(layers, hw, dataflow, bits=bits).total_pj
        total += k * pj
    return total


_PRICES: dict[tuple[Hardware, str, LayerBits], dict[tuple[LayerShape, ...], float]] = {}
_MAX_PRICES = 65536
