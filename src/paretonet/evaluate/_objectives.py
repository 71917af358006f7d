"""Objectives registry: a new objective is one function from an EvalContext to an Objective.

Each function reads what it needs from the model itself (bit widths of quantized and approximate
layers, weight density, multiplier power), so the number always describes the model measured:
there is no separate "storage width" to pass in, and nothing else computes these objectives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from torch import nn

from .._registry import Registry
from ..data import Dataset
from ..errors import ArchitectureError, ConfigError
from ..hw import CALIBRATION_IMAGES, EnergyEstimate, Hardware, count_macs, count_params, hardware, storage_bytes, variant_energy
from ..records import Objective, accuracy_objective, per_image_accuracy
from ..records.names import (ALIASES, DEFAULT_DATAFLOW, DEFAULT_ENERGY, DEFAULT_HARDWARE, ENERGY_PARTS, ObjectiveName,
                             energy_key, input_noise_name)
from ..records.names import energy_name as _energy_name
from ._accuracy import correct_per_image, images_id


@dataclass(frozen=True, eq=False)
class EvalContext:
    model: nn.Module
    dataset: Dataset

    def energy_breakdown(self) -> dict:
        """The records' energy per layer (what the report draws): hardware, dataflow, totals and each layer's parts."""
        e = self.energy
        return {"hardware": ENERGY_HARDWARE, "dataflow": e.dataflow, "unit": e.unit, "total_pj": e.total_pj,
                "data_pj": e.data_pj, "layers": [{"name": x.name, "kind": x.kind, "mac_pj": x.mac_pj, "data_pj": x.data_pj,
                                                  "op_pj": x.op_pj} for x in e.layers]}

    @cached_property
    def energy(self) -> EnergyEstimate:
        """The model's energy on the records' hardware and dataflow: estimated once, read by each energy part."""
        return variant_energy(self.model, self.dataset.input_shape, ENERGY_HARDWARE, ENERGY_DATAFLOW)


ObjectiveFn = Callable[[EvalContext], Objective]
OBJECTIVES: Registry[ObjectiveFn] = Registry("objective")
INPUT_NOISE_DRAWS = 5  # draws of the accuracy@noise:<kind>:<level> objectives (robustness --noise's default)
BASIC_OBJECTIVES = ("accuracy", "params", "size_bytes", "macs", "energy", "energy_mac", "energy_mult", "energy_data")
ENERGY_HARDWARE, ENERGY_DATAFLOW, ENERGY_OBJECTIVE = DEFAULT_HARDWARE, DEFAULT_DATAFLOW, DEFAULT_ENERGY


@OBJECTIVES.register("accuracy")
def _accuracy(ctx: EvalContext) -> Objective:
    test = ctx.dataset.test
    return per_image_accuracy("accuracy", correct_per_image(ctx.model, test).numpy(), images_id(test.x, test.y))


@OBJECTIVES.register("params")
def _params(ctx: EvalContext) -> Objective:
    return Objective("params", float(count_params(ctx.model)), "count", "min")


@OBJECTIVES.register("size_bytes")
def _size(ctx: EvalContext) -> Objective:
    return Objective("size_bytes", float(storage_bytes(ctx.model)), "bytes", "min")


@OBJECTIVES.register("macs")
def _macs(ctx: EvalContext) -> Objective:
    return Objective("macs", float(count_macs(ctx.model, ctx.dataset.input_shape).total_macs), "MACs", "min")


def _energy_part(part: str) -> ObjectiveFn:
    def fn(ctx: EvalContext) -> Objective:
        return _part_objective(ctx.energy, ENERGY_HARDWARE, part)

    return fn


for _part in ENERGY_PARTS:  # "energy", "energy_mac", "energy_mult", "energy_data"
    OBJECTIVES.add(energy_key(_part), _energy_part(_part))


@OBJECTIVES.register("latency_ms@cpu")
def _latency_cpu(ctx: EvalContext) -> Objective:
    """Measured, so not among the basic objectives: it depends on the machine, its load and the thread count."""
    from ..hw import measure_cpu_latency

    return Objective("latency_ms@cpu", measure_cpu_latency(ctx.model, ctx.dataset.input_shape).median_ms, "ms", "min")


def energy_name(hw: Hardware | str, dataflow: str, part: str = "") -> str:
    """'energy_pj@horowitz45:hierarchy' (or 'energy_mac_pj@...', 'energy_mult_pj@...', 'energy_data_pj@...' for a
    part), or 'energy_mac16@eyeriss:hierarchy' for hardware in MAC-normalized units."""
    h = hardware(hw)
    return _energy_name(h.name, h.unit, dataflow, part)


def energy_objective(model: nn.Module, input_shape: tuple[int, int, int], hw: Hardware | str = ENERGY_HARDWARE,
                     dataflow: str = ENERGY_DATAFLOW, part: str = "") -> Objective:
    """The model's energy as it is (bit widths, zero weights, multiplier power) on `hw` with `dataflow`: the
    total, or one part of it (ENERGY_PARTS)."""
    return _part_objective(variant_energy(model, input_shape, hw, dataflow), hw, part)


def _part_objective(e: EnergyEstimate, hw: Hardware | str, part: str) -> Objective:
    return Objective(energy_name(hw, e.dataflow, part), energy_parts(e)[part], hardware(hw).unit, "min")


def energy_parts(e: EnergyEstimate) -> dict[str, float]:
    """The estimate's value of every part of ENERGY_PARTS."""
    return {"": e.total_pj, "mac": e.mac_pj, "mult": e.mult_pj, "data": e.data_pj}


