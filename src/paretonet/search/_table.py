"""The table evaluator: objectives looked up in a tabular benchmark, so a search costs no training.

Proxies and device costs are free (`is_free`): every architecture's value is known before any
evaluation. The others (accuracies) are only known for the architectures a search evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..bench import Bench
from ..errors import ConfigError
from ..records import Objective, Record, versions
from ..records.names import ObjectiveName
from ._problem import Evaluation, Pool, group_ids, proxy_score
from ._spec import Constraint, ObjectiveSpec, parse_constraint, parse_objectives

COVERAGE = 0.5  # the share of draws of a space's parameters a table must hold to be searched by them (TableProblem.searchable)

# Known for every architecture before any evaluation: zero-cost proxies (FLOPs and params among them in
# NAS-Bench-201) and device costs, which a lookup table or a latency model gives for free.
def is_free(name: str) -> bool:
    n = ObjectiveName.parse(name)
    return n.quantity.startswith("proxy_") or n.quantity in ("latency_ms", "energy_mj") and n.method != "cpu"


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
        return np.array([is_free(s.name) for s in self.objectives])

    @cached_property
    def rows(self) -> np.ndarray:
        """Table rows holding every objective, in order."""
        return np.array(sorted(self.index.values()))

    def normalize(self, values: np.ndarray) -> np.ndarray:
        """Raw objective values (rows x objectives) in the normalized minimization space."""
        signs = np.array([sg.sign for sg in self.objectives])
        return np.asarray(values, dtype=float).reshape(-1, len(self.objectives)) * signs / self.scale

    def min_space(self, rows: np.ndarray | list[int]) -> np.ndarray:
        return self.normalize(self.values[np.asarray(rows, dtype=int)])

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

    # -- the searched parameters: the space's own (nb201: six edge ops), or one categorical of the rows --
    @cached_property
    def searchable(self) -> bool:
        """Whether the space's own parameters (nb201: six edge ops) are searched, or one categorical of the rows: the
        parameters when seeded draws of them hit the table at least COVERAGE of the time (the published nb201 table,
        which holds every cell that computes something: 0.60), the rows otherwise (a 725-row sample of it: 0.05, so
        a sampler of the parameters would mostly propose architectures the table lacks)."""
        return self.coverage() >= COVERAGE

    def coverage(self, draws: int = 512) -> float:
        """The share of seeded draws of the space's parameters that the table holds (0 for a space without them)."""
        from ..spaces import SPACES, Architecture

        if self.bench.space not in SPACES.names():
            return 0.0
        space = SPACES.get(self.bench.space)
        params = space.search_params()
        if not params:
            return 0.0
        rng = np.random.default_rng(0)
        hits = 0
        for _ in range(draws):
            p = {k: v[int(rng.integers(len(v)))] for k, v in params.items()}
            hits += str(Architecture.of(self.bench.space, space.from_params(p))) in self.index
        return hits / draws

    def distributions(self) -> dict:
        import optuna

        if self.searchable:
            from ..spaces import SPACES

            return {k: optuna.distributions.CategoricalDistribution(v)
                    for k, v in SPACES.get(self.bench.space).search_params().items()}
        # the position among the rows: an integer, as a categorical of names is stored with every trial (a 10,000-row
        # table: 0.7 MB per trial in the study's database)
        return {"row": optuna.distributions.IntDistribution(0, len(self.index) - 1)}

    def params_of(self, row: int) -> dict[str, str]:
        arch = self.bench.architectures[row]
        if self.searchable:
            from ..spaces import Architecture

            a = Architecture.parse(arch)
            return a.search_space.params_of(a.decode())
        return {"row": int(np.searchsorted(self.rows, row))}

    def row_of(self, params: dict[str, str]) -> int | None:
        """The table row of these parameters, or None when the table does not hold them (degenerate cells)."""
        if self.searchable:
            from ..spaces import Architecture, SPACES

            arch = str(Architecture.of(self.bench.space, SPACES.get(self.bench.space).from_params(params)))
            return self.index.get(arch)
        position = int(params["row"])
        return int(self.rows[position]) if 0 <= position < len(self.index) else None

    # -- the Problem protocol of the search loop --------------------------------------------------
    def candidate(self, params: dict[str, str]) -> int | None:
        return self.row_of(params)

    def key(self, row: int) -> str:
        return self.bench.architectures[row]

    def evaluate(self, row: int, stop: object = None, rungs: tuple[int, ...] = ()) -> Evaluation:
        """A lookup: nothing is trained, so there is nothing for early stopping (`stop`, `rungs`) to save."""
        return Evaluation(self.key(row), tuple(float(v) for v in self.values[row]), self.violation(row),
                          {"row": int(row), "architecture": self.key(row)})

    def pool(self, seed: int) -> Pool:
        """Every architecture of the table, with its proxies + encoding as features and the free columns known."""
        from ..predict import feature_matrix

        rows = self.rows
        names, features = feature_matrix(self.bench.take(rows), "proxies+encoding")
        free = self.free
        known = self.min_space(rows)
        known[:, ~free] = np.nan  # what is not free is not known before evaluation: the guidance cannot peek
        cost = known[:, np.flatnonzero(free)[0]] if free.any() else np.zeros(len(rows))
        from ..spaces import Architecture

        keys = tuple(self.key(int(r)) for r in rows)
        groups = group_ids([Architecture.parse(k).canonical() for k in keys])
        return Pool(tuple(self.params_of(int(r)) for r in rows), keys, names, features, known, free, cost,
                    proxy_score(features, names), groups)
