"""Fake quantization of weights and activations, per layer: post-training and quantization-aware.

Built on PyTorch's fake-quantize ops, whose backward pass is the straight-through estimator, so
the same model trains (QAT) and evaluates. Weights: symmetric signed, per output channel or per
tensor, scale from the current max |w|. Activations entering each conv / linear layer:
asymmetric unsigned per tensor, range from calibration. Activation quantizers are
NonDifferentiable layers, so the robustness evaluation scores a quantized model with BPDA,
transfer from its float twin and Square, never with plain white-box gradients.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError, check_int
from ..layers import NonDifferentiable, eval_mode

QUANTIZABLE = (nn.Conv2d, nn.Linear)


class ActQuant(NonDifferentiable):
    """Asymmetric unsigned per-tensor fake quantization; the range is set by calibration."""

    costs_nothing = True  # the layer it feeds reads the codes: their width is priced there

    def __init__(self, bits: int, fixed_range: float | None = None) -> None:
        super().__init__()
        self.bits = bits
        self.register_buffer("lo", torch.tensor(float("inf") if fixed_range is None else -fixed_range))
        self.register_buffer("hi", torch.tensor(float("-inf") if fixed_range is None else fixed_range))
        self.fixed = fixed_range is not None  # a constant range (QAT with constant scales): calibration leaves it
        self.observing = False

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            self.lo = torch.minimum(self.lo, x.detach().min())
            self.hi = torch.maximum(self.hi, x.detach().max())
            return x
        scale, zero_point = self.qparams()
        return torch.fake_quantize_per_tensor_affine(x, scale, zero_point, 0, 2**self.bits - 1)

    def qparams(self) -> tuple[float, int]:
        """(scale, zero point) of the calibrated range; zero is always representable."""
        if not torch.isfinite(self.lo):
            raise ConfigError("activation quantizer used before calibration: call calibrate(model, images)")
        return asymmetric_qparams(float(self.lo), float(self.hi), self.bits)


def asymmetric_qparams(lo: float, hi: float, bits: int) -> tuple[float, int]:
    levels = 2**bits - 1
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max((hi - lo) / levels, 1e-8)
    return scale, int(min(max(round(-lo / scale), 0), levels))


def quantize_weight(w: torch.Tensor, bits: int, per_channel: bool, weight_range: float | None = None) -> torch.Tensor:
    """Symmetric signed fake quantization with a straight-through gradient; with `weight_range` the scale
    is the constant weight_range / (2^(bits-1) - 1) instead of following max |w|."""
    qmax = 2 ** (bits - 1) - 1
    if bits == 1:  # sign-magnitude: {-s, +s}
        scale = w.abs().mean(dim=tuple(range(1, w.dim())), keepdim=True) if per_channel else w.abs().mean()
        return w + (torch.sign(w) * scale - w).detach()
    if weight_range is not None:
        return torch.fake_quantize_per_tensor_affine(w, weight_range / qmax, 0, -qmax - 1, qmax)
    if per_channel:
        scale = (w.detach().abs().amax(dim=tuple(range(1, w.dim()))) / qmax).clamp_min(1e-8)
        zero = torch.zeros(w.shape[0], dtype=torch.int32)
        return torch.fake_quantize_per_channel_affine(w, scale, zero, 0, -qmax - 1, qmax)
    scale = max(float(w.detach().abs().max()) / qmax, 1e-8)
    return torch.fake_quantize_per_tensor_affine(w, scale, 0, -qmax - 1, qmax)


def weight_codes(w: torch.Tensor, bits: int, per_channel: bool,
                 weight_range: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The integer codes (held in float) and scale(s) quantize_weight stores: w ~ codes * scale.
    1-bit codes are the signs -1 / +1."""
    w = w.detach()
    dims = tuple(range(1, w.dim()))
    if bits == 1:
        scale = w.abs().mean(dim=dims, keepdim=True) if per_channel else w.abs().mean()
        return torch.where(w < 0, -1.0, 1.0), scale
    qmax = 2 ** (bits - 1) - 1
    if weight_range is not None:
        scale = torch.tensor(weight_range / qmax)
    elif per_channel:
        scale = (w.abs().amax(dim=dims, keepdim=True) / qmax).clamp_min(1e-8)
    else:
        scale = (w.abs().max() / qmax).clamp_min(1e-8)
    return (w * (1.0 / scale)).round().clamp(-qmax - 1, qmax), scale


