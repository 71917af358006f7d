"""Putting multipliers into a model: one for all layers or a per-layer assignment."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ...errors import ConfigError
from .._compute import layer_names, resolve_layers
from .._quantize import calibrate, quantizable_layers
from ._designs import build_design
from ._layers import ApproxLayer
from ._multiplier import Multiplier

Assignment = Multiplier | Mapping[str, Multiplier]


def approximate_model(model: nn.Module, multipliers: Assignment, calibration: torch.Tensor | None, *,
                      exact_layers: Sequence[str] = (), float_layers: Sequence[str] = (),
                      engine: str = "auto") -> nn.Module:
    """A copy of `model` whose conv/linear layers compute in 8 bits, each in one of three states.

    `multipliers` is one Multiplier for every layer or a mapping layer -> Multiplier; `exact_layers`
    and the layers a mapping leaves out multiply through the exact table (exact 8-bit); `float_layers`
    stay float. Layers by readable name (conv1, classifier) or module name (1.1). Activation ranges
    are calibrated on `calibration` images (None: left for a state dict to fill, as when a saved
    variant is loaded).
    """
    known = quantizable_layers(model)
    floats = set(resolve_layers(model, float_layers, "float layers"))
    exact = set(resolve_layers(model, exact_layers, "exact layers"))
    if isinstance(multipliers, Mapping):
        plan = dict(zip(resolve_layers(model, list(multipliers), "layers"), multipliers.values()))
    else:
        plan = {n: multipliers for n in known if n not in floats}
    names = layer_names(model)
    for what, clash in (("exact and float", exact & floats), ("approximate and float", set(plan) & floats),
                        ("approximate and exact", set(plan) & exact if isinstance(multipliers, Mapping) else set())):
        if clash:
            raise ConfigError(f"layers: {', '.join(names[n] for n in sorted(clash))} cannot be both {what}")
    exact_table = build_design("exact")
    plan.update({n: exact_table for n in known if n in exact or (n not in plan and n not in floats)})
    if not plan:
        raise ConfigError("layers: every layer is float; nothing computes in 8 bits")
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