def energy_part_of(name: str) -> str:
    """The part an energy objective's name measures: 'energy_mult_pj@horowitz45:A' -> 'mult', the total -> ''."""
    return ObjectiveName.parse(name).energy_part or ""


def measurable_names() -> list[str]:
    """Every name the registry measures as its Records carry it (energy on every hardware preset, dataflow and part);
    accuracies under noise, faults and certificates are measured by any name of their grammar (evaluate_objectives)."""
    from ..hw import DATAFLOWS, HARDWARE_PRESETS

    energies = [energy_name(h, d, part) for h in HARDWARE_PRESETS.names() for d in DATAFLOWS for part in ENERGY_PARTS]
    return list(dict.fromkeys([*(ALIASES.get(n, n) for n in OBJECTIVES.names()), *energies]))


def check_input_shape(expected: Sequence[int], dataset: Dataset) -> None:
    if tuple(expected) != dataset.input_shape:
        raise ArchitectureError(
            f"wrong input shape: the model expects {tuple(expected)}, dataset {dataset.name!r} has {dataset.input_shape}"
        )


def _perturbed(name: str) -> ObjectiveFn:
    """accuracy@noise:<noise model> / accuracy@faults:<fault model> on the test split, seed 0, the default
    draws / trials (NOISE_DRAWS, FAULT_TRIALS); output noise scaled on the first CALIBRATION_IMAGES training images."""
    from ._faults import parse_perturbed, perturbed_objective

    parse_perturbed(name)  # a malformed name fails before any work

    def fn(ctx: EvalContext) -> Objective:
        test = ctx.dataset.test
        return perturbed_objective(ctx.model, test.x, test.y, name, calibration=ctx.dataset.train.x[:CALIBRATION_IMAGES])[0]

    return fn


def is_input_noise_objective(name: str) -> bool:
    """accuracy@noise:<kind>:<level> with kind gaussian, uniform or salt-pepper: noise on the input pixels."""
    from ._noise import NOISE_KINDS

    try:
        n = ObjectiveName.parse(name)
    except ConfigError:  # not a name of the grammar
        return False
    return n.quantity == "accuracy" and n.method == "noise" and n.setting.partition(":")[0] in NOISE_KINDS


def _input_noise(name: str) -> ObjectiveFn:
    """accuracy@noise:<kind>:<level>: mean accuracy over INPUT_NOISE_DRAWS seeded draws (seed 0) on the test split, as
    `paretonet robustness --noise` measures it."""
    from ._noise import noise_robustness, parse_noise_spec

    kind, levels = parse_noise_spec(ObjectiveName.parse(name).setting)
    if len(levels) != 1 or input_noise_name(kind, levels[0]) != name:
        raise ConfigError(f"objective {name!r}: expected accuracy@noise:<kind>:<level> with one level")

    def fn(ctx: EvalContext) -> Objective:
        test = ctx.dataset.test
        p = noise_robustness(ctx.model, test.x, test.y, kind, levels, draws=INPUT_NOISE_DRAWS, seed=0)[0]
        return accuracy_objective(name, p.mean_accuracy, len(test))

    return fn


def _certified(name: str) -> ObjectiveFn:
    """certified_accuracy@smoothing:l2:<radius> (SmoothingConfig's defaults) / certified_accuracy@ibp:linf:<eps>
    on the test split."""
    from ._certify import certified_objective, parse_certified

    parse_certified(name)  # a malformed name fails before any work

    def fn(ctx: EvalContext) -> Objective:
        test = ctx.dataset.test
        return certified_objective(ctx.model, test.x, test.y, name)[0]

    return fn


def priced_objectives(model: nn.Module, dataset: Dataset, names: Sequence[str] = BASIC_OBJECTIVES,
                      ) -> tuple[tuple[Objective, ...], str | None]:
    """evaluate_objectives, except that the MAC count and energy of a model with an operation the cost models
    cannot price (a user's LSTM) are left out, absent rather than wrong; the reason is returned with the rest."""
    objectives, reasons = [], []
    ctx = EvalContext(model, dataset)
    for name, fn in zip(names, _objective_fns(names)):
        try:
            objectives.append(fn(ctx))
        except ArchitectureError as e:
            if not (name == "macs" or ObjectiveName.parse(ALIASES.get(name, name)).energy_part is not None):
                raise
            reasons.append(f"{e}; {name} not measured")
    return tuple(objectives), (reasons[0].rsplit("; ", 1)[0] + "; MACs and energy not measured") if reasons else None


def evaluate_objectives(model: nn.Module, dataset: Dataset, names: Sequence[str] = BASIC_OBJECTIVES, *,
                        context: EvalContext | None = None) -> tuple[Objective, ...]:
    """Compute the named objectives of `model` (as it is: float, quantized, pruned or approximate) on `dataset`:
    the registry's, accuracy under any computation noise or fault model named as its objective, and certified
    accuracy by randomized smoothing or interval bounds."""
    fns = _objective_fns(names)
    ctx = context if context is not None else EvalContext(model, dataset)  # a caller's: its energy estimate is shared
    return tuple(fn(ctx) for fn in fns)


def _objective_fns(names: Sequence[str]) -> list[ObjectiveFn]:
    """The function of each name; an unknown name fails here, before any work."""
    from ._certify import is_certified_objective
    from ._faults import is_perturbed_objective

    return [_perturbed(n) if n not in OBJECTIVES and is_perturbed_objective(n)
            else _certified(n) if n not in OBJECTIVES and is_certified_objective(n)
            else _input_noise(n) if n not in OBJECTIVES and is_input_noise_objective(n)
            else OBJECTIVES.get(n) for n in names]
