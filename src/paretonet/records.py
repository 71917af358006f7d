"""The one currency between stages: objectives with unit and direction, grouped in a Record."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import ConfigError

DIRECTIONS = ("max", "min")


@dataclass(frozen=True)
class Objective:
    name: str  # e.g. "accuracy", "size_bytes", "robust_accuracy@apgd-ce:0.1"
    value: float
    unit: str  # e.g. "fraction", "bytes", "MACs", "count", "pJ"
    direction: str  # "max" or "min"

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"objective {self.name!r}: direction {self.direction!r}, expected max or min")


@dataclass(frozen=True)
class Record:
    """(architecture, variant, dataset, seed) -> objectives, plus the budgets and versions used."""

    architecture: str
    dataset: str
    seed: int
    objectives: tuple[Objective, ...]
    variant: str = ""  # empty: the float model as trained
    budgets: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    versions: dict[str, str] = field(default_factory=dict, hash=False, compare=True)

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.architecture, self.variant, self.dataset, self.seed)

    def value(self, name: str) -> float:
        for o in self.objectives:
            if o.name == name:
                return o.value
        raise KeyError(f"record has no objective {name!r}; it has {', '.join(o.name for o in self.objectives)}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["objectives"] = [asdict(o) for o in self.objectives]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Record":
        objectives = tuple(Objective(**o) for o in d["objectives"])
        return cls(
            architecture=d["architecture"], dataset=d["dataset"], seed=int(d["seed"]), objectives=objectives,
            variant=d.get("variant", ""), budgets=dict(d.get("budgets", {})), versions=dict(d.get("versions", {})),
        )


def versions() -> dict[str, str]:
    import numpy
    import torch

    from . import __version__

    return {"paretonet": __version__, "torch": torch.__version__, "numpy": numpy.__version__}
