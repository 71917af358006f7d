"""A tabular benchmark: architectures (rows) with numeric columns (targets, proxies, costs)."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..records.names import ObjectiveName



def is_target(column: str) -> bool:
    """Clean and robust accuracies: what the predictor predicts and the search optimizes."""
    return column == "accuracy" or ObjectiveName.parse(column).quantity == "robust_accuracy"


@dataclass(frozen=True, eq=False)
class Bench:
    """Rows are architectures ('space:genotype'); columns are float arrays (NaN = missing).

    `group` holds an isomorph-class id per row when known; `unique()` keeps one row per class.
    """

    name: str
    space: str
    architectures: tuple[str, ...]
    columns: dict[str, np.ndarray] = field(repr=False)
    group: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.architectures)
        for k, v in self.columns.items():
            if len(v) != n:
                raise DataError(f"benchmark {self.name!r}: column {k!r} has {len(v)} values for {n} architectures")

    def __len__(self) -> int:
        return len(self.architectures)

    @property
    def targets(self) -> list[str]:
        """The accuracy columns: clean first, then robust ones by name."""
        return sorted((c for c in self.columns if is_target(c)), key=lambda c: (c != "accuracy", c))

    def require(self, names: tuple[str, ...] | list[str], what: str = "column") -> None:
        missing = [c for c in names if c not in self.columns]
        if missing:
            raise DataError(f"benchmark {self.name!r}: missing {what}(s) {', '.join(missing)}; "
                            f"has {', '.join(sorted(self.columns))}")

    def take(self, rows: np.ndarray) -> Bench:
        g = None if self.group is None else tuple(self.group[i] for i in rows)
        return Bench(self.name, self.space, tuple(self.architectures[i] for i in rows),
                     {k: v[rows] for k, v in self.columns.items()}, g)

    def unique(self) -> Bench:
        """One row per isomorph class (the first seen); unchanged when classes are unknown."""
        if self.group is None:
            return self
        seen: set[str] = set()
        keep = [i for i, g in enumerate(self.group) if not (g in seen or seen.add(g))]
        return self.take(np.array(keep, dtype=np.int64))

    def to_csv(self, path: str | Path) -> Path:
        p = Path(path)
        cols = sorted(self.columns)
        with p.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["architecture", *cols])
            for i, a in enumerate(self.architectures):
                w.writerow([a, *(repr(float(self.columns[c][i])) for c in cols)])
        return p


def read_bench_csv(path: str | Path) -> Bench:
    """A benchmark CSV: an 'architecture' column ('space:genotype') and numeric columns; an empty cell or a
    non-finite number (inf, -inf, nan) is missing data."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"benchmark file {str(p)!r} does not exist")
    with p.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "architecture" not in rows[0]:
        raise DataError(f"benchmark file {str(p)!r}: needs a header with an 'architecture' column")
    cols = [c for c in rows[0] if c != "architecture"]
    data = {c: np.empty(len(rows)) for c in cols}
    for i, r in enumerate(rows):
        for c in cols:
            try:
                value = float(r[c]) if r[c] not in ("", None) else math.nan
            except ValueError:
                raise DataError(f"benchmark file {str(p)!r}: row {i + 2}, column {c!r}: {r[c]!r} is not a number") from None
            data[c][i] = value if math.isfinite(value) else math.nan  # inf, -inf (a proxy's overflow): missing data
    archs = tuple(r["architecture"] for r in rows)
    space = archs[0].partition(":")[0]
    if any(a.partition(":")[0] != space for a in archs):
        raise ConfigError(f"benchmark file {str(p)!r}: architectures of more than one space")
    return Bench(p.stem, space, archs, data)
