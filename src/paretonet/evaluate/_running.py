"""Running one attack the way a model needs it (white-box, BPDA or transfer) and checking its outputs."""

from __future__ import annotations

import torch
from torch import nn

from ..layers import eval_mode, gradient_mode
from ..errors import ConfigError
from ._attacks import PGD, Attack, AttackConfig, make_attack


def _attack(model: nn.Module, config: AttackConfig, how: str) -> tuple[Attack, str]:
    """The attack and the gradient mode it runs in: on the model itself, with BPDA, or on its differentiable twin."""
    mode = {"white": "exact", "bpda": "bpda", "transfer": "surrogate"}[how]
    # transfer: the twin supplies gradients, the scored model decides what counts as fooled
    return make_attack(config, (lambda xa: predict(model, xa)) if how == "transfer" else None), mode


def run_attack(model: nn.Module, config: AttackConfig, how: str, x: torch.Tensor, y: torch.Tensor,
               index: torch.Tensor) -> torch.Tensor:
    """Adversarial inputs from one attack: on the model itself (white), with BPDA, or by transfer."""
    attack, mode = _attack(model, config, how)
    with gradient_mode(model, mode):
        return attack(model, x, y, index)


def walk_attack(model: nn.Module, config: AttackConfig, how: str, x: torch.Tensor, y: torch.Tensor,
                index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """PGD as run_attack runs it, and per image the iterate that first fooled it (-1: none did)."""
    attack, mode = _attack(model, config, how)
    if not isinstance(attack, PGD):
        raise ConfigError(f"attack: got {config.name!r}, walk_attack runs pgd")
    with gradient_mode(model, mode), eval_mode(model), torch.enable_grad():
        adv, fooled_at = attack.walk(model, x.detach(), y, index)
    return adv.detach(), fooled_at


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    with eval_mode(model), torch.no_grad(), gradient_mode(model, "exact"):
        return torch.cat([model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


def bounds_violation(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> float:
    """How far adversarial inputs leave the eps-ball or [0, 1] (0 when all are inside)."""
    if len(x) == 0:
        return 0.0
    d = (x_adv - x).flatten(1)
    dist = d.abs().amax(1) if norm == "Linf" else d.norm(dim=1)
    outside = max(float((x_adv.min() * -1).clamp_min(0)), float((x_adv.max() - 1).clamp_min(0)))
    return max(float((dist - eps).clamp_min(0).max()), outside)
