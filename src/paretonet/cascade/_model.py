"""A confidence cascade: stages asked in order, each answering only the images it is sure of.

Stage k answers an image when its confidence (max softmax probability, or the margin between the two
largest probabilities) exceeds the threshold; the last stage answers every image still open. Threshold
0 lets the first stage answer everything, threshold 1 none (a confidence never exceeds 1). A stage may
read a pixelated image (mean over factor x factor blocks, shown at full size), so an image the first stage
is sure of is never read in full.

The routing is a step function of the input, so attacks treat a cascade like any model without useful
gradients (BPDA, transfer and Square): its surrogate routes softly (a sigmoid of the confidence margin
over the threshold), a differentiable twin of the same decision.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_float
from ..layers import NonDifferentiable

CONFIDENCES = ("softmax", "margin")
SOFT_ROUTING_TEMPERATURE = 0.05  # width of the surrogate's sigmoid, in confidence units


def pixelate(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Each factor x factor block replaced by its mean: the image a sensor reading 1/factor^2 of the values gives."""
    if factor == 1:
        return x
    return F.interpolate(F.avg_pool2d(x, factor), scale_factor=factor, mode="nearest")


def confidence(logits: torch.Tensor, kind: str) -> torch.Tensor:
    p = F.softmax(logits, 1)
    if kind == "softmax":
        return p.max(1).values
    top2 = p.topk(2, 1).values
    return top2[:, 0] - top2[:, 1]


class Stage(nn.Module):
    """A member model reading the image pixelated by `factor` (1: the full image)."""

    def __init__(self, model: nn.Module, factor: int = 1) -> None:
        super().__init__()
        self.model, self.factor = model, factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(pixelate(x, self.factor))


class Cascade(NonDifferentiable):
    def __init__(self, models: Sequence[nn.Module], threshold: float, input_shape: tuple[int, int, int], *,
                 pixelate: Sequence[int] | None = None, confidence: str = "softmax") -> None:
        super().__init__()
        factors = tuple(pixelate) if pixelate is not None else (1,) * len(models)
        if len(models) < 2:
            raise ConfigError(f"stages: got {len(models)}, a cascade needs at least two")
        if len(factors) != len(models):
            raise ConfigError(f"pixelate: got {len(factors)} factors for {len(models)} stages")
        check_float("threshold", threshold, minimum=0.0, maximum=1.0)
        if confidence not in CONFIDENCES:
            raise ConfigError(f"confidence: got {confidence!r}, expected one of {', '.join(CONFIDENCES)}")
        _, h, w = input_shape
        for k, f in enumerate(factors):
            if isinstance(f, bool) or not isinstance(f, int) or f < 1 or h % f or w % f:
                raise ConfigError(f"pixelate: stage {k + 1} factor {f!r} does not divide the {h}x{w} input; "
                                  "expected a positive integer dividing both sides")
        self.stages = nn.ModuleList(Stage(m, f) for m, f in zip(models, factors))
        self.threshold, self.confidence_kind, self.input_shape = float(threshold), confidence, tuple(input_shape)
        self._check_classes()

    def _check_classes(self) -> None:
        x = torch.zeros(1, *self.input_shape)
        with torch.no_grad():
            widths = []
            for k, s in enumerate(self.stages):
                was = s.training
                s.eval()
                try:
                    widths.append(s(x).shape[1])
                except RuntimeError as e:
                    raise ConfigError(f"stages: stage {k + 1} does not take input {self.input_shape}: {e}") from None
                finally:
                    s.train(was)
        if len(set(widths)) != 1:
            raise ConfigError(f"stages: class counts differ ({', '.join(map(str, widths))}); every stage must "
                              "classify the same classes")

    @property
    def factors(self) -> tuple[int, ...]:
        return tuple(s.factor for s in self.stages)

    def answers(self, logits: torch.Tensor) -> torch.Tensor:
        """Which images a (non-final) stage answers."""
        if self.threshold == 0.0:
            return torch.ones(len(logits), dtype=torch.bool)
        return confidence(logits, self.confidence_kind) > self.threshold

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, index of the answering stage) per image; later stages run only on the images still open."""
        open_idx = torch.arange(len(x))
        out: torch.Tensor | None = None
        stage_of = torch.full((len(x),), len(self.stages) - 1, dtype=torch.long)
        for k, s in enumerate(self.stages):
            logits = s(x[open_idx])
            if out is None:
                out = logits.new_zeros(len(x), logits.shape[1])
            last = k == len(self.stages) - 1
            done = torch.ones(len(open_idx), dtype=torch.bool) if last else self.answers(logits.detach())
            out = out.index_put((open_idx[done],), logits[done])
            stage_of[open_idx[done]] = k
            open_idx = open_idx[~done]
            if not len(open_idx):
                break
        return out, stage_of

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        return self.route(x)[0]

    def surrogate(self, x: torch.Tensor) -> torch.Tensor:
        """Soft routing: stage k's weight is a sigmoid of (confidence - threshold) over a small temperature."""
        out = self.stages[-1](x)
        for s in reversed(self.stages[:-1]):
            logits = s(x)
            if self.threshold == 0.0:
                w = torch.ones(len(x), 1)
            else:
                w = torch.sigmoid((confidence(logits, self.confidence_kind) - self.threshold)
                                  / SOFT_ROUTING_TEMPERATURE).unsqueeze(1)
            out = w * logits + (1 - w) * out
        return out
