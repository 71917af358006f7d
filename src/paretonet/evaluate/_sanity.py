"""Sanity checks that catch a broken or gradient-masked robustness evaluation.

After Carlini et al. (2019) and AutoAttack's checks. Each check is a named pass/fail entry with
the number it was decided on. The gradient checks use the model's own gradients (exact mode),
so a model that masks its gradients is flagged even when the evaluation itself used BPDA.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ._attacks import AttackConfig
from ._gradients import gradient_mode

LARGE_EPS_LINF = 0.5  # at this Linf radius every image can be turned mid-gray: accuracy must collapse
LARGE_EPS_ACCURACY = 0.05
BLACKBOX_TOLERANCE = 0.05  # Square may beat white-box PGD by this much before masking is flagged
SQUARE_QUERIES = 1000


@dataclass(frozen=True)
class SanityCheck:
    name: str
    passed: bool
    value: float
    threshold: float
    detail: str


def _margin_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of (best other logit - true logit): unlike cross-entropy it does not vanish on confident images."""
    x = x.clone().requires_grad_(True)
    logits = model(x)
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.masked_fill(torch.nn.functional.one_hot(y, logits.shape[1]).bool(), float("-inf")).amax(1)
    (grad,) = torch.autograd.grad((other - true).sum(), x)
    return grad


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def run_sanity_checks(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str, seed: int, max_violation: float
) -> tuple[SanityCheck, ...]:
    from ._robustness import bounds_violation, run_attack

    n = len(x)
    tol = max(1, n // 300) / n  # "within one image in a few hundred"
    was_training = model.training
    checks: list[SanityCheck] = []
    model.eval()
    try:
        with gradient_mode(model, "exact"), torch.no_grad():
            a, b = model(x), model(x)
        diff = float((a - b).abs().max())
        checks.append(SanityCheck("deterministic_eval_mode", diff == 0.0, diff, 0.0,
                                  "two eval-mode passes differ by this much" +
                                  (" (model was handed in train mode; evaluated in eval mode)" if was_training else "")))
        sums = a.sum(1)
        probs = bool((a >= 0).all()) and float((sums - 1).abs().max()) < 1e-3
        checks.append(SanityCheck("outputs_are_logits", not probs, float((sums - 1).abs().max()), 1e-3,
                                  "rows summing to 1 with no negative entry look like probabilities"))
        with gradient_mode(model, "exact"):
            g = _margin_gradient(model, x, y)
        zero = float((g.flatten(1).abs().amax(1) == 0).double().mean())
        checks.append(SanityCheck("nonzero_input_gradients", zero <= tol, zero, tol,
                                  "fraction of images whose input gradient is exactly zero"))
        idx = torch.arange(n)

        def acc_of(name: str, steps: int | None = None, e: float = eps, queries: int = 5000) -> tuple[float, float]:
            cfg = AttackConfig(name, e, norm, steps=steps, queries=queries, seed=seed)
            adv = run_attack(model, cfg, "white", x, y, idx)
            with gradient_mode(model, "exact"):
                return _accuracy(model, adv, y), bounds_violation(adv, x, e, norm)

        fgsm, v1 = acc_of("fgsm")
        pgd10, v2 = acc_of("pgd", 10)
        pgd40, v3 = acc_of("pgd", 40)
        checks.append(SanityCheck("pgd_not_weaker_than_fgsm", pgd10 <= fgsm + tol, pgd10 - fgsm, tol,
                                  f"PGD-10 accuracy {pgd10:.4f} minus FGSM accuracy {fgsm:.4f}"))
        checks.append(SanityCheck("more_steps_never_help", pgd40 <= pgd10 + tol, pgd40 - pgd10, tol,
                                  f"PGD-40 accuracy {pgd40:.4f} minus PGD-10 accuracy {pgd10:.4f}"))
        large = LARGE_EPS_LINF if norm == "Linf" else LARGE_EPS_LINF * math.sqrt(x[0].numel())
        big, v4 = acc_of("pgd", 20, e=min(1.0, large) if norm == "Linf" else large)
        checks.append(SanityCheck("accuracy_vanishes_at_large_eps", big <= LARGE_EPS_ACCURACY, big, LARGE_EPS_ACCURACY,
                                  f"PGD-20 accuracy at eps {large:g}"))
        square, v5 = acc_of("square", queries=SQUARE_QUERIES)
        gap = pgd40 - square
        checks.append(SanityCheck("blackbox_not_below_whitebox", gap <= BLACKBOX_TOLERANCE, gap, BLACKBOX_TOLERANCE,
                                  f"white-box PGD-40 accuracy {pgd40:.4f} minus Square-{SQUARE_QUERIES} accuracy "
                                  f"{square:.4f}; above the tolerance gradients are masked"))
        worst = max(max_violation, v1, v2, v3, v4, v5)
        checks.append(SanityCheck("adversarials_within_eps_and_unit_range", worst <= 1e-6, worst, 1e-6,
                                  "largest distance of an adversarial input outside its eps-ball or [0, 1]"))
    finally:
        model.train(was_training)
    return tuple(checks)
