"""Objectives registry: a new objective is one function from an EvalContext to an Objective."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from .._registry import Registry
from ..data import Dataset
from ..errors import ArchitectureError
from ..hw import count_macs, count_params, size_bytes
from ..records import Objective
from ._accuracy import accuracy


@dataclass(frozen=True, eq=False)
class EvalContext:
    model: nn.Module
    dataset: Dataset
    bits: int = 32  # storage bit width of the parameters


ObjectiveFn = Callable[[EvalContext], Objective]
OBJECTIVES: Registry[ObjectiveFn] = Registry("objective")
BASIC_OBJECTIVES = ("accuracy", "params", "size_bytes", "macs", "energy")
ENERGY_HARDWARE, ENERGY_DATAFLOW = "horowitz45", "A"


@OBJECTIVES.register("accuracy")
def _accuracy(ctx: EvalContext) -> Objective:
    return Objective("accuracy", accuracy(ctx.model, ctx.dataset.test), "fraction", "max")


@OBJECTIVES.register("params")
def _params(ctx: EvalContext) -> Objective:
    return Objective("params", float(count_params(ctx.model)), "count", "min")


@OBJECTIVES.register("size_bytes")
def _size(ctx: EvalContext) -> Objective:
    return Objective("size_bytes", float(size_bytes(ctx.model, ctx.bits)), "bytes", "min")


@OBJECTIVES.register("macs")
def _macs(ctx: EvalContext) -> Objective:
    return Objective("macs", float(count_macs(ctx.model, ctx.dataset.input_shape).total_macs), "MACs", "min")


@OBJECTIVES.register("energy")
def _energy(ctx: EvalContext) -> Objective:
    from ..hw import FLOAT32, LayerBits, model_energy

    bits = FLOAT32 if ctx.bits == 32 else LayerBits.integer(ctx.bits)
    e = model_energy(ctx.model, ctx.dataset.input_shape, ENERGY_HARDWARE, ENERGY_DATAFLOW, bits=bits)
    return Objective(f"energy_pj@{ENERGY_HARDWARE}:{ENERGY_DATAFLOW}", e.total_pj, "pJ", "min")


def check_input_shape(expected: Sequence[int], dataset: Dataset) -> None:
    if tuple(expected) != dataset.input_shape:
        raise ArchitectureError(
            f"wrong input shape: the model expects {tuple(expected)}, dataset {dataset.name!r} has {dataset.input_shape}"
        )


def evaluate_objectives(
    model: nn.Module, dataset: Dataset, names: Sequence[str] = BASIC_OBJECTIVES, *, bits: int = 32
) -> tuple[Objective, ...]:
    """Compute the named objectives of `model` on `dataset`'s test split."""
    fns = [OBJECTIVES.get(n) for n in names]  # unknown names fail before any work
    ctx = EvalContext(model, dataset, bits)
    return tuple(fn(ctx) for fn in fns)
