"""Putting multipliers into a model: per-layer assignment, straight-through retraining, sensitivity."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from ...data import Dataset
from ...errors import ConfigError
from ...evaluate import accuracy
from ...evaluate._gradients import gradient_mode
from ...train import TrainConfig, train
from .._quantize import QUANTIZABLE, calibrate, quantizable_layers
from ._layers import ApproxLayer
from ._multiplier import Multiplier

Assignment = Multiplier | Mapping[str, Multiplier]


def _check_layers(names: Sequence[str], known: list[str], what: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"{what}: unknown layer(s) {', '.join(unknown)}; conv/linear layers: {', '.join(known)}")


def approximate_model(model: nn.Module, multipliers: Assignment, calibration: torch.Tensor, *,
                      exact_layers: Sequence[str] = (), engine: str = "auto") -> nn.Module:
    """A copy of `model` whose conv/linear layers multiply through the given tables.

    `multipliers` is one Multiplier for every layer or a mapping layer name -> Multiplier (unlisted
    layers stay float); `exact_layers` stay float either way. Activation ranges are calibrated on
    `calibration` images.
    """
    known = quantizable_layers(model)
    if isinstance(multipliers, Mapping):
        _check_layers(list(multipliers), known, "layers")
        plan = dict(multipliers)
    else:
        plan = {n: multipliers for n in known}
    _check_layers(list(exact_layers), known, "exact layers")
    for n in exact_layers:
        plan.pop(n, None)
    if not plan:
        raise ConfigError("layers: no layer left to approximate")
    m = copy.deepcopy(model)
    for name, mult in plan.items():
        parent_name, _, child = name.rpartition(".")
        parent = m.get_submodule(parent_name) if parent_name else m
        setattr(parent, child, ApproxLayer(getattr(parent, child), mult, engine))
    calibrate(m, calibration)
    m.eval()
    return m


def approx_layers(model: nn.Module) -> dict[str, ApproxLayer]:
    """Approximate layers keyed by the wrapped layer's name (the energy model's layer names)."""
    return {f"{n}.layer": m for n, m in model.named_modules() if isinstance(m, ApproxLayer)}


def power_factors(model: nn.Module) -> dict[str, float]:
    """Multiplier power relative to the exact 8x8 multiplier, per approximate layer (known power only)."""
    return {n: m.multiplier.relative_power for n, m in approx_layers(model).items()
            if m.multiplier.relative_power is not None}


def retrain(model: nn.Module, dataset: Dataset, epochs: int, config: TrainConfig = TrainConfig(),
            lr_scale: float = 0.3) -> nn.Module:
    """Straight-through fine-tuning: forward through the tables, gradient of the exact products.

    Cosine schedule from the training's lr x lr_scale; the training loop keeps the best validation
    epoch. (No comparison with the starting point: the float model was selected on the same
    validation split, so its validation accuracy is biased upwards.) Measured on LeNet-5/digits
    with mul8u_L40, 2 epochs, seeds 0-3: recovered 62-100 % of the drop, against 8-77 % with the
    constant full lr this replaced (a converged model is thrown off by a restart at full lr).
    """
    if not approx_layers(model):
        raise ConfigError("retrain: the model has no approximate layers")
    if epochs:
        with gradient_mode(model, "bpda"):
            train(model, dataset, replace(config, epochs=epochs, lr=config.lr * lr_scale, schedule="cosine"))
    model.eval()
    return model


@dataclass(frozen=True)
class LayerSensitivity:
    layer: str
    multiplier: str
    accuracy: float
    drop: float  # baseline accuracy minus this accuracy


def layer_sensitivity(model: nn.Module, dataset: Dataset, multipliers: Sequence[Multiplier],
                      calibration_images: int = 1000) -> tuple[float, list[LayerSensitivity]]:
    """Accuracy when each layer alone uses each multiplier (the rest float): guides per-layer assignment."""
    base = accuracy(model, dataset.test)
    calib = dataset.train.x[:calibration_images]
    rows = []
    for name, module in model.named_modules():
        if not isinstance(module, QUANTIZABLE):
            continue
        for mult in multipliers:
            acc = accuracy(approximate_model(model, {name: mult}, calib), dataset.test)
            rows.append(LayerSensitivity(name, mult.name, acc, base - acc))
    return base, rows
