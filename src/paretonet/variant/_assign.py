"""A per-layer assignment of approximate multipliers under an accuracy budget, chosen greedily.

Start from the exact 8-bit model; try (layer, multiplier) pairs least sensitive first (highest accuracy
with that layer alone approximated, then most MAC energy saved) and keep each whose whole model, measured
again, stays within `budget` of the exact 8-bit accuracy. Choices are made on the validation split by
default, so the test split that reports the result did not choose it (on a small validation split the
test accuracy can then miss the budget: 216 digits images move 0.46 points an image); `split="test"`
chooses on the test split itself, and the budget then holds there by construction.
A multiplier without power data saves no energy in the model and is never chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from ..data import Dataset
from ..errors import check_float
from ..evaluate import accuracy
from ..hw import layer_names
from ..hw.approx import approximate_model, get_multiplier
from ._recipe import CALIBRATION_IMAGES, Variant
from ._tuning import LayerSensitivity, layer_sensitivity


@dataclass(frozen=True)
class AssignmentStep:
    layer: str
    multiplier: str
    accuracy: float  # validation accuracy of the whole model with this pair added
    accepted: bool


@dataclass(frozen=True)
class GreedyAssignment:
    variant: Variant  # multipliers=layer@spec+...; the other layers exact 8-bit
    split: str  # where the choices were measured: val or test
    base_accuracy: float  # the exact 8-bit model's, on that split
    accuracy: float  # the chosen assignment's, on that split
    budget: float
    sensitivity: tuple[LayerSensitivity, ...]  # on that split
    steps: tuple[AssignmentStep, ...]


def greedy_assignment(model: nn.Module, dataset: Dataset, specs: Sequence[str], budget: float, *,
                      lut_dirs: tuple[str, ...] = (), calibration_images: int = CALIBRATION_IMAGES,
                      split: str = "val") -> GreedyAssignment:
    """Multipliers per layer from `specs` (names, designs or .bin files), losing at most `budget` accuracy
    (a fraction: 0.01 is one point) against the exact 8-bit model on `split` (val or test)."""
    check_float("budget", budget, minimum=0.0, maximum=1.0)
    mults = {spec: get_multiplier(spec, dirs=lut_dirs) for spec in specs}
    spec_of = {m.name: spec for spec, m in mults.items()}
    measured, rows = layer_sensitivity(model, dataset, list(mults.values()), calibration_images, split=split)
    base = measured.accuracy
    modules = {readable: module for module, readable in layer_names(model).items()}
    calib = dataset.train.x[:calibration_images]
    val = dataset.val if split == "val" and len(dataset.val) else dataset.test
    chosen: dict[str, LayerSensitivity] = {}
    current, steps = base, []
    for row in sorted(rows, key=lambda r: (-r.accuracy, -r.energy_mac_saved_pj)):
        held = chosen.get(row.layer)
        if row.energy_mac_saved_pj <= 0 or (held is not None and held.energy_mac_saved_pj >= row.energy_mac_saved_pj):
            continue
        trial = {**chosen, row.layer: row}
        plan = {modules[layer]: mults[spec_of[r.multiplier]] for layer, r in trial.items()}
        acc = accuracy(approximate_model(model, plan, calib), val)
        ok = base - acc <= budget
        steps.append(AssignmentStep(row.layer, spec_of[row.multiplier], acc, ok))
        if ok:
            chosen, current = trial, acc
    order = list(modules)
    items = tuple(f"{layer}@{spec_of[chosen[layer].multiplier]}" for layer in order if layer in chosen)
    variant = Variant(multipliers=items) if items else Variant(multiplier="exact")
    return GreedyAssignment(variant, split, base, current, budget, tuple(rows), tuple(steps))
