"""Layers without useful gradients, and the two ways around them: BPDA and a differentiable twin.

A NonDifferentiable layer (input rounding here; quantized and approximate layers later) computes
`exact(x)` in its forward pass. Attacks need a gradient, so each such layer also names a
differentiable `surrogate(x)` (identity by default, the straight-through estimator):
- mode "exact":     forward exact, gradient of exact (often zero: gradient masking)
- mode "bpda":      forward exact, gradient of the surrogate (Athalye et al. 2018)
- mode "surrogate": forward and gradient of the surrogate: the differentiable twin used for transfer
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..errors import ConfigError

GRADIENT_MODES = ("exact", "bpda", "surrogate")


class NonDifferentiable(nn.Module):
    """Base class: subclasses implement exact(); override surrogate() when identity is a poor stand-in."""

    gradient_mode: str = "exact"

    def exact(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def surrogate(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gradient_mode == "exact":
            return self.exact(x)
        s = self.surrogate(x)
        if self.gradient_mode == "surrogate":
            return s
        with torch.no_grad():
            y = self.exact(x)
        return s + (y - s).detach()


class RoundInput(NonDifferentiable):
    """Rounds pixels to `levels` steps: a classic gradient-masking defence, used to test the checks."""

    costs_nothing = True  # part of the input pipeline, not of the network the cost models price

    def __init__(self, levels: int = 255) -> None:
        super().__init__()
        self.levels = levels

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x * self.levels) / self.levels


def non_differentiable_layers(model: nn.Module) -> list[NonDifferentiable]:
    return [m for m in model.modules() if isinstance(m, NonDifferentiable)]


def has_gradient_free_layers(model: nn.Module) -> bool:
    return bool(non_differentiable_layers(model))


@contextmanager
def gradient_mode(model: nn.Module, mode: str) -> Iterator[nn.Module]:
    """Temporarily switch every NonDifferentiable layer of `model` to `mode`; restored on exit."""
    if mode not in GRADIENT_MODES:
        raise ConfigError(f"gradient mode: got {mode!r}, expected one of {', '.join(GRADIENT_MODES)}")
    layers = non_differentiable_layers(model)
    before = [m.gradient_mode for m in layers]
    try:
        for m in layers:
            m.gradient_mode = mode
        yield model
    finally:
        for m, b in zip(layers, before):
            m.gradient_mode = b
