"""The one currency between stages: objectives with unit and direction, grouped in a Record.

JSON form (one per architecture, variant, dataset, seed), validated on read:
{"format": 1, "architecture", "variant", "dataset", "seed", "objectives": [{"name", "value", "unit",
"direction"[, "images", "interval", "images_id", "correct"]}], "budgets": {...}, "versions": {..., "threads",
"cpu_capability"}, "details": {...}}.
An accuracy measured on images carries their count and its 95 % Wilson interval; where the per-image outcome
is known, also the fingerprint of those images and which of them the model got right, so two models measured
on the same images can be compared pairwise (McNemar) rather than as two independent proportions.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
if TYPE_CHECKING:
    import numpy as np

from .names import ObjectiveName, eps_label, min_over_attacks_name, robust_name  # noqa: F401 (the names' owner)

RECORD_FORMAT = 1
DIRECTIONS = ("max", "min")


@dataclass(frozen=True)
class Objective:
    name: str  # e.g. "accuracy", "size_bytes", "robust_accuracy@apgd-ce:0.1"
    value: float
    unit: str  # e.g. "fraction", "bytes", "MACs", "count", "pJ"
    direction: str  # "max" or "min"
    images: int | None = None  # accuracies: the images measured on
    interval: tuple[float, float] | None = None  # accuracies: 95 % Wilson interval over those images
    images_id: str | None = None  # accuracies: fingerprint of the images and labels (same id: same images, same order)
    correct: str | None = None  # accuracies: per image 1 where right, bits packed (numpy.packbits) in base64

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"objective {self.name!r}: direction {self.direction!r}, expected max or min")


def wilson_interval(p: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion p measured on n images (defined at p = 0 and 1, unlike the normal approximation)."""
    if n <= 0 or not math.isfinite(p):
        return (math.nan, math.nan)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def accuracy_objective(name: str, value: float, images: int) -> Objective:
    """An accuracy-type objective (a fraction of `images`, higher is better) with its image count and interval."""
    return Objective(name, value, "fraction", "max", images=images, interval=wilson_interval(value, images))


def per_image_accuracy(name: str, correct: Any, images_id: str) -> Objective:
    """An accuracy from its per-image outcomes (booleans, in the order of the images `images_id` names):
    the value, count and interval as `accuracy_objective`, and the outcomes themselves for paired tests."""
    import numpy as np  # loaded on first use: the CLI's --help imports this module

    right = np.asarray(correct, dtype=bool).ravel()
    value = float(right.mean()) if len(right) else math.nan
    packed = base64.b64encode(np.packbits(right).tobytes()).decode("ascii")
    return Objective(name, value, "fraction", "max", images=len(right), interval=wilson_interval(value, len(right)),
                     images_id=images_id, correct=packed)


def outcomes(o: Objective) -> np.ndarray | None:
    """Per-image outcomes of an accuracy (True where right), or None where the record has none."""
    if o.correct is None or o.images is None:
        return None
    import numpy as np
    try:
        bits = np.unpackbits(np.frombuffer(base64.b64decode(o.correct, validate=True), dtype=np.uint8))
    except ValueError:
        raise ConfigError(f"objective {o.name!r}: 'correct' is not base64 of packed bits") from None
    if len(bits) < o.images or len(bits) >= o.images + 8:
        raise ConfigError(f"objective {o.name!r}: 'correct' holds {len(bits)} bits for {o.images} images")
    return bits[: o.images].astype(bool)


@dataclass(frozen=True)
class Record:
    """(architecture, variant, dataset, seed) -> objectives, plus the budgets and versions used."""

    architecture: str
    dataset: str
    seed: int
    objectives: tuple[Objective, ...]
    variant: str = ""  # empty: the float model as trained; written only by Variant
    budgets: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    versions: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    details: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def __post_init__(self) -> None:
        names = [o.name for o in self.objectives]
        if len(set(names)) != len(names):
            raise ConfigError(f"record {self.architecture!r}: objective names repeat: {', '.join(names)}")

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.architecture, self.variant, self.dataset, self.seed)

    def value(self, name: str) -> float:
        for o in self.objectives:
            if o.name == name:
                return o.value
        raise ConfigError(f"record {self.architecture!r} {self.variant or '(as trained)'}: no objective {name!r}; it has "
                          f"{', '.join(o.name for o in self.objectives)}")

    def to_dict(self) -> dict[str, Any]:
        return {"format": RECORD_FORMAT, "architecture": self.architecture, "variant": self.variant,
                "dataset": self.dataset, "seed": self.seed, "objectives": [_objective_dict(o) for o in self.objectives],
                "budgets": _plain(self.budgets), "versions": _plain(self.versions), "details": _plain(self.details)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Any, source: str = "record") -> "Record":
        """A Record from its JSON form; anything else is a one-line ConfigError naming the field."""
        from .._schema import RecordSchema, validate

        r = validate(RecordSchema, d, source)
        for i, o in enumerate(r.objectives):  # a file's number reaches a Record only when it is in its unit's range
            low, high = _RANGES.get(o.unit, (-math.inf, math.inf))
            if not low <= o.value <= high:
                raise ConfigError(f"{source}: field objectives.{i}.value: got {o.value!r} for {o.name!r} ({o.unit}), "
                                  f"expected a number in [{low:g}, {high:g}]")
        return cls(architecture=r.architecture, dataset=r.dataset, seed=r.seed, variant=r.variant,
                   objectives=tuple(Objective(o.name, o.value, o.unit, o.direction,
                                              o.images, None if o.interval is None else
                                              tuple(math.nan if v is None else v for v in o.interval),
                                              o.images_id, o.correct)
                                    for o in r.objectives),
                   budgets=dict(r.budgets), versions=dict(r.versions), details=dict(r.details))


def _objective_dict(o: Objective) -> dict[str, Any]:
    """Name, value, unit, direction; images, interval and outcomes where they were measured. A value that is not a
    finite number is refused: a Record is never written with NaN or Infinity (a number not measured is absent)."""
    try:
        finite = not isinstance(o.value, bool) and math.isfinite(o.value)  # numpy scalars too
    except TypeError:
        finite = False
    if not finite:
        raise ConfigError(f"objective {o.name!r}: got {o.value!r}; a Record holds finite numbers only (leave out "
                          "what was not measured)")
    return {k: _plain(v) for k, v in asdict(o).items() if v is not None}


_RANGES = {"fraction": (0.0, 1.0), "bytes": (0.0, math.inf), "count": (0.0, math.inf), "MACs": (0.0, math.inf),
           "FLOPs": (0.0, math.inf), "pJ": (0.0, math.inf), "mJ": (0.0, math.inf), "MAC16": (0.0, math.inf),
           "ms": (0.0, math.inf)}


def _plain(value: Any) -> Any:
    """JSON-ready: tuples as lists, non-finite floats as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records_from_json(payload: Any, source: str = "records") -> list[Record]:
    """A Record's JSON form or a list of them."""
    items = payload if isinstance(payload, list) else [payload]
    return [Record.from_dict(d, f"{source}[{i}]" if isinstance(payload, list) else source) for i, d in enumerate(items)]


def versions() -> dict[str, Any]:
    """Library versions and what decides PyTorch's CPU rounding: thread count and instruction set."""
    import numpy
    import torch

    from .._version import __version__

    return {"paretonet": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}
