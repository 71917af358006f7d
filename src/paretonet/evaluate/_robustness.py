"""Worst-case robust accuracy over a preset of attacks, with per-image outcomes and eps sweeps.

Each attack runs only on the images every earlier attack failed to break (early exit); the
per-image outcome records which attack broke it. Models with NonDifferentiable layers are never
scored by plain white-box attacks: each gradient attack runs with BPDA and by transfer from the
differentiable twin, and Square always runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn

from ..errors import ConfigError, check_choice, check_float, check_int
from ..layers import has_gradient_free_layers
from ..records import Objective, per_image_accuracy, robust_name
from ._accuracy import images_id
from ._attacks import ATTACKS, NORMS, AttackConfig
from ._running import bounds_violation, predict, run_attack
from ._sanity import SanityCheck, SquareRun, run_sanity_checks

PRESETS: dict[str, tuple[str, ...]] = {
    "fast": ("fgsm", "pgd"),
    "standard": ("apgd-ce", "apgd-t", "fab-t", "square"),  # AutoAttack's standard set, in its order
    "full": ("fgsm", "pgd", "apgd-ce", "apgd-dlr", "apgd-t", "fab-t", "square"),
}
ITERATIVE = ("pgd", "apgd-ce", "apgd-dlr", "apgd-t", "fab-t")  # attacks that take `steps`
MISCLASSIFIED = "misclassified"
ProgressFn = Callable[[str, int, int], None]  # (attack name, images done, images to attack)


@dataclass(frozen=True)
class RobustnessConfig:
    eps: float = 0.1
    norm: str = "Linf"
    preset: str = "standard"
    attacks: tuple[str, ...] | None = None  # overrides the preset's list
    steps: int | None = None  # None: each attack's default
    restarts: int = 1
    queries: int = 5000
    seed: int = 0
    early_exit: bool = True
    sanity: bool = True
    sanity_images: int = 200  # the first images of the evaluation run the sanity checks
    sanity_queries: int = 1000  # Square's queries in the black-box check
    batch_size: int = 500

    def __post_init__(self) -> None:
        check_float("eps", self.eps, minimum=0.0, maximum=1.0)
        check_choice("norm", self.norm, NORMS)
        if self.attacks is None:
            check_choice("preset", self.preset, tuple(PRESETS))
        else:
            if not self.attacks:
                raise ConfigError("attacks: got an empty list, expected at least one attack")
            for a in self.attacks:
                ATTACKS.get(a)
        if self.steps is not None:
            check_int("steps", self.steps, minimum=1)
        check_int("restarts", self.restarts, minimum=1)
        check_int("queries", self.queries, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_int("sanity_images", self.sanity_images, minimum=1)
        check_int("sanity_queries", self.sanity_queries, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)

    @property
    def attack_names(self) -> tuple[str, ...]:
        return self.attacks if self.attacks is not None else PRESETS[self.preset]

    @property
    def label(self) -> str:
        return self.preset if self.attacks is None else "+".join(self.attacks)

    def attack_config(self, name: str) -> AttackConfig:
        steps = self.steps if name in ITERATIVE else None
        return AttackConfig(name, self.eps, self.norm, steps=steps, restarts=self.restarts,
                            queries=self.queries, seed=self.seed)


@dataclass(frozen=True)
class AttackOutcome:
    name: str  # e.g. "pgd", "pgd/bpda", "pgd/transfer", "square"
    budget: dict = field(hash=False)
    images_attacked: int
    images_broken: int
    robust_accuracy_after: float  # worst case over this and all earlier attacks
    seconds: float


@dataclass(frozen=True)
class RobustnessResult:
    eps: float
    norm: str
    preset: str
    seed: int
    n_images: int
    clean_accuracy: float
    robust_accuracy: float
    gradient_mode: str  # "white-box" or "bpda+transfer+square"
    attacks: tuple[AttackOutcome, ...]
    broken_by: tuple[str, ...]  # per image: "" robust, "misclassified", or the attack that broke it
    sanity: tuple[SanityCheck, ...] = ()
    seconds: float = 0.0
    sanity_images: int = 0  # the sanity checks' budget (0: not run)
    sanity_queries: int = 0
    images_id: str = ""  # fingerprint of the attacked images and labels
    sanity_seconds: float = 0.0  # the sanity checks' share of `seconds`
    sanity_square_reused: bool = False  # the black-box check read the evaluation's own Square (no second run)

    @property
    def attack_seconds(self) -> float:
        return sum(a.seconds for a in self.attacks)

    @property
    def sanity_passed(self) -> bool:
        return all(c.passed for c in self.sanity)

    @property
    def gradient_masking_suspected(self) -> bool:
        return any(not c.passed for c in self.sanity if c.name in ("nonzero_input_gradients", "blackbox_not_below_whitebox"))

    def details(self) -> dict:
        """What a record shows beyond the objective: per-attack table, sanity checks, budgets."""
        d = asdict(self)
        d.pop("broken_by")
        d["broken_by_counts"] = {k: self.broken_by.count(k) for k in sorted(set(self.broken_by)) if k}
        d["gradient_masking_suspected"] = self.gradient_masking_suspected
        d["attack_seconds"] = self.attack_seconds
        return d

    def budgets(self) -> dict:
        b = {"robust_images": self.n_images, "attacks": {a.name: a.budget for a in self.attacks}}
        if self.sanity:
            b["sanity"] = {"images": self.sanity_images, "square_queries": self.sanity_queries}
        return b

    def objective(self) -> Objective:
        """Per-image robust accuracy: the attack's name when one attack ran as asked, else 'worst:<label>'
        (a preset, or one attack run by BPDA, transfer and Square on a model without useful gradients)."""
        attacks = self.preset if len(self.attacks) == 1 else f"worst:{self.preset}"
        return per_image_accuracy(robust_name(attacks, self.eps), [b == "" for b in self.broken_by], self.images_id)


def _plan(model: nn.Module, cfg: RobustnessConfig) -> tuple[list[tuple[str, AttackConfig, str]], str]:
    """(display name, attack config, how) in run order; how is white | bpda | transfer."""
    names = cfg.attack_names
    if not has_gradient_free_layers(model):
        return [(n, cfg.attack_config(n), "white") for n in names], "white-box"
    plan = []
    for n in names:
        if n == "square":
            plan.append((n, cfg.attack_config(n), "white"))
        else:
            plan += [(f"{n}/bpda", cfg.attack_config(n), "bpda"), (f"{n}/transfer", cfg.attack_config(n), "transfer")]
    if "square" not in names:
        plan.append(("square", cfg.attack_config("square"), "white"))
    return plan, "bpda+transfer+square"


class RobustnessAbandoned(Exception):
    """The caller's give_up ended an evaluation: the worst case is at most `at_most` after the attacks in `ran`."""

    def __init__(self, at_most: float, ran: tuple[str, ...], seconds: float) -> None:
        super().__init__(f"abandoned at robust accuracy <= {at_most:.4f} after {', '.join(ran) or 'no attack'}")
        self.at_most, self.ran, self.seconds = at_most, ran, seconds


