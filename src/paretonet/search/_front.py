"""Pareto fronts and hypervolume (moocore, exact) in one normalized minimization space."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._spec import ObjectiveSpec


def to_min_space(values: np.ndarray, specs: Sequence[ObjectiveSpec], scale: np.ndarray) -> np.ndarray:
    """Objectives as columns, each multiplied into minimization form and divided by its scale."""
    signs = np.array([s.sign for s in specs])
    return np.asarray(values, dtype=float) * signs / scale


def nondominated(points: np.ndarray) -> np.ndarray:
    """Mask of the non-dominated rows (minimization; of equal points one is kept)."""
    import moocore

    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    return moocore.is_nondominated(points)


def hypervolume(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume dominated by `points` (minimization) up to `ref`; points beyond ref add nothing."""
    import moocore

    pts = np.asarray(points, dtype=float)
    pts = pts[np.all(pts < ref, axis=1)] if len(pts) else pts
    return float(moocore.hypervolume(pts, ref=ref)) if len(pts) else 0.0
