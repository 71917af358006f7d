"""Noisy computation (analog and in-memory accelerators), a fresh draw on every forward pass from one
seeded generator, injected into the compute layers with hooks.

- weights: Gaussian noise on the weights the layer computes with (after quantization), std relative
  to the layer's largest |w| (additive) or to each weight (multiplicative). Applied by linearity,
  layer(x; w + n) = layer(x; w) + layer(x; n) without the bias, so it works on every kind of layer.
- outputs: Gaussian noise on the MAC outputs (before the activation), std relative to the layer's
  output range: max - min of its clean outputs on calibration images (`output_ranges`); without
  ranges, the range of the batch itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_float
from ._compute import compute_layers, select_layers, wrapped_layer
from ._quantize import LayerWrapper


@dataclass(frozen=True)
class NoiseModel:
    """Gaussian computation noise; label 'weights:0.05+outputs:0.1' ('weights-rel' multiplicative)."""

    weights: float = 0.0  # std relative to the layer's max |w| (additive) or to each weight (multiplicative)
    multiplicative: bool = False
    outputs: float = 0.0  # std relative to the layer's output range
    layers: tuple[str, ...] = ()  # empty: every compute layer

    def __post_init__(self) -> None:
        check_float("weight noise", self.weights, minimum=0.0)
        check_float("output noise", self.outputs, minimum=0.0)

    @property
    def is_zero(self) -> bool:
        return self.weights == 0 and self.outputs == 0

    @property
    def label(self) -> str:
        parts = [f"{'weights-rel' if self.multiplicative else 'weights'}:{self.weights:g}"] if self.weights else []
        parts += [f"outputs:{self.outputs:g}"] if self.outputs or not parts else []
        return "+".join(parts) + (f"@{'+'.join(self.layers)}" if self.layers else "")

    @classmethod
    def parse(cls, text: str) -> "NoiseModel":
        body, _, layers = text.partition("@")
        kwargs: dict = {"layers": tuple(n for n in layers.split("+") if n)}
        for part in body.split("+"):
            kind, _, value = part.partition(":")
            if kind not in ("weights", "weights-rel", "outputs") or not value:
                raise ConfigError(f"noise: got {text!r}, expected parts such as weights:0.05, weights-rel:0.05 or "
                                  "outputs:0.1 joined by '+' (optionally @layer+layer)")
            try:
                level = float(value)
            except ValueError:
                raise ConfigError(f"noise: got {text!r}; {value!r} is not a number") from None
            if kind == "outputs":
                kwargs["outputs"] = level
            else:
                kwargs.update(weights=level, multiplicative=kind == "weights-rel")
        return cls(**kwargs)


def _effective_weight(m: nn.Module) -> torch.Tensor:
    """The weights the layer multiplies with: after quantization, as codes * scale."""
    return m.effective_weight() if isinstance(m, LayerWrapper) else m.weight.detach()


def _effective_input(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return m.effective_input(x) if isinstance(m, LayerWrapper) else x


def _multiply(inner: nn.Module, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return inner._conv_forward(x, w, None) if isinstance(inner, nn.Conv2d) else F.linear(x, w)


def output_ranges(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> dict[str, float]:
    """max - min of every compute layer's clean output over `images`: the scale of MAC-output noise."""
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    handles = []
    for name, m in compute_layers(model).items():
        def hook(module: nn.Module, args: tuple, out: torch.Tensor, name: str = name) -> None:
            lo[name] = min(lo.get(name, math.inf), float(out.min()))
            hi[name] = max(hi.get(name, -math.inf), float(out.max()))
        handles.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                model(images[i : i + batch_size])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {n: hi[n] - lo[n] for n in lo}


@contextmanager
def noisy(model: nn.Module, noise: NoiseModel, seed: int,
          ranges: Mapping[str, float] | None = None) -> Iterator[nn.Module]:
    """Inside the block every forward pass of `model` computes with a fresh draw of `noise`."""
    layers = select_layers(model, noise.layers, "noise")
    g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 0x401]).generate_state(1)[0]))
    handles = []
    for name, m in layers.items() if not noise.is_zero else ():
        def hook(module: nn.Module, args: tuple, out: torch.Tensor, name: str = name) -> torch.Tensor:
            if noise.weights:
                w = _effective_weight(module)
                eps = torch.randn(w.shape, generator=g)
                n = noise.weights * (w * eps if noise.multiplicative else w.abs().max() * eps)
                out = out + _multiply(wrapped_layer(module), _effective_input(module, args[0]), n)
            if noise.outputs:
                span = ranges[name] if ranges is not None else float(out.detach().max() - out.detach().min())
                out = out + noise.outputs * span * torch.randn(out.shape, generator=g)
            return out
        handles.append(m.register_forward_hook(hook))
    try:
        yield model
    finally:
        for h in handles:
            h.remove()
