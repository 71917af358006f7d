"""A cascade's objectives and its trade-off curve over thresholds, and the threshold chosen on validation.

Costs per image are expectations over the images: a stage's MACs, energy and input values are paid by
every image that reaches it (the first stage by all), size and parameters by the cascade once (every
stage is stored). The curve is computed from each stage's logits on every image, so any threshold costs
one comparison; the cascade's own forward pass routes the same way (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..data import Dataset, Split
from ..errors import ConfigError, check_float
from ..evaluate import (ENERGY_DATAFLOW, ENERGY_HARDWARE, ENERGY_OBJECTIVE, ENERGY_PARTS, energy_name, energy_parts, images_id,
                        predict_logits)
from ..hw import count_macs, count_params, storage_bytes, variant_energy
from ..records import Objective, per_image_accuracy
from ._model import Cascade, confidence


@dataclass(frozen=True)
class StageCost:
    macs: float
    energy_pj: float  # horowitz45, hierarchy: the records' energy objective
    energy_mac_pj: float
    energy_mult_pj: float
    energy_data_pj: float
    input_values: float  # values of the image the stage reads (C*H*W / factor^2)
    size_bytes: float
    params: float

    def energy(self, part: str = "") -> float:
        """The energy per image of one part of ENERGY_PARTS ('' the total)."""
        return {"": self.energy_pj, "mac": self.energy_mac_pj, "mult": self.energy_mult_pj,
                "data": self.energy_data_pj}[part]


@dataclass(frozen=True)
class CascadePoint:
    threshold: float
    accuracy: float
    answered: tuple[float, ...]  # share of the images each stage answers
    reached: tuple[float, ...]  # share of the images each stage sees
    macs: float  # expected per image
    energy_pj: float
    input_values: float


def stage_costs(cascade: Cascade) -> list[StageCost]:
    shape = cascade.input_shape
    out = []
    for s in cascade.stages:
        parts = energy_parts(variant_energy(s.model, shape, ENERGY_HARDWARE, ENERGY_DATAFLOW))
        out.append(StageCost(macs=float(count_macs(s.model, shape).total_macs), energy_pj=parts[""],
                             energy_mac_pj=parts["mac"], energy_mult_pj=parts["mult"], energy_data_pj=parts["data"],
                             input_values=float(np.prod(shape)) / s.factor ** 2,
                             size_bytes=float(storage_bytes(s.model)), params=float(count_params(s.model))))
    return out


def stage_logits(cascade: Cascade, split: Split) -> list[torch.Tensor]:
    """Every stage's logits on every image of `split` (what the curve routes)."""
    return [predict_logits(s, split.x) for s in cascade.stages]


def _route(cascade: Cascade, logits: Sequence[torch.Tensor], threshold: float) -> torch.Tensor:
    """Index of the answering stage per image, as Cascade.route decides it."""
    n, last = len(logits[0]), len(logits) - 1
    stage_of = torch.full((n,), last, dtype=torch.long)
    open_ = torch.ones(n, dtype=torch.bool)
    for k, lg in enumerate(logits[:-1]):
        sure = torch.ones(n, dtype=torch.bool) if threshold == 0.0 else confidence(lg, cascade.confidence_kind) > threshold
        take = open_ & sure
        stage_of[take] = k
        open_ &= ~take
    return stage_of


def _point(threshold: float, stage_of: torch.Tensor, correct: torch.Tensor, costs: Sequence[StageCost]) -> CascadePoint:
    n, k = len(stage_of), len(costs)
    answered = tuple(float((stage_of == i).sum()) / n for i in range(k))
    reached = tuple(float((stage_of >= i).sum()) / n for i in range(k))
    return CascadePoint(threshold, float(correct.double().mean()), answered, reached,
                        sum(r * c.macs for r, c in zip(reached, costs)),
                        sum(r * c.energy_pj for r, c in zip(reached, costs)),
                        sum(r * c.input_values for r, c in zip(reached, costs)))


def curve(cascade: Cascade, logits: Sequence[torch.Tensor], y: torch.Tensor, costs: Sequence[StageCost],
          thresholds: Sequence[float]) -> list[CascadePoint]:
    """Accuracy and expected costs at each threshold, from every stage's logits on the same images."""
    preds = torch.stack([lg.argmax(1) for lg in logits])
    points = []
    for t in thresholds:
        stage_of = _route(cascade, logits, t)
        points.append(_point(t, stage_of, preds[stage_of, torch.arange(len(y))] == y, costs))
    return points


def candidate_thresholds(cascade: Cascade, logits: Sequence[torch.Tensor]) -> list[float]:
    """0, 1 and the midpoints between the first stage's sorted confidences: every distinct routing."""
    c = np.unique(confidence(logits[0], cascade.confidence_kind).numpy().astype(np.float64))
    mids = (c[1:] + c[:-1]) / 2 if len(c) > 1 else np.array([])
    return sorted({0.0, 1.0, *map(float, mids)})


def choose_threshold(cascade: Cascade, val: Split, costs: Sequence[StageCost], max_drop: float,
                     cost: str = "macs") -> tuple[float, list[CascadePoint]]:
    """The threshold of least expected `cost` (macs, energy_pj or input_values) whose accuracy on `val` is
    at most `max_drop` below the last stage's alone there; and the validation curve it was chosen from."""
    check_float("target accuracy drop", max_drop, minimum=0.0, maximum=1.0)
    if cost not in ("macs", "energy_pj", "input_values"):
        raise ConfigError(f"cost: got {cost!r}, expected macs, energy_pj or input_values")
    if len(val) == 0:
        raise ConfigError("val: the dataset has no validation split to choose the threshold on")
    logits = stage_logits(cascade, val)
    points = curve(cascade, logits, val.y, costs, candidate_thresholds(cascade, logits))
    floor = points[-1].accuracy - max_drop  # threshold 1: the last stage alone
    ok = [p for p in points if p.accuracy >= floor - 1e-12]
    best = min(ok, key=lambda p: (getattr(p, cost), -p.accuracy, -p.threshold))
    return best.threshold, points


def cascade_objectives(cascade: Cascade, dataset: Dataset, costs: Sequence[StageCost] | None = None,
                       ) -> tuple[tuple[Objective, ...], CascadePoint]:
    """Accuracy (per image) of the cascade's own routed forward pass on the test split; expected MACs, energy and
    input values per image from the share of images reaching each stage; size and parameters of all stages."""
    test = dataset.test
    costs = stage_costs(cascade) if costs is None else costs  # a caller's: each stage's energy is estimated once
    with torch.no_grad():
        cascade.eval()
        logits, stage_of = zip(*(cascade.route(test.x[i:i + 1024]) for i in range(0, len(test), 1024)))
    stage_of = torch.cat(stage_of)
    correct = torch.cat(logits).argmax(1) == test.y
    p = _point(cascade.threshold, stage_of, correct, costs)
    reached = p.reached
    objectives = (
        per_image_accuracy("accuracy", correct.numpy(), images_id(test.x, test.y)),
        Objective("params", sum(c.params for c in costs), "count", "min"),
        Objective("size_bytes", sum(c.size_bytes for c in costs), "bytes", "min"),
        Objective("macs", p.macs, "MACs", "min"),
        Objective(ENERGY_OBJECTIVE, p.energy_pj, "pJ", "min"),
        *(Objective(energy_name(ENERGY_HARDWARE, ENERGY_DATAFLOW, part),
                    sum(r * c.energy(part) for r, c in zip(reached, costs)), "pJ", "min")
          for part in ENERGY_PARTS if part),
        Objective("input_values", p.input_values, "count", "min"),
    )
    return objectives, p
