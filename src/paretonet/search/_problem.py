"""What the search loop needs of an evaluator (the table or training), and the candidate pool guidance screens.

A problem names its objectives and constraints, offers Optuna parameter distributions, turns a
trial's parameters into a candidate (or None: the table lacks it, the network does not fit the
input), evaluates a candidate into an Evaluation, and maps raw objective values into the
normalized minimization space in which fronts and hypervolumes are computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ._spec import Constraint, ObjectiveSpec


@dataclass(frozen=True)
class Evaluation:
    key: str  # what was evaluated (architecture, or architecture + variant): the same key gives the same numbers
    values: tuple[float, ...]  # raw objective values, in the problem's objective order
    violations: tuple[float, ...]  # per constraint, 0 when satisfied (Optuna's convention)
    attrs: dict[str, Any] = field(default_factory=dict)  # stored with the trial: architecture, variant, Record
    stopped_at: str | None = None  # the rung an early-stopped trial ended at (then values are empty)


@dataclass(frozen=True, eq=False)
class Pool:
    """Candidates known before any evaluation: their parameters, surrogate features and free objectives."""

    params: tuple[dict[str, Any], ...]
    keys: tuple[str, ...]
    names: list[str]  # feature names
    features: np.ndarray  # (candidates, features)
    known: np.ndarray  # (candidates, objectives), normalized min-space values; only the `free` columns are read
    free: np.ndarray  # (objectives,) bool: known for every candidate without evaluating it
    cost: np.ndarray  # (candidates,) what the warm start bins by (a free cost, or a size feature)
    score: np.ndarray  # (candidates,) promise before evaluation (zero-cost proxies), higher is better
    # (candidates,) candidates with one id compute the same function (isomorphic cells, the same variant): their
    # results differ by training noise only. None: every candidate is its own
    group: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {k: i for i, k in enumerate(self.keys)})


class Problem(Protocol):
    objectives: tuple[ObjectiveSpec, ...]
    constraints: tuple[Constraint, ...]

    @property
    def reference_point(self) -> np.ndarray: ...

    def normalize(self, values: np.ndarray) -> np.ndarray: ...

    def distributions(self) -> dict: ...

    def candidate(self, params: dict[str, Any]) -> Any | None: ...

    def key(self, candidate: Any) -> str: ...

    def evaluate(self, candidate: Any, stop: Any = None, rungs: tuple[int, ...] = ()) -> Evaluation: ...

    def pool(self, seed: int) -> Pool: ...


def proxy_score(features: np.ndarray, names: list[str]) -> np.ndarray:
    """Mean rank over the zero-cost proxies (not FLOPs/params): higher is more promising."""
    cols = [i for i, n in enumerate(names) if n.startswith("proxy_") and n not in ("proxy_flops", "proxy_params")]
    if not cols:
        return np.zeros(len(features))
    ranks = [np.argsort(np.argsort(np.nan_to_num(features[:, i], nan=-np.inf))) for i in cols]
    return np.mean(ranks, axis=0)


def group_ids(names: list[str] | tuple[str, ...]) -> np.ndarray:
    """One integer per name, equal for equal names (e.g. Architecture.canonical() of each candidate)."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(n, len(ids)) for n in names], dtype=int)