class LayerWrapper:
    """Marks a module that computes with a wrapped conv/linear layer `self.layer` in integer codes (quantized
    or approximate), and says what noise and fault injection need of it."""

    layer: nn.Module

    def effective_weight(self) -> torch.Tensor:  # pragma: no cover - abstract
        """The weights the layer multiplies with, as codes * scale."""
        raise NotImplementedError

    def effective_input(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """`x` as the layer reads it: quantized to its input codes."""
        raise NotImplementedError

    def weight_format(self) -> tuple[int, bool]:  # pragma: no cover - abstract
        """(width, signed) of the stored weight codes."""
        raise NotImplementedError

    def input_format(self) -> tuple[int, bool, float, int]:  # pragma: no cover - abstract
        """(width, signed, scale, zero point) of the input codes."""
        raise NotImplementedError


class QuantLayer(LayerWrapper, nn.Module):
    """A conv or linear layer with fake-quantized input activations and weights. `weight_range` and
    `act_range` fix the scales to constants (QAT with constant scaling factors). `code_fault`, when set
    (paretonet.hw faults), rewrites the stored weight codes: the layer then computes with codes * scale."""

    def __init__(self, layer: nn.Module, weight_bits: int, act_bits: int, per_channel: bool,
                 weight_range: float | None = None, act_range: float | None = None) -> None:
        super().__init__()
        self.layer = layer
        self.weight_bits = weight_bits
        self.act_bits = act_bits
        self.per_channel = per_channel
        self.weight_range = weight_range
        self.act = ActQuant(act_bits, act_range)
        self.code_fault: Callable[[torch.Tensor], torch.Tensor] | None = None

    def quantized_weight(self) -> torch.Tensor:
        if self.code_fault is not None:
            codes, scale = weight_codes(self.layer.weight, self.weight_bits, self.per_channel, self.weight_range)
            return self.code_fault(codes) * scale
        return quantize_weight(self.layer.weight, self.weight_bits, self.per_channel, self.weight_range)

    def effective_weight(self) -> torch.Tensor:
        return self.quantized_weight().detach()

    def effective_input(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x)

    def weight_format(self) -> tuple[int, bool]:
        return self.weight_bits, True

    def input_format(self) -> tuple[int, bool, float, int]:
        return (self.act_bits, False, *self.act.qparams())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # functional_call runs the wrapped layer itself, so profiling hooks see it
        return torch.func.functional_call(self.layer, {"weight": self.quantized_weight()}, (self.act(x),), strict=False)


@dataclass(frozen=True)
class QuantSpec:
    """Bits per layer: one width for all, or a mapping layer name -> width (unlisted layers stay float)."""

    weight_bits: int | Mapping[str, int] = 8
    act_bits: int | Mapping[str, int] | None = None  # None: same as the weights
    per_channel: bool = True
    weight_range: float | None = None  # constant weight scale range (QAT with constant scaling factors)
    act_range: float | None = None  # constant activation range [-act_range, act_range]


def _bits_for(value: int | Mapping[str, int] | None, name: str, fallback: int | None) -> int | None:
    if value is None:
        return fallback
    if isinstance(value, Mapping):
        return value.get(name)
    return value


def quantizable_layers(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, QUANTIZABLE)]


def quantize_model(model: nn.Module, spec: QuantSpec, calibration: torch.Tensor | None = None) -> nn.Module:
    """A fake-quantized copy of `model`; with calibration images its activation ranges are set."""
    names = quantizable_layers(model)
    for mapping in (spec.weight_bits, spec.act_bits):
        if isinstance(mapping, Mapping):
            unknown = sorted(set(mapping) - set(names))
            if unknown:
                raise ConfigError(f"bits: unknown layer(s) {', '.join(unknown)}; quantizable layers: {', '.join(names)}")
            for n, b in mapping.items():
                check_int(f"bits of layer {n}", b, minimum=1, maximum=16)
        elif mapping is not None:
            check_int("bits", mapping, minimum=1, maximum=16)
    q = copy.deepcopy(model)
    for name in names:
        wb = _bits_for(spec.weight_bits, name, None)
        if wb is None:
            continue
        ab = _bits_for(spec.act_bits, name, wb)
        parent_name, _, child = name.rpartition(".")
        parent = q.get_submodule(parent_name) if parent_name else q
        setattr(parent, child, QuantLayer(getattr(parent, child), wb, ab or wb, spec.per_channel,
                                          spec.weight_range, spec.act_range))
    if calibration is not None:
        calibrate(q, calibration)
    return q


def calibrate(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> nn.Module:
    """Set every activation quantizer's range to the min/max it sees on `images` (post-training)."""
    quantizers = [m for m in model.modules() if isinstance(m, ActQuant) and not m.fixed]
    with eval_mode(model):
        try:
            for m in quantizers:
                m.lo.fill_(float("inf"))
                m.hi.fill_(float("-inf"))
                m.observing = True
            with torch.no_grad():
                for i in range(0, len(images), batch_size):
                    model(images[i : i + batch_size])
        finally:
            for m in quantizers:
                m.observing = False
    return model
