"""Putting multipliers into a model: one for all layers or a per-layer assignment."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ...errors import ConfigError
from .._compute import resolve_layers
from .._quantize import calibrate, quantizable_layers
from ._layers import ApproxLayer
from ._multiplier import Multiplier

Assignment = Multiplier | Mapping[str, Multiplier]


def approximate_model(model: nn.Module, multipliers: Assignment, calibration: torch.Tensor | None, *,
                      exact_layers: Sequence[str] = (), engine: str = "auto") -> nn.Module:
    """A copy of `model` whose conv/linear layers multiply through the given tables.

    `multipliers` is one Multiplier for every layer or a mapping layer name -> Multiplier (unlisted
    layers stay float); `exact_layers` stay float either way. Activation ranges are calibrated on
    `calibration` images (None: left for a state dict to fill, as when a saved variant is loaded).
    """
    known = quantizable_layers(model)
    if isinstance(multipliers, Mapping):  # layers by readable name (conv1, classifier) or module name (1.1)
        plan = dict(zip(resolve_layers(model, list(multipliers), "layers"), multipliers.values()))
    else:
        plan = {n: multipliers for n in known}
    for n in resolve_layers(model, exact_layers, "exact layers"):
        plan.pop(n, None)
    if not plan:
        raise ConfigError("layers: no layer left to approximate")
    m = copy.deepcopy(model)
    for name, mult in plan.items():
        parent_name, _, child = name.rpartition(".")
        parent = m.get_submodule(parent_name) if parent_name else m
        setattr(parent, child, ApproxLayer(getattr(parent, child), mult, engine))
    if calibration is not None:
        calibrate(m, calibration)
    m.eval()
    return m


def approx_layers(model: nn.Module) -> dict[str, ApproxLayer]:
    """Approximate layers keyed by the wrapped layer's name (the energy model's layer names)."""
    return {f"{n}.layer": m for n, m in model.named_modules() if isinstance(m, ApproxLayer)}
