"""Variance maps: how much each neuron's output varies when the input is noisy.

For every image, `draws` copies with Gaussian noise N(0, sigma^2) added (pixels in [0, 1]); the variance
over the draws of every output of every compute layer (conv: each channel at each position; linear: each
feature), averaged over the images. One map per layer (channels x positions), and per layer the mean and
largest variance and the mean variance relative to the mean squared clean output (how loud the noise is
against the signal there). Comparing two models (plain vs noise-trained, scratch vs fine-tuned) shows
where one of them damps the noise and the other passes it on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, check_float, check_int
from ..hw import compute_layers, layer_names
from ..layers import eval_mode


@dataclass(frozen=True)
class LayerVariance:
    layer: str  # readable name (conv1, fc1, classifier)
    shape: tuple[int, ...]  # one image's output of the layer
    variance: np.ndarray  # (channels, positions): mean over images of the variance over draws
    mean_variance: float
    max_variance: float
    relative_variance: float  # mean variance / mean squared clean output

    def to_dict(self) -> dict:
        return {"layer": self.layer, "shape": list(self.shape), "mean_variance": self.mean_variance,
                "max_variance": self.max_variance, "relative_variance": self.relative_variance,
                "map": self.variance.tolist()}


def _as_map(t: torch.Tensor) -> torch.Tensor:
    """(batch, C, H, W) -> (batch, C, H*W); (batch, F) -> (batch, F, 1)."""
    return t.flatten(2) if t.dim() > 2 else t.unsqueeze(2)


def variance_maps(model: nn.Module, x: torch.Tensor, sigma: float, draws: int = 50, seed: int = 0) -> list[LayerVariance]:
    """Per compute layer, the variance of every output over `draws` noisy copies of each image of `x`."""
    check_float("sigma", sigma, minimum=0.0)
    check_int("draws", draws, minimum=2)
    if len(x) == 0:
        raise ConfigError("images: got 0 images, expected at least 1")
    layers = compute_layers(model)
    names = layer_names(model)
    captured: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda _m, _i, out, n=n: captured.__setitem__(n, out.detach()))
             for n, m in layers.items()]
    g = torch.Generator().manual_seed(seed)
    var_sum: dict[str, torch.Tensor] = {}
    square_sum: dict[str, torch.Tensor] = {}
    try:
        with eval_mode(model), torch.no_grad():
            for i in range(len(x)):
                model(x[i:i + 1])
                clean = {n: _as_map(t)[0] for n, t in captured.items()}
                noisy = x[i:i + 1] + sigma * torch.randn((draws, *x.shape[1:]), generator=g)
                model(noisy)
                for n, t in captured.items():
                    v = _as_map(t).double().var(0, unbiased=True)
                    var_sum[n] = var_sum.get(n, 0) + v
                    square_sum[n] = square_sum.get(n, 0) + clean[n].double() ** 2
    finally:
        for h in hooks:
            h.remove()
    out = []
    for n in layers:
        v = (var_sum[n] / len(x)).numpy()
        signal = float((square_sum[n] / len(x)).mean())
        shape = tuple(captured[n].shape[1:])
        out.append(LayerVariance(names[n], shape, v, float(v.mean()), float(v.max()),
                                 float(v.mean()) / signal if signal > 0 else float("nan")))
    return out
