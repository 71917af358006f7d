"""Clean top-1 accuracy and logits, in eval mode, restoring the model's mode afterwards."""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from ..data import Split
from ..layers import eval_mode


def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    with eval_mode(model), torch.no_grad():
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def correct_per_image(model: nn.Module, split: Split, batch_size: int = 1024) -> torch.Tensor:
    """Per image, whether the arg-max logit is the label."""
    return predict_logits(model, split.x, batch_size).argmax(1) == split.y


def accuracy(model: nn.Module, split: Split, batch_size: int = 1024) -> float:
    """Fraction of images whose arg-max logit is the label."""
    if len(split) == 0:
        return float("nan")
    return float(correct_per_image(model, split, batch_size).double().mean())


def images_id(x: torch.Tensor, y: torch.Tensor) -> str:
    """Fingerprint of images and labels in their order: two accuracies with the same id were measured on the
    same images, so their per-image outcomes pair up."""
    h = hashlib.sha256()
    for t in (x, y):
        h.update(str((tuple(t.shape), t.dtype)).encode())
        h.update(t.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]
