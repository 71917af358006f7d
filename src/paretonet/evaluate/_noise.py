"""Accuracy under random input noise: a curve per model, several seeded draws per level."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, check_float, check_int
from ..layers import eval_mode

NOISE_KINDS = ("gaussian", "uniform", "salt-pepper")


@dataclass(frozen=True)
class NoisePoint:
    kind: str
    level: float  # gaussian: std; uniform: half-width; salt-pepper: fraction of pixels
    mean_accuracy: float
    std_accuracy: float
    draws: int


def add_noise(x: torch.Tensor, kind: str, level: float, generator: torch.Generator) -> torch.Tensor:
    """x plus one draw of noise, clipped to [0, 1]."""
    if kind == "gaussian":
        noisy = x + level * torch.randn(x.shape, generator=generator)
    elif kind == "uniform":
        noisy = x + level * (2 * torch.rand(x.shape, generator=generator) - 1)
    elif kind == "salt-pepper":
        u = torch.rand(x.shape, generator=generator)
        noisy = x.clone()
        noisy[u < level / 2] = 0.0
        noisy[(u >= level / 2) & (u < level)] = 1.0
    else:
        raise ConfigError(f"noise: got {kind!r}, expected one of {', '.join(NOISE_KINDS)}")
    return noisy.clamp(0.0, 1.0)


def noise_robustness(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, kind: str, levels: tuple[float, ...],
    *, draws: int = 5, seed: int = 0, batch_size: int = 1000,
) -> tuple[NoisePoint, ...]:
    """Mean and std of accuracy over `draws` noise draws at each level."""
    if kind not in NOISE_KINDS:
        raise ConfigError(f"noise: got {kind!r}, expected one of {', '.join(NOISE_KINDS)}")
    check_int("draws", draws, minimum=1)
    for level in levels:
        check_float("noise level", level, minimum=0.0, maximum=1.0 if kind == "salt-pepper" else None)
    points = []
    with eval_mode(model):
        for li, level in enumerate(levels):
            g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, NOISE_KINDS.index(kind), li]).generate_state(1)[0]))
            accs = []
            for _ in range(draws):
                noisy = add_noise(x, kind, level, g)
                with torch.no_grad():
                    pred = torch.cat([model(noisy[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
                accs.append(float((pred == y).double().mean()))
            a = np.array(accs)
            points.append(NoisePoint(kind, float(level), float(a.mean()), float(a.std(ddof=1)) if draws > 1 else 0.0, draws))
    return tuple(points)


def parse_noise_spec(text: str) -> tuple[str, tuple[float, ...]]:
    """'gaussian:0.1,0.2' -> ("gaussian", (0.1, 0.2))."""
    kind, sep, rest = text.partition(":")
    if not sep or kind not in NOISE_KINDS:
        raise ConfigError(f"--noise: got {text!r}, expected <kind>:<level>[,<level>...] with kind in {', '.join(NOISE_KINDS)}")
    try:
        levels = tuple(float(v) for v in rest.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"--noise: got {text!r}, levels must be numbers") from None
    if not levels:
        raise ConfigError(f"--noise: got {text!r}, expected at least one level")
    return kind, levels
