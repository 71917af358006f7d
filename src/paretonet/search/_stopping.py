"""Multi-objective early stopping of trained trials: stop a trial at a rung when even an optimistic estimate of
its final objectives is dominated by completed trials.

A trained trial reports at rungs (epochs): its costs (size, energy: measured on its variant, they do not depend
on training) and a rung value, the float model's best validation accuracy so far; at the last rung ("final") the
variant's own test accuracy, and robust accuracy bounded from above by what stands before each attack (nothing is
estimated there). Each objective not yet measured is estimated from the rung value by how the completed trials' final
values followed their values at that rung (a fitted line), optimistically (Judge.estimate). So a trial is stopped
only when even that estimate is dominated by a completed trial. Chosen over
successive halving of Pareto ranks because a rank says nothing of how far a trial is from the front, and a fixed
halving fraction stops trials that could still enter it (benchmarks/early_stopping.py measures the result against
full training).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, check_float, check_int

FINAL = "final"  # the rung after training: the variant's test accuracy, before robustness is attacked
# stop(rung, rung_value, known raw values in objective order with None where unknown) -> True to stop the trial
StopFn = Callable[[str, float, Sequence[float | None]], bool]


@dataclass(frozen=True)
class EarlyStopping:
    rungs: tuple[int, ...] = (1, 2, 4)  # epochs at which a training trial may stop (before the last one)
    warmup: int = 5  # completed trials the lines are fitted to before any estimate is made
    optimism: float = 2.0  # residual standard deviations added to an estimated fraction
    slack: float = 0.02  # added to every estimated fraction: room for a trial better than any seen
    dominators: int = 1  # completed feasible trials that must dominate the optimistic estimate

    def __post_init__(self) -> None:
        if not self.rungs or list(self.rungs) != sorted(set(self.rungs)):
            raise ConfigError(f"rungs: got {','.join(map(str, self.rungs)) or 'none'}, expected increasing epochs")
        for r in self.rungs:
            check_int("rungs", r, minimum=1)
        check_int("warmup", self.warmup, minimum=1)
        check_int("dominators", self.dominators, minimum=1)
        check_float("slack", self.slack, minimum=0.0)
        check_float("optimism", self.optimism, minimum=0.0)


def rung_values(val_accuracy: Sequence[float], rungs: Sequence[int]) -> dict[str, float]:
    """The rung values of one training history: the best validation accuracy up to each rung within it."""
    return {str(r): float(max(val_accuracy[:r])) for r in rungs if r <= len(val_accuracy)}


class Judge:
    """Decides, from the completed trials of a study, whether a running trial can still reach the front."""

    def __init__(self, config: EarlyStopping, directions: Sequence[str], normalize: Callable[[np.ndarray], np.ndarray],
                 values: np.ndarray, feasible: np.ndarray, rungs: Sequence[Mapping[str, float]]) -> None:
        """`values`: raw objective values of the completed trials; `rungs`: each one's rung values."""
        self.config, self.directions, self.normalize = config, list(directions), normalize
        self.values = np.asarray(values, dtype=float).reshape(-1, len(self.directions))
        self.rungs = list(rungs)
        self.points = normalize(self.values[np.asarray(feasible, dtype=bool)]) if len(self.values) else np.zeros((0, 0))
        self.stopped_by: list[int] = []  # indices (into values) of the dominators of the last estimate judged
        self.last_estimate: np.ndarray = np.zeros(0)  # raw optimistic values of the last estimate judged
        self._feasible = np.flatnonzero(np.asarray(feasible, dtype=bool))

    def estimate(self, rung: str, value: float, known: Sequence[float | None]) -> np.ndarray | None:
        """Optimistic raw values: known ones as they are, costs not yet known 0, and every fraction (accuracy, robust
        accuracy) from the rung value by a straight line fitted to the completed trials (their final values against
        their values at this rung), plus `optimism` standard deviations of its residuals and `slack`. None while
        fewer than `warmup` completed trials have the rung (unless every value is known)."""
        if all(k is not None for k in known):  # measured (or bounded from above): nothing to learn
            return np.array(known, dtype=float)
        have = [i for i, r in enumerate(self.rungs) if rung in r]
        if len(have) < self.config.warmup:
            return None
        x = np.array([self.rungs[i][rung] for i in have])
        best = np.array([_optimistic_line(x, self.values[have, j], value, self.config.optimism)
                         for j in range(len(self.directions))]) + self.config.slack
        return np.array([k if k is not None else (min(b, 1.0) if d == "max" else 0.0)
                         for k, b, d in zip(known, best, self.directions)], dtype=float)

    def stop(self, rung: str, value: float, known: Sequence[float | None]) -> bool:
        est = self.estimate(rung, value, known)
        if est is None or not len(self.points):
            return False
        self.last_estimate = est
        p = self.normalize(est)[0]
        dominating = np.all(self.points <= p, axis=1) & np.any(self.points < p, axis=1)
        self.stopped_by = [int(self._feasible[i]) for i in np.flatnonzero(dominating)]
        return len(self.stopped_by) >= self.config.dominators


def _optimistic_line(x: np.ndarray, y: np.ndarray, at: float, optimism: float) -> float:
    """The least-squares line through (x, y) at `at`, plus `optimism` residual standard deviations (n - 2 degrees of
    freedom); a flat line (the mean) when x does not vary."""
    if np.ptp(x) <= 1e-12:
        return float(y.mean() + optimism * y.std(ddof=1))
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    return float(slope * at + intercept + optimism * np.sqrt((residual ** 2).sum() / max(len(x) - 2, 1)))
