"""Modules every part uses: input normalization and resizing inside the model, and an eval-mode context."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


class Normalize(nn.Module):
    """Per-channel (x - mean) / std inside the model, so attacks and noise work in pixel space."""

    costs_nothing = True  # an affine map a deployed network folds into its first layer

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Resize(nn.Module):
    """Bilinear resize to side x side (digits' 8x8 are 4x4-block counts of 32x32 bitmaps)."""

    costs_nothing = True  # counted as the input pipeline's, not priced by the cost models

    def __init__(self, side: int) -> None:
        super().__init__()
        self.side = side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(self.side, self.side), mode="bilinear", align_corners=False)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in eval mode inside the block; its own mode (train or eval) restored after, also on error."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)