def evaluate_robustness(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: RobustnessConfig = RobustnessConfig(),
    *,
    progress: ProgressFn | None = None,
    give_up: Callable[[float], bool] | None = None,
) -> RobustnessResult:
    """Worst-case robust accuracy of `model` on (x, y) under config's attacks at config.eps.

    The per-image worst case only falls as attacks run, so the accuracy standing before each attack (the clean
    accuracy before the first) bounds the result from above: `give_up(bound)` is asked then, and when it says yes
    the evaluation ends with RobustnessAbandoned (a search stops a trial that cannot reach its front that way)."""
    start = time.perf_counter()
    n = len(x)
    if n == 0:
        raise ConfigError("images: got 0 images, expected at least 1")
    clean = predict(model, x, config.batch_size) == y
    robust = clean.clone()
    broken_by = ["" if c else MISCLASSIFIED for c in clean.tolist()]
    plan, mode = _plan(model, config)
    outcomes = []
    max_violation = 0.0
    for name, acfg, how in plan:
        if give_up is not None and give_up(float(robust.double().mean())):
            raise RobustnessAbandoned(float(robust.double().mean()), tuple(o.name for o in outcomes),
                                      time.perf_counter() - start)
        t0 = time.perf_counter()
        todo = torch.nonzero(robust if config.early_exit else torch.ones(n, dtype=torch.bool)).flatten()
        broken_here = 0
        for b in range(0, len(todo), config.batch_size):
            idx = todo[b : b + config.batch_size]
            adv = run_attack(model, acfg, how, x[idx], y[idx], idx)
            max_violation = max(max_violation, bounds_violation(adv, x[idx], config.eps, config.norm))
            fooled = predict(model, adv, config.batch_size) != y[idx]
            newly = idx[fooled & robust[idx]]
            for i in newly.tolist():
                broken_by[i] = name
            robust[newly] = False
            broken_here += len(newly)
            if progress is not None:
                progress(name, min(b + config.batch_size, len(todo)), len(todo))
        outcomes.append(AttackOutcome(name, acfg.budget(), len(todo), broken_here, float(robust.double().mean()),
                                      time.perf_counter() - t0))
    sanity: tuple[SanityCheck, ...] = ()
    square_run, t_sanity = None, 0.0
    m = min(n, config.sanity_images) if config.sanity else 0
    if config.sanity:
        t0 = time.perf_counter()
        square_run = _square_run(plan, broken_by[:m], config)
        sanity = run_sanity_checks(model, x[:m], y[:m], config.eps, config.norm, config.seed, max_violation,
                                   config.sanity_queries, square_run)
        t_sanity = time.perf_counter() - t0
    return RobustnessResult(
        eps=config.eps, norm=config.norm, preset=config.label, seed=config.seed, n_images=n,
        clean_accuracy=float(clean.double().mean()), robust_accuracy=float(robust.double().mean()),
        gradient_mode=mode, attacks=tuple(outcomes), broken_by=tuple(broken_by), sanity=sanity,
        sanity_images=m, sanity_queries=(square_run.queries if square_run else config.sanity_queries) if config.sanity else 0,
        seconds=time.perf_counter() - start, images_id=images_id(x, y), sanity_seconds=t_sanity,
        sanity_square_reused=square_run is not None,
    )


def _square_run(plan: list[tuple[str, AttackConfig, str]], broken_by: list[str],
                config: RobustnessConfig) -> SquareRun | None:
    """The evaluation's Square as the black-box check sees it, when it ran last with at least the check's queries:
    per image, left standing by every gradient attack, and broken by Square."""
    name, acfg, _ = plan[-1]
    if name != "square" or len(plan) < 2 or acfg.queries < config.sanity_queries:
        return None
    broken = torch.tensor([b == "square" for b in broken_by], dtype=torch.bool)
    standing = torch.tensor([b == "" for b in broken_by], dtype=torch.bool) | broken
    return SquareRun(standing, broken, acfg.queries, "+".join(n for n, _, _ in plan[:-1]))


def robustness_curve(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps_values: Sequence[float],
    config: RobustnessConfig = RobustnessConfig(), *, progress: ProgressFn | None = None,
) -> tuple[RobustnessResult, ...]:
    """Worst-case robust accuracy at each eps, each with its own sanity checks."""
    if not eps_values:
        raise ConfigError("eps: got an empty list, expected at least one value")
    configs = [replace(config, eps=e) for e in eps_values]  # every eps checked before the first attack runs
    return tuple(evaluate_robustness(model, x, y, c, progress=progress) for c in configs)
