"""Sanity checks that catch a broken or gradient-masked robustness evaluation.

After Carlini et al. (2019) and AutoAttack's checks. Each check is a named pass/fail entry with
the number it was decided on; counts are in images, so a tolerance reads as "one image in N".
A model with NonDifferentiable layers (quantized, approximate) has no useful gradient of its
own: its gradient checks use BPDA, and "Square not below white-box" compares Square with the
stronger of BPDA and transfer from the differentiable twin, the attacks its score relies on.

The checks share work with each other and with the evaluation: PGD-10 and PGD-40 are one walk (PGD-10's
iterates are PGD-40's first ten), PGD stops on each image at the first iterate that breaks it (so does the
large-eps check), and when the evaluation itself ran Square last, its per-image results answer the
black-box check instead of a second Square run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import eval_mode, gradient_mode, has_gradient_free_layers
from ._attacks import AttackConfig
from ._running import bounds_violation, run_attack, walk_attack

LARGE_EPS_LINF = 0.5  # at this Linf radius every image can be turned mid-gray: accuracy must collapse
LARGE_EPS_ACCURACY = 0.05
BLACKBOX_TOLERANCE = 0.05  # Square may break this share of the images white-box PGD left standing
SQUARE_QUERIES = 1000
STEP_FRACTION = 0.25  # PGD step size of the step-count checks: eps / 4 for both runs
FEW_STEPS, MANY_STEPS = 10, 40


@dataclass(frozen=True)
class SanityCheck:
    name: str
    passed: bool
    value: float
    threshold: float
    detail: str


@dataclass(frozen=True)
class SquareRun:
    """The evaluation's own Square, run last on the images its gradient attacks left standing (per image, bool)."""

    standing: torch.Tensor  # clean-correct and unbroken by every gradient attack before Square
    broken: torch.Tensor  # of those, broken by Square
    queries: int
    before: str  # the gradient attacks before it, for the check's detail line


def _margin_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of (best other logit - true logit): unlike cross-entropy it does not vanish on confident images."""
    x = x.clone().requires_grad_(True)
    logits = model(x)
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), float("-inf")).amax(1)
    (grad,) = torch.autograd.grad((other - true).sum(), x)
    return grad


def _correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), gradient_mode(model, "exact"):
        return model(x).argmax(1) == y


def run_sanity_checks(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str, seed: int, max_violation: float,
    square_queries: int = SQUARE_QUERIES, square_run: SquareRun | None = None,
) -> tuple[SanityCheck, ...]:
    """The checks on (x, y); `square_run` (the evaluation's Square on these images) replaces the black-box run."""
    n = len(x)
    tol = max(1, n // 300)  # images: "within one image in a few hundred"
    masked_model = has_gradient_free_layers(model)
    how, grad_mode = ("bpda", "bpda") if masked_model else ("white", "exact")
    via = " (BPDA)" if masked_model else ""
    was_training = model.training
    checks: list[SanityCheck] = []
    violations = [max_violation]
    idx = torch.arange(n)

    def still_correct(name: str, steps: int | None = None, e: float = eps, step_size: float | None = None,
                      queries: int = 5000, mode: str = how, only: torch.Tensor | None = None) -> torch.Tensor:
        """Per image: still classified correctly after the attack (run on `only` of them when given)."""
        rows = torch.arange(n) if only is None else torch.nonzero(only).flatten()
        out = torch.zeros(n, dtype=torch.bool)
        if len(rows):
            cfg = AttackConfig(name, e, norm, steps=steps, step_size=step_size, queries=queries, seed=seed)
            adv = run_attack(model, cfg, mode, x[rows], y[rows], idx[rows])
            violations.append(bounds_violation(adv, x[rows], e, norm))
            out[rows] = _correct(model, adv, y[rows])
        return out

    with eval_mode(model):
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
        with gradient_mode(model, grad_mode):
            g = _margin_gradient(model, x, y)
        zero = int((g.flatten(1).abs().amax(1) == 0).sum())
        checks.append(SanityCheck("nonzero_input_gradients", zero <= tol, zero, tol,
                                  f"images of {n} whose input gradient{via} is exactly zero"))
        fgsm = int(still_correct("fgsm").sum())
        step = STEP_FRACTION * eps
        # one walk of PGD-40; PGD-10 (same start, same step size) is its first ten iterates
        adv, fooled_at = walk_attack(model, AttackConfig("pgd", eps, norm, steps=MANY_STEPS, step_size=step, seed=seed),
                                     how, x, y, idx)
        violations.append(bounds_violation(adv, x, eps, norm))
        standing = _correct(model, adv, y)
        many, few = int(standing.sum()), int((standing | (fooled_at > FEW_STEPS)).sum())
        checks.append(SanityCheck("pgd_not_weaker_than_fgsm", few <= fgsm + tol, few - fgsm, tol,
                                  f"images of {n} still correct after PGD-{FEW_STEPS}{via} ({few}) minus after "
                                  f"FGSM ({fgsm})"))
        checks.append(SanityCheck("more_steps_never_help", many <= few + tol, many - few, tol,
                                  f"images of {n} still correct after PGD-{MANY_STEPS} ({many}) minus after "
                                  f"PGD-{FEW_STEPS} ({few}){via}, both with step size eps/4 from the same start"))
        large = LARGE_EPS_LINF if norm == "Linf" else LARGE_EPS_LINF * math.sqrt(x[0].numel())
        big = float(still_correct("pgd", 20, e=min(1.0, large) if norm == "Linf" else large).double().mean())
        checks.append(SanityCheck("accuracy_vanishes_at_large_eps", big <= LARGE_EPS_ACCURACY, big, LARGE_EPS_ACCURACY,
                                  f"accuracy after PGD-20{via} at eps {large:g}"))
        if square_run is not None:  # the evaluation's Square already ran where its gradient attacks failed
            standing, broken, queries, what = square_run.standing, square_run.broken, square_run.queries, square_run.before
        else:
            what = f"PGD-{MANY_STEPS}"
            if masked_model:
                standing &= still_correct("pgd", MANY_STEPS, step_size=step, mode="transfer", only=standing)
                what = f"PGD-{MANY_STEPS} by BPDA and by transfer"
            # Square runs on the images the gradient attacks left standing: any it breaks, they missed
            broken = standing & ~still_correct("square", queries=square_queries, mode="white", only=standing)
            queries = square_queries
        gap = float(broken.double().mean())
        checks.append(SanityCheck("blackbox_not_below_whitebox", gap <= BLACKBOX_TOLERANCE, gap, BLACKBOX_TOLERANCE,
                                  f"share of the {n} images left standing by {what} ({int(standing.sum())}) that "
                                  f"Square-{queries} broke; above the tolerance gradients are masked"))
    worst = max(violations)
    checks.append(SanityCheck("adversarials_within_eps_and_unit_range", worst <= 1e-6, worst, 1e-6,
                              "largest distance of an adversarial input outside its eps-ball or [0, 1]"))
    return tuple(checks)
