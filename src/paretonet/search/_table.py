"""The table evaluator: objectives looked up in a tabular benchmark, so a search costs no training.

Proxies and device costs are free (FREE_PREFIXES): every architecture's value is known before any
evaluation. The others (accuracies) are only known for the architectures a search evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..bench import Bench
from ..errors import ConfigError
from ..records import Objective, Record, versions
from ._spec import Constraint, ObjectiveSpec, parse_constraint, parse_objectives

NB201_EDGES = 6
# Known for every architecture before any evaluation: zero-cost proxies (FLOPs and params among them in
# NAS-Bench-201) and device costs, which a lookup table or a latency model gives for free.
FREE_PREFIXES = ("proxy_", "latency_ms@", "energy_mj@")


@dataclass(frozen=True, eq=False)
class TableProblem:
    bench: Bench
    objectives: tuple[ObjectiveSpec, ...]
    constraints: tuple[Constraint, ...] = ()
    values: np.ndarray = field(init=False, repr=False)  # (architectures, objectives), raw units
    scale: np.ndarray = field(init=False, repr=False)  # divides each objective into [0, 1]-ish
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        values = np.stack([self.bench.columns[s.name] for s in self.objectives], axis=1).astype(float)
        finite = np.all(np.isfinite(values), axis=1)
        if not finite.any():
            raise ConfigError(f"objectives: no architecture of {self.bench.name!r} has all of "
                              f"{', '.join(s.name for s in self.objectives)}")
        # fractions (accuracies) stay as they are; costs are divided by their largest value
        scale = np.array([1.0 if s.direction == "max" and np.nanmax(np.abs(values[:, j])) <= 1.0
                          else float(np.nanmax(np.abs(values[:, j]))) or 1.0 for j, s in enumerate(self.objectives)])
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "index", {a: i for i, a in enumerate(self.bench.architectures) if finite[i]})

    @classmethod
    def from_names(cls, bench: Bench, objectives: list[str] | tuple[str, ...],
                   constraints: list[str] | tuple[str, ...] = ()) -> "TableProblem":
        names = sorted(bench.columns)
        specs = parse_objectives(objectives, names)
        return cls(bench, specs, tuple(parse_constraint(c, names) for c in constraints))

    @property
    def reference_point(self) -> np.ndarray:
        """In minimization form: 0 for accuracies (worse than any network), 1 for normalized costs."""
        return np.array([0.0 if s.direction == "max" else 1.0 for s in self.objectives])

    @property
    def free(self) -> np.ndarray:
        """Which objectives are known for every architecture without evaluating it."""
        return np.array([s.name.startswith(FREE_PREFIXES) for s in self.objectives])

    @property
    def rows(self) -> np.ndarray:
        return np.array(sorted(self.index.values()))

    def min_space(self, rows: np.ndarray | list[int]) -> np.ndarray:
        signs = np.array([s.sign for s in self.objectives])
        return self.values[np.asarray(rows, dtype=int)] * signs / self.scale

    def violation(self, row: int) -> tuple[float, ...]:
        return tuple(c.violation(float(self.bench.columns[c.name][row])) for c in self.constraints)

    def feasible(self, row: int) -> bool:
        return all(v == 0 for v in self.violation(row))

    def record(self, row: int, seed: int) -> Record:
        arch = self.bench.architectures[row]
        objectives = tuple(Objective(s.name, float(self.values[row, j]), "fraction" if s.direction == "max" else "table",
                                     s.direction) for j, s in enumerate(self.objectives))
        return Record(arch, self.bench.name, seed, objectives, budgets={"evaluator": "table", "bench": self.bench.name},
                      versions=versions())

    # -- the searched parameters: nb201 cells as six edge ops, any other space as one categorical ----
    def distributions(self) -> dict:
        import optuna

        if self.bench.space == "nb201":
            from ..spaces.nb201 import OPS

            return {f"edge{e}": optuna.distributions.CategoricalDistribution(OPS) for e in range(NB201_EDGES)}
        return {"architecture": optuna.distributions.CategoricalDistribution(sorted(self.index))}

    def params_of(self, row: int) -> dict[str, str]:
        arch = self.bench.architectures[row]
        if self.bench.space == "nb201":
            from ..spaces import Architecture

            return {f"edge{e}": op for e, op in enumerate(Architecture.parse(arch).decode().ops)}
        return {"architecture": arch}

    def row_of(self, params: dict[str, str]) -> int | None:
        """The table row of these parameters, or None when the table does not hold them (degenerate cells)."""
        if self.bench.space == "nb201":
            from ..spaces.nb201 import CellGenotype

            arch = "nb201:" + str(CellGenotype(tuple(params[f"edge{e}"] for e in range(NB201_EDGES))))
        else:
            arch = params["architecture"]
        return self.index.get(arch)
