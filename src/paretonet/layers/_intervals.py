"""Interval bound propagation (Gowal et al. 2018): guaranteed bounds of every output over an input box.

Each module maps a box [lo, hi] to a box holding every output it can produce from an input in [lo, hi]:
conv and linear layers as centre +- |W| radius, batch norm (on running statistics) as an element-wise
affine map, monotone non-decreasing element-wise maps and pooling (ReLU, sigmoid, tanh, max and
average pooling, flatten, normalization, bilinear resizing) on both ends, and GELU by its one minimum. A module with its own
`interval_forward(lo, hi)` (a search space's cell, residual block or |x|) says how it combines its parts.
Anything else is refused by name: a bound that silently skipped a layer would certify nothing.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ._modules import Normalize, Resize

# y(x) non-decreasing in every input: the ends of the box map to the ends of the output box
MONOTONE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.Sigmoid, nn.Tanh, nn.Identity, nn.MaxPool2d, nn.AvgPool2d,
            nn.AdaptiveAvgPool2d, nn.Flatten, nn.Dropout, Normalize, Resize)


def _affine_box(lo: torch.Tensor, hi: torch.Tensor, module: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    mid, rad = (hi + lo) / 2, (hi - lo) / 2
    centre = module(mid)
    w = module.weight.abs()
    if isinstance(module, nn.Linear):
        spread = F.linear(rad, w)
    else:
        spread = F.conv2d(rad, w, None, module.stride, module.padding, module.dilation, module.groups)
    return centre - spread, centre + spread


def _batch_norm_box(lo: torch.Tensor, hi: torch.Tensor, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    if bn.training or bn.running_var is None:
        raise ConfigError("IBP: batch norm must be in eval mode with running statistics (call model.eval())")
    scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(bn.running_var + bn.eps)
    shift = (bn.bias if bn.affine else torch.zeros_like(bn.running_mean)) - bn.running_mean * scale
    shape = (1, -1) + (1,) * (lo.dim() - 2)
    scale, shift = scale.view(shape), shift.view(shape)
    mid, rad = (hi + lo) / 2, (hi - lo) / 2
    return scale * mid + shift - scale.abs() * rad, scale * mid + shift + scale.abs() * rad


@lru_cache(maxsize=None)
def _gelu_minimum(approximate: str) -> float:
    """GELU's least value (a hair below it), found on a fine grid of the bracket that holds its minimum."""
    return float(F.gelu(torch.linspace(-0.76, -0.74, 2001, dtype=torch.float64), approximate=approximate).min()) - 1e-6


def _gelu_box(lo: torch.Tensor, hi: torch.Tensor, gelu: nn.GELU) -> tuple[torch.Tensor, torch.Tensor]:
    """GELU falls to its minimum near x = -0.752 and rises after: the upper end is at an end of the box; the
    lower end too, unless the box holds the minimum (bracketed in [-0.76, -0.74] for both GELU forms)."""
    at_lo, at_hi = gelu(lo), gelu(hi)
    ends_low, ends_high = torch.minimum(at_lo, at_hi), torch.maximum(at_lo, at_hi)
    fmin = _gelu_minimum(gelu.approximate)
    holds_min = (lo < -0.74) & (hi > -0.76)
    return torch.where(holds_min, torch.clamp(ends_low, max=fmin), ends_low), ends_high


def interval_bounds(module: nn.Module, lo: torch.Tensor, hi: torch.Tensor, name: str = "model",
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Bounds (lower, upper) of module(x) over every x with lo <= x <= hi (element-wise)."""
    if hasattr(module, "interval_forward"):
        return module.interval_forward(lo, hi)
    if isinstance(module, nn.Sequential):
        for child_name, child in module.named_children():
            lo, hi = interval_bounds(child, lo, hi, f"{name}.{child_name}")
        return lo, hi
    if type(module) in (nn.Conv2d, nn.Linear):
        return _affine_box(lo, hi, module)
    if type(module) in (nn.BatchNorm2d, nn.BatchNorm1d):
        return _batch_norm_box(lo, hi, module)
    if type(module) in MONOTONE:
        return module(lo), module(hi)
    if type(module) is nn.GELU:
        return _gelu_box(lo, hi, module)
    raise ConfigError(f"IBP: layer {name} ({type(module).__name__}) has no interval bounds; supported: conv, linear, "
                      "batch norm, ReLU-like and monotone activations, pooling, flatten, the search spaces' cells "
                      "(certify the float model: quantized and approximate layers are not supported)")


def margin_lower_bounds(model: nn.Module, lo: torch.Tensor, hi: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Lower bounds of logit[y] - logit[j] for every class j (0 at j = y) over the box. Where the model ends in
    a linear layer, the differences of its rows are bounded directly (tighter than subtracting two intervals)."""
    last = model[-1] if isinstance(model, nn.Sequential) and len(model) else None
    if type(last) is nn.Linear:
        lo, hi = interval_bounds(model[:-1], lo, hi)
        mid, rad = (hi + lo) / 2, (hi - lo) / 2
        w, b = last.weight, last.bias if last.bias is not None else torch.zeros(last.out_features)
        wd = w[y].unsqueeze(1) - w.unsqueeze(0)  # (batch, classes, features): row y minus row j
        bd = b[y].unsqueeze(1) - b.unsqueeze(0)
        return torch.einsum("bcf,bf->bc", wd, mid) + bd - torch.einsum("bcf,bf->bc", wd.abs(), rad)
    lo, hi = interval_bounds(model, lo, hi)
    margins = lo.gather(1, y.unsqueeze(1)) - hi
    return margins.scatter(1, y.unsqueeze(1), 0.0)
