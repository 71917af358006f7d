"""Seed variance: one architecture trained with k seeds; how often two architectures swap ranks.

One seed can invert the robustness ranking of two architectures, so results carry mean, std,
min, max and a 95 % t-interval together with the number of seeds and images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1); 0 for one value
    min: float
    max: float
    ci95_low: float
    ci95_high: float


def summarize(values: Sequence[float]) -> Summary:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ConfigError("seeds: got no values to summarize, expected at least one")
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if v.size > 1 else 0.0
    if v.size > 1:
        from scipy.stats import t

        half = float(t.ppf(0.975, v.size - 1)) * std / math.sqrt(v.size)
    else:
        half = float("nan")
    return Summary(int(v.size), mean, std, float(v.min()), float(v.max()), mean - half, mean + half)


@dataclass(frozen=True)
class SeedVariance:
    architecture: str
    seeds: tuple[int, ...]
    n_images: int
    robustness: str  # e.g. "fast@0.1"
    clean_values: tuple[float, ...]
    robust_values: tuple[float, ...]
    clean: Summary
    robust: Summary


@dataclass(frozen=True)
class RankingFlips:
    """How often per-seed results order two architectures against the order of their means."""

    better_on_average: str
    paired_flip_rate: float  # over seeds s: A_s vs B_s
    cross_flip_rate: float  # over all (seed i of A, seed j of B) pairs


def ranking_flips(a: SeedVariance, b: SeedVariance) -> RankingFlips:
    if a.seeds != b.seeds:
        raise ConfigError(f"seeds: ranking flips need the same seeds, got {a.seeds} and {b.seeds}")
    ra, rb = np.array(a.robust_values), np.array(b.robust_values)
    sign = np.sign(ra.mean() - rb.mean()) or 1.0
    paired = float(np.mean(np.sign(ra - rb) != sign))
    cross = float(np.mean(np.sign(ra[:, None] - rb[None, :]) != sign))
    return RankingFlips(a.architecture if sign > 0 else b.architecture, paired, cross)
