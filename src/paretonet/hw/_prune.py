"""Pruning: unstructured magnitude (torch.nn.utils.prune) and channel removal (torch-pruning).

Channel pruning physically removes filters and the inputs that consumed them; a space whose
genotypes encode widths (lenet) maps the smaller network back to a genotype (SearchSpace.genotype_of).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import prune

from ..errors import check_choice, check_float
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
