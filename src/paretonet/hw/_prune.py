"""Pruning: unstructured magnitude (torch.nn.utils.prune) and channel removal (torch-pruning).

Channel pruning physically removes filters and the inputs that consumed them; for the lenet
space the smaller network is again a genotype, so it saves and loads like any other model.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import prune

from ..errors import ArchitectureError, check_choice, check_float
from ..spaces import Architecture
from ._quantize import QUANTIZABLE


def _check_ratio(name: str, ratio: float) -> float:
    return check_float(name, ratio, minimum=0.0, maximum=1.0, max_inclusive=False)


def prune_unstructured(model: nn.Module, amount: float, scope: str = "global") -> nn.Module:
    """A copy with the smallest-magnitude `amount` of conv/linear weights masked to zero.

    The masks stay attached (so fine-tuning keeps the zeros) until finalize_pruning().
    """
    _check_ratio("prune", amount)
    check_choice("prune scope", scope, ("global", "layer"))
    m = copy.deepcopy(model)
    params = [(mod, "weight") for mod in m.modules() if isinstance(mod, QUANTIZABLE)]
    if amount == 0:
        return m
    if scope == "global":
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
    else:
        for mod, name in params:
            prune.l1_unstructured(mod, name, amount=amount)
    return m


def finalize_pruning(model: nn.Module) -> nn.Module:
    """Bake masks into the weights (in place) so the state dict is a plain one again."""
    for mod in model.modules():
        if prune.is_pruned(mod) and hasattr(mod, "weight_mask"):
            prune.remove(mod, "weight")
    return model


def weight_density(model: nn.Module) -> dict[str, float]:
    """Fraction of non-zero weights of every conv/linear layer."""
    return {n: float((m.weight != 0).double().mean()) for n, m in model.named_modules() if isinstance(m, QUANTIZABLE)}


def prune_channels(model: nn.Module, ratio: float, input_shape: tuple[int, int, int]) -> nn.Module:
    """A copy with `ratio` of every conv's filters and hidden linear units removed (L1 magnitude)."""
    import torch_pruning as tp

    _check_ratio("channels", ratio)
    m = copy.deepcopy(model).eval()
    linears = [mod for mod in m.modules() if isinstance(mod, nn.Linear)]
    if ratio == 0:
        return m
    pruner = tp.pruner.MagnitudePruner(
        m, torch.zeros(1, *input_shape), importance=tp.importance.MagnitudeImportance(p=1),
        pruning_ratio=ratio, ignored_layers=linears[-1:],  # the classifier keeps one output per class
    )
    pruner.step()
    return m


def lenet_architecture_of(model: nn.Module, arch: Architecture) -> Architecture:
    """The lenet genotype whose widths are those of `model` (after channel pruning)."""
    from dataclasses import replace

    if arch.space != "lenet":
        raise ArchitectureError(f"channel pruning keeps a loadable genotype only for the lenet space, got {arch.space}")
    g = arch.decode()
    convs = [mod for mod in model.modules() if isinstance(mod, nn.Conv2d)]
    linears = [mod for mod in model.modules() if isinstance(mod, nn.Linear)][:-1]
    new = replace(g, convs=tuple(replace(c, channels=k.out_channels) for c, k in zip(g.convs, convs)),
                  fcs=tuple(replace(f, width=lin.out_features) for f, lin in zip(g.fcs, linears)))
    return Architecture.of("lenet", new)
