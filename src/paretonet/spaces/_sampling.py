"""Seeded sampling and mutation of architectures that fit a given input shape."""

from __future__ import annotations

import numpy as np

from ..errors import ArchitectureError
from ._base import SPACES, Architecture

MAX_TRIES = 1000


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, 0xA4C]))


def sample_architecture(space: str, seed: int, input_shape: tuple[int, int, int] | None = None) -> Architecture:
    """One architecture drawn from `space` with `seed`; with input_shape, only ones that fit it."""
    s = SPACES.get(space)
    rng = _rng(seed)
    for _ in range(MAX_TRIES):
        g = s.sample(rng)
        if input_shape is None or s.fits(g, input_shape):
            return Architecture.of(space, g)
    raise ArchitectureError(f"space {space!r}: no sampled architecture fits input shape {input_shape} in {MAX_TRIES} tries")


def mutate_architecture(arch: Architecture, seed: int, input_shape: tuple[int, int, int] | None = None) -> Architecture:
    """A different architecture one mutation away from `arch`, seeded."""
    s = arch.search_space
    g = arch.decode()
    rng = _rng(seed)
    for _ in range(MAX_TRIES):
        new = s.mutate(g, rng)
        if input_shape is None or s.fits(new, input_shape):
            return Architecture.of(arch.space, new)
    raise ArchitectureError(f"{arch}: no mutation fits input shape {input_shape} in {MAX_TRIES} tries")
