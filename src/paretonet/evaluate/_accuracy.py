"""Clean top-1 accuracy and logits, in eval mode, restoring the model's mode afterwards."""

from __future__ import annotations

import torch
from torch import nn

from ..data import Split
from ..layers import eval_mode


def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    with eval_mode(model), torch.no_grad():
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def accuracy(model: nn.Module, split: Split, batch_size: int = 1024) -> float:
    """Fraction of images whose arg-max logit is the label."""
    if len(split) == 0:
        return float("nan")
    logits = predict_logits(model, split.x, batch_size)
    return float((logits.argmax(1) == split.y).double().mean())
