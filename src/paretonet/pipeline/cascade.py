"""The cascade job: models chained by confidence (a small one first, larger ones where it is unsure). The one place a
cascade's Record is built: for `paretonet cascade` and for the search's cascades of front members."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..cascade import Cascade, StageCost, cascade_objectives, choose_threshold, curve, stage_costs, stage_logits
from ..data import Dataset, select_images
from ..errors import ConfigError
from ..evaluate import RobustnessConfig, evaluate_objectives, evaluate_robustness
from ..records import Objective, Record, versions
from ._load import load_for_eval


@dataclass(frozen=True, kw_only=True)
class CascadeJob:
    target_accuracy_drop: float = 0.01  # against the last model alone, on the validation split
    threshold: float | None = None  # given instead of chosen
    confidence: str = "softmax"  # or margin
    pixelate: tuple[int, ...] | None = None  # a block factor per model (1: the full image)
    cost: str = "macs"  # what the chosen threshold minimizes: macs, energy_pj or input_values
    attacks: RobustnessConfig | None = None  # None: no robust accuracy
    images: int | None = None  # test images attacked (a seeded sample)
    seed: int = 0
    data_dir: str | None = None
    curve_points: int = 11  # thresholds of the trade-off curve on the test split (and the chosen one)

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"--threshold: got {self.threshold:g}, expected a number in [0, 1]")
        if not 0.0 <= self.target_accuracy_drop <= 1.0:
            raise ConfigError(f"--target-accuracy-drop: got {self.target_accuracy_drop:g}, expected a number in [0, 1]")


@dataclass(frozen=True)
class Member:
    """A cascade member as its name says it: architecture, variant, and what the caller calls it (a path, a trial)."""

    architecture: str
    variant: str
    label: str


def cascade_record(models: Sequence[nn.Module], members: Sequence[Member], data: Dataset, job: CascadeJob,
                   images: tuple[torch.Tensor, torch.Tensor] | None = None, seed: int = 0,
                   budgets: dict | None = None, costs: Sequence[StageCost] | None = None) -> Record:
    """The cascade of `models` with its threshold chosen on validation (or given): accuracy and expected costs on the
    test split, robust accuracy on `images` with `job.attacks`; the routing and the test split's trade-off curve in
    the details."""
    c = Cascade(list(models), job.threshold if job.threshold is not None else 0.5, data.input_shape,
                pixelate=job.pixelate, confidence=job.confidence).eval()
    costs = stage_costs(c) if costs is None else costs  # a caller's: each stage's energy is estimated once
    if job.threshold is None:
        c.threshold, _ = choose_threshold(c, data.val, costs, job.target_accuracy_drop, job.cost)
    objectives, point = cascade_objectives(c, data, costs)
    all_budgets: dict = {**(budgets or {}), "test_images": len(data.test),
                         "threshold_chosen_on": "val" if job.threshold is None else "given",
                         "target_accuracy_drop": job.target_accuracy_drop if job.threshold is None else None,
                         "cost": job.cost}
    if job.attacks is not None:
        r = evaluate_robustness(c, *(images if images is not None else (data.test.x, data.test.y)), job.attacks)
        objectives += (r.objective(),)
        all_budgets.update(r.budgets())
    grid = sorted({round(i / (job.curve_points - 1), 6) for i in range(job.curve_points)} | {c.threshold})
    trade_off = [{"threshold": p.threshold, "accuracy": p.accuracy, "answered": list(p.answered), "macs": p.macs,
                  "energy_pj": p.energy_pj, "input_values": p.input_values}
                 for p in curve(c, stage_logits(c, data.test), data.test.y, costs, grid)]
    name = f"cascade:{job.confidence}>{c.threshold:.6g}:" + " -> ".join(
        f"{m.architecture}{f' {m.variant}' if m.variant else ''}{f' @pixelate={f}' if f > 1 else ''}"
        for m, f in zip(members, c.factors))
    return Record(name, data.name, seed, objectives, budgets=all_budgets, versions=versions(),
                  details={"threshold": c.threshold, "confidence": job.confidence, "pixelate": list(c.factors),
                           "answered": list(point.answered), "reached": list(point.reached),
                           "members": [m.label for m in members], "curve": trade_off})


def run_cascade(models: Sequence[Path], job: CascadeJob) -> list[Record]:
    """Each model alone (with the input values it reads), then the cascade: a Record each, measured on the same
    images with the same attacks."""
    if len(models) < 2:
        raise ConfigError(f"MODELS: got {len(models)}, a cascade needs at least two")
    loaded = [load_for_eval(m, None, job.data_dir, 0) for m in models]
    first = loaded[0][1]
    for path, (_, meta, _) in zip(models[1:], loaded[1:]):
        if (meta.dataset, tuple(meta.input_shape), meta.n_classes) != (first.dataset, tuple(first.input_shape),
                                                                       first.n_classes):
            raise ConfigError(f"MODELS: {path} is for {meta.dataset} {tuple(meta.input_shape)}, {meta.n_classes} classes; "
                              f"{models[0]} for {first.dataset} {tuple(first.input_shape)}, {first.n_classes} classes")
    data = loaded[0][2]
    nets = [net for net, _, _ in loaded]
    images = select_images(data, job.images, job.seed)
    probe = Cascade(nets, 0.5, data.input_shape, pixelate=job.pixelate, confidence=job.confidence)
    costs = stage_costs(probe)
    records = []
    for (net, meta, _), c, f in zip(loaded, costs, probe.factors):
        objectives = (*evaluate_objectives(net, data), Objective("input_values", c.input_values * f ** 2, "count", "min"))
        if job.attacks is not None:
            objectives += (evaluate_robustness(net, *images, job.attacks).objective(),)
        records.append(Record(meta.architecture, data.name, meta.seed, objectives, variant=meta.variant,
                              budgets={"test_images": len(data.test)}, versions=versions()))
    members = [Member(meta.architecture, meta.variant, str(path)) for path, (_, meta, _) in zip(models, loaded)]
    return [*records, cascade_record(nets, members, data, job, images, first.seed, costs=costs)]
