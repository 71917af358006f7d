"""Conv2d and Linear layers whose multiplies go through an 8x8 multiplier table, bit-exactly.

Quantization (tf-approximate convention): unsigned multipliers take per-tensor asymmetric 8-bit
codes x_q, w_q with zero points z_x, z_w; the table multiplies the raw codes and the zero-point
terms are exact integer corrections,
    acc = sum LUT[x_q, w_q] - z_w sum x_q - z_x sum w_q + K z_x z_w,   y = s_x s_w acc + bias.
Signed multipliers take symmetric codes (zero points 0). Padding is the code of a real zero
(z_x), so every window has K products. The activation range comes from calibration.

An ApproxLayer is NonDifferentiable: its forward pass has no gradient; BPDA / straight-through
training use the surrogate, the same layer with exact products on fake-quantized operands.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ...errors import ConfigError
from ...layers import NonDifferentiable
from .._quantize import ActQuant, LayerWrapper, asymmetric_qparams
from ._engines import (
    ENGINES,
    LUT_MAX_K,
    BagEngine,
    Geometry,
    LowRankEngine,
    LutEngine,
    bit_linear_error,
    gather_accumulate,
)
from ._multiplier import Multiplier
from ._native import load_kernel


@dataclass(frozen=True)
class WeightCodes:
    """A layer's weight codes and what the engines derive from them; `key` changes with the weights."""

    key: tuple
    scale: float
    zero: int
    codes: torch.Tensor  # float codes, the weight's shape
    bag: torch.Tensor  # (O, K) int32 codes in Geometry.bag_weights' K order
    sums: torch.Tensor  # (O,) float64: each output's sum of codes


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class ApproxLayer(NonDifferentiable, LayerWrapper):
    """Wraps an nn.Conv2d or nn.Linear; `engine` is one of gather / bag / lut / lowrank / auto (timed once)."""

    def __init__(self, layer: nn.Module, multiplier: Multiplier, engine: str = "auto") -> None:
        super().__init__()
        if isinstance(layer, nn.Conv2d):
            if layer.groups != 1 or layer.padding_mode != "zeros" or isinstance(layer.padding, str):
                raise ConfigError("approximate conv: only groups=1, zero padding given as numbers is supported, "
                                  f"got groups={layer.groups}, padding={layer.padding!r}, mode={layer.padding_mode}")
            self.geometry = Geometry("conv", _pair(layer.kernel_size), _pair(layer.stride), _pair(layer.dilation))
            self.padding = _pair(layer.padding)
        elif isinstance(layer, nn.Linear):
            self.geometry = Geometry("linear")
            self.padding = (0, 0)
        else:
            raise ConfigError(f"approximate layer: got {type(layer).__name__}, expected Conv2d or Linear")
        if engine not in (*ENGINES, "auto"):
            raise ConfigError(f"engine: got {engine!r}, expected one of {', '.join((*ENGINES, 'auto'))}")
        self.layer = layer
        self.multiplier = multiplier
        self.act = ActQuant(8)  # holds the calibrated activation range
        self.engine = engine
        self._table = torch.tensor(multiplier.table)
        self._bag: BagEngine | None = None
        self._lut: LutEngine | None = None
        form = bit_linear_error(multiplier)
        self._lowrank = None if form is None else LowRankEngine(form)
        self.engine_times_s: dict[str, float] = {}
        self._weights: WeightCodes | None = None
        self._probe: torch.Tensor | None = None
        self._code_fault: Callable[[torch.Tensor], torch.Tensor] | None = None
        self._fault_version = 0  # part of the codes' cache key: a new fault is never mistaken for an old one

    def extra_repr(self) -> str:
        return f"multiplier={self.multiplier.name}, engine={self.engine}"

    @property
    def code_fault(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """When set (paretonet.hw faults), rewrites the stored weight codes the multiplies read."""
        return self._code_fault

    @code_fault.setter
    def code_fault(self, fault: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        self._code_fault = fault
        self._fault_version += 1

    # -- quantization ------------------------------------------------------------------------
    def effective_weight(self) -> torch.Tensor:
        w = self.weight_codes()
        return (w.codes - w.zero) * w.scale

    def effective_input(self, x: torch.Tensor) -> torch.Tensor:
        scale, zero = self.input_qparams()
        lo, hi = (-128, 127) if self.multiplier.signed else (0, 255)
        return torch.fake_quantize_per_tensor_affine(x, scale, zero, lo, hi)

    def weight_format(self) -> tuple[int, bool]:
        return 8, self.multiplier.signed

    def input_format(self) -> tuple[int, bool, float, int]:
        return (8, self.multiplier.signed, *self.input_qparams())

    def input_qparams(self) -> tuple[float, int]:
        if self.multiplier.signed:
            if not torch.isfinite(self.act.lo):
                self.act.qparams()  # raises the calibration error
            return max(float(self.act.hi.abs().max()), float(self.act.lo.abs().max()), 1e-8 * 127) / 127, 0
        return self.act.qparams()

    def weight_qparams(self) -> tuple[float, int]:
        w = self.layer.weight.detach()
        if self.multiplier.signed:
            return max(float(w.abs().max()) / 127, 1e-8), 0
        return asymmetric_qparams(float(w.min()), float(w.max()), 8)

    def _codes(self, v: torch.Tensor, scale: float, zero: int) -> torch.Tensor:
        """Integer codes held in float32 (exact): cheaper to feed to conv/matmul than int64."""
        lo, hi = (-128, 127) if self.multiplier.signed else (0, 255)
        return (v / scale).round_().add_(zero).clamp_(lo, hi)  # in place after the one copy

    def codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float, float, int, int]:
        """Activation codes (unpadded), weight codes, scales and zero points."""
        sx, zx = self.input_qparams()
        w = self.weight_codes()
        return self._codes(x.detach(), sx, zx), w.codes, sx, w.scale, zx, w.zero

    def weight_codes(self) -> WeightCodes:
        """The weights' codes, recomputed only when the weights change."""
        key = (*self._weight_fingerprint(), self._fault_version)
        if self._weights is None or self._weights.key != key:
            sw, zw = self.weight_qparams()
            wq = self._codes(self.layer.weight.detach(), sw, zw)
            if self.code_fault is not None:
                wq = self.code_fault(wq)
            bag = self.geometry.bag_weights(wq.to(torch.int32) & 255).contiguous()
            self._weights = WeightCodes(key, sw, zw, wq, bag, wq.reshape(wq.shape[0], -1).double().sum(1))
        return self._weights

    def _weight_fingerprint(self) -> tuple:
        """Changes whenever the weights do, also when they are written through .data (which keeps
        _version) or permuted: their dot product with fixed random numbers is part of it."""
        w = self.layer.weight.detach()
        if self._probe is None or self._probe.shape != w.shape or self._probe.dtype != w.dtype:
            self._probe = torch.rand(w.shape, generator=torch.Generator().manual_seed(0), dtype=w.dtype)
        return (w.data_ptr(), w._version, tuple(w.shape), float(torch.dot(w.reshape(-1), self._probe.reshape(-1))))

    # -- integer accumulation ----------------------------------------------------------------
    def accumulate(self, xq: torch.Tensor, zx: int, engine: str) -> torch.Tensor:
        """The corrected accumulator of the module docstring: exact integers in float64, channels last."""
        w = self.weight_codes()
        zw = w.zero
        if engine == "lowrank":
            if self._lowrank is None:
                raise ConfigError(f"engine 'lowrank': multiplier {self.multiplier.name} has no bit-linear error form; "
                                  "use lut, bag or gather")
            return self._lowrank(xq, w.codes, zx, zw, self.geometry, self.padding)
        out_shape = self.geometry.out_shape(xq, w.codes.shape[0], self.padding)
        if engine == "lut":
            x8, offs, dims = self.geometry.lut_operands(xq, self.padding, zx, self.multiplier.signed)
            acc = self._lut_engine()(x8, offs, dims, w.bag, w.key, zx)
        else:
            xi = self.geometry.pad(xq, self.padding, zx).to(torch.int32) & 255
            if engine == "gather":
                wi = w.codes.to(torch.int32) & 255
                acc = gather_accumulate(self._table, self.geometry.patches(xi), wi.reshape(wi.shape[0], -1))
            else:
                if self._bag is None:
                    self._bag = BagEngine(self._table)
                acc = self._bag(self.geometry.index_chunks(xi), w.bag, w.key)
        acc = acc.double().reshape(out_shape)
        if zw:  # window sums < 2^24: exact in float32
            acc.sub_(self.geometry.window_sums(xq, self.padding, zx).double(), alpha=zw)
        if zx:
            acc.sub_(self._weight_correction(w, zx))
        return acc

    @staticmethod
    def _weight_correction(w: WeightCodes, zx: int) -> torch.Tensor:
        """Per output, the zero-point terms without x: z_x sum w_q - K z_x z_w (exact integers)."""
        return zx * w.sums - w.bag.shape[1] * zx * w.zero

    def lut_available(self) -> bool:
        """The compiled engine can run this layer: a C compiler built it and K fits its uint32 sums."""
        return self.layer.weight[0].numel() <= LUT_MAX_K and load_kernel() is not None

    def _lut_engine(self) -> LutEngine:
        if self._lut is None:
            if not self.lut_available():
                raise ConfigError(f"engine 'lut': needs a C compiler and K <= {LUT_MAX_K} "
                                  f"(K = {self.layer.weight[0].numel()}); use bag or gather")
            self._lut = LutEngine(self._table)
        return self._lut

    def accumulator(self, x: torch.Tensor, engine: str | None = None) -> torch.Tensor:
        """The corrected integer accumulator as int64 (channels last), by `engine` or the layer's."""
        engine = engine or self._engine_for(x)
        xq, _, _, _, zx, _ = self.codes(x)
        return self.accumulate(xq, zx, engine).to(torch.int64)

    def _engine_for(self, x: torch.Tensor) -> str:
        """Fixed engine, or (auto) time each fast engine's whole forward on this batch (best of two,
        warm) and keep the fastest: the compiled lut kernel when it is available, else bag; lowrank
        where it applies."""
        if self.engine == "auto":
            candidates = ["lut" if self.lut_available() else "bag"]
            candidates += ["lowrank"] if self._lowrank is not None else []
            for name in candidates if len(candidates) > 1 else ():
                self._forward(x, name)  # warm-up: builds the stacked table once
                times = []
                for _ in range(2):
                    start = time.perf_counter()
                    self._forward(x, name)
                    times.append(time.perf_counter() - start)
                self.engine_times_s[name] = min(times)
            self.engine = min(candidates, key=lambda n: self.engine_times_s.get(n, 0.0))
        return self.engine

    # -- forward -----------------------------------------------------------------------------
    def exact(self, x: torch.Tensor) -> torch.Tensor:
        if self.act.observing:
            self.act(x)
            return self.layer(x)
        return self._forward(x, self._engine_for(x))

    def _forward(self, x: torch.Tensor, engine: str) -> torch.Tensor:
        bias = self.layer.bias
        if engine == "lut" and x.dtype == torch.float32 and (bias is None or bias.dtype == torch.float32):
            return self._lut_forward(x)
        xq, _, sx, sw, zx, _ = self.codes(x)
        return self._output(self.accumulate(xq, zx, engine), sx, sw)

    def _lut_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The lut engine end to end in the compiled kernel: quantizing the input and writing the
        output use the same operations as codes() and _output(), so the bits are the same."""
        sx, zx = self.input_qparams()
        w = self.weight_codes()
        engine = self._lut_engine()
        x8, offs, dims, window = engine.quantize(x.detach(), self.geometry, self.padding, sx, zx, self.multiplier.signed,
                                                 window_sums=bool(w.zero))
        bias = None if self.layer.bias is None else self.layer.bias.detach()
        y = engine.output(x8, offs, dims, w.bag, w.key, zx, window, w.zero, self._weight_correction(w, zx),
                          sx * w.scale, bias)
        return self._layout(y.reshape(self.geometry.out_shape(x, w.bag.shape[0], self.padding)))

    def _output(self, acc: torch.Tensor, sx: float, sw: float) -> torch.Tensor:
        y = (acc * (sx * sw)).to(torch.float32)
        if self.layer.bias is not None:
            y = y + self.layer.bias.detach()
        return self._layout(y)

    def _layout(self, y: torch.Tensor) -> torch.Tensor:
        """Channels-last results as the wrapped layer's output: (N, O, Ho, Wo) views for conv."""
        return y.permute(0, 3, 1, 2) if self.geometry.kind == "conv" else y

    def surrogate(self, x: torch.Tensor) -> torch.Tensor:
        """Exact products of fake-quantized operands: straight-through gradients for x and the weights."""
        sx, zx = self.input_qparams()
        sw, zw = self.weight_qparams()
        lo, hi = (-128, 127) if self.multiplier.signed else (0, 255)
        xf = torch.fake_quantize_per_tensor_affine(x, sx, zx, lo, hi)
        wf = torch.fake_quantize_per_tensor_affine(self.layer.weight, sw, zw, lo, hi)
        return torch.func.functional_call(self.layer, {"weight": wf}, (xf,), strict=False)

    def integer_reference(self, x: torch.Tensor) -> torch.Tensor:
        """Slow reference of the whole layer: int64 gather of every product, then the same output formula."""
        xq, _, sx, sw, zx, _ = self.codes(x)
        return self._output(self.accumulate(xq, zx, "gather"), sx, sw)
