"""Adversarial attacks on inputs in [0, 1]: one uniform call, one registry.

FGSM and PGD are written here (a few lines each, and fast: inputs that are already broken leave
the batch). APGD-CE, APGD-DLR, APGD-T, FAB-T and Square are the reference AutoAttack code (PyPI pyautoattack),
run under a forked RNG so they never touch the caller's global random state.

Every random start is drawn per image from (seed, restart, image index), so an image meets the
same attack whatever else is in its batch: early exit in the worst case changes no outcome.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._registry import Registry
from ..errors import ConfigError, check_float, check_int
from ..layers import eval_mode

NORMS = ("Linf", "L2")


@dataclass(frozen=True)
class AttackConfig:
    """One attack and its budget. steps=None takes the attack's default (FGSM 1, PGD 20, APGD 100)."""

    name: str
    eps: float
    norm: str = "Linf"
    steps: int | None = None
    step_size: float | None = None  # PGD only; default 2.5 * eps / steps
    restarts: int = 1
    queries: int = 5000  # Square only
    seed: int = 0

    def __post_init__(self) -> None:
        ATTACKS.get(self.name)
        check_float("eps", self.eps, minimum=0.0, maximum=1.0)
        if self.norm not in ATTACKS.get(self.name).norms:
            raise ConfigError(f"norm: got {self.norm!r} for {self.name}, expected one of {', '.join(ATTACKS.get(self.name).norms)}")
        if self.steps is not None:
            check_int("steps", self.steps, minimum=1)
        if self.step_size is not None:
            check_float("step_size", self.step_size, minimum=0.0, min_inclusive=False)
        check_int("restarts", self.restarts, minimum=1)
        check_int("queries", self.queries, minimum=1)
        check_int("seed", self.seed, minimum=0)

    def budget(self) -> dict[str, object]:
        """The resolved budget, recorded with every result."""
        cls = ATTACKS.get(self.name)
        d = asdict(self)
        d["steps"] = self.steps or cls.default_steps
        if self.name == "pgd":
            d["step_size"] = self.step_size or 2.5 * self.eps / d["steps"]
        else:
            d.pop("step_size")
        if self.name != "square":
            d.pop("queries")
        else:
            d.pop("steps")
        return d


Judge = Callable[[torch.Tensor], torch.Tensor]  # inputs -> predicted labels of the model being scored


class Attack:
    """attack(model, x, y, index) -> adversarial x. The model is put in eval mode and restored.

    `judge`, when given, decides whether an input fools the model being scored; the attack's own
    model then only supplies gradients (transfer from a differentiable twin).
    """

    name = ""
    norms: tuple[str, ...] = NORMS
    default_steps = 1

    def __init__(self, config: AttackConfig, judge: Judge | None = None) -> None:
        self.config = config
        self.judge = judge

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        index = torch.arange(len(x)) if index is None else index
        with eval_mode(model), torch.enable_grad():
            return self.run(model, x.detach(), y, index).detach()

    def run(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


ATTACKS: Registry[type[Attack]] = Registry("attack")


def per_image_noise(seed: int, stream: int, index: torch.Tensor, shape: torch.Size, normal: bool) -> torch.Tensor:
    """Noise for each image from its own generator, keyed by (seed, stream, image index)."""
    out = torch.empty(len(index), *shape)
    g = torch.Generator()
    for k, i in enumerate(index.tolist()):
        g.manual_seed((seed * 1_000_003 + stream * 65_537 + int(i)) % (2**63))
        out[k] = torch.randn(shape, generator=g) if normal else torch.rand(shape, generator=g)
    return out


def _flat_norm(v: torch.Tensor) -> torch.Tensor:
    return v.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (v.dim() - 1)))


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, d sum CE / dx) without accumulating parameter gradients."""
    x = x.clone().requires_grad_(True)
    logits = model(x)
    loss = F.cross_entropy(logits, y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return logits.detach(), grad


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Back into the eps-ball around x and into [0, 1]."""
    delta = x_adv - x
    if norm == "Linf":
        delta = delta.clamp(-eps, eps)
    else:
        delta = delta * (eps / _flat_norm(delta)).clamp(max=1.0)
    return (x + delta).clamp(0.0, 1.0)


def _step(grad: torch.Tensor, size: float, norm: str) -> torch.Tensor:
    return size * (grad.sign() if norm == "Linf" else grad / _flat_norm(grad))


@ATTACKS.register("fgsm")
class FGSM(Attack):
    name = "fgsm"

    def run(self, model, x, y, index):  # noqa: ANN001, ANN201
        _, grad = input_gradient(model, x, y)
        return project(x + _step(grad, self.config.eps, self.config.norm), x, self.config.eps, self.config.norm)


@ATTACKS.register("pgd")
class PGD(Attack):
    """PGD with a random start; an image counts as broken by the first iterate that fools the model."""

    name = "pgd"
    default_steps = 20

    def run(self, model, x, y, index):  # noqa: ANN001, ANN201
        return self.walk(model, x, y, index)[0]

    def walk(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
             index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(adversarial x, per image the iterate that first fooled the model, -1 if none did; with restarts,
        the iterate within the restart that did). The walk of PGD-k is the first k steps of PGD-K's with the
        same start and step size, so one run answers both (the sanity checks' PGD-10 vs PGD-40)."""
        c = self.config
        steps = c.steps or self.default_steps
        size = c.step_size or 2.5 * c.eps / steps
        best = x.clone()
        fooled_at = torch.full((len(x),), -1, dtype=torch.long)
        active = torch.arange(len(x))
        for restart in range(c.restarts):
            if len(active) == 0:
                break
            xa, ya = x[active], y[active]
            noise = per_image_noise(c.seed, restart, index[active], x.shape[1:], normal=c.norm == "L2")
            if c.norm == "Linf":
                start = xa + c.eps * (2 * noise - 1)
            else:
                start = xa + c.eps * noise / _flat_norm(noise)
            adv = project(start, xa, c.eps, c.norm)
            alive = torch.arange(len(active))  # positions within this restart's batch still unbroken
            for k in range(steps + 1):
                if k < steps:
                    logits, grad = input_gradient(model, adv[alive], ya[alive])
                else:  # the final iterate only needs checking
                    with torch.no_grad():
                        logits, grad = model(adv[alive]), None
                # transfer: success is decided on the scored model, so the walk goes on until it is fooled
                pred = logits.argmax(1) if self.judge is None else self.judge(adv[alive])
                fooled = pred != ya[alive]
                if fooled.any():
                    hit = alive[fooled]
                    best[active[hit]] = adv[hit]
                    fooled_at[active[hit]] = k
                    alive = alive[~fooled]
                    grad = grad[~fooled] if grad is not None else None
                if len(alive) == 0 or grad is None:
                    break
                adv[alive] = project(adv[alive] + _step(grad, size, c.norm), xa[alive], c.eps, c.norm)
            # the last loop pass checked the final iterate; unbroken images keep it
            best[active[alive]] = adv[alive]
            active = active[alive]
        return best, fooled_at


class _AutoAttackBase(Attack):
    """Runs a pyautoattack attack quietly, without touching the global RNG."""

    @staticmethod
    def _quiet(fn, *args, **kwargs):  # noqa: ANN001, ANN205
        # its progress lines go nowhere, and its own gradient warnings too: our sanity checks report those
        with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)


@ATTACKS.register("apgd-ce")
class APGD(_AutoAttackBase):
    """APGD (Croce & Hein 2020), reference code; restarts run only on images still unbroken."""

    name = "apgd-ce"
    loss = "ce"
    default_steps = 100

    def run(self, model, x, y, index):  # noqa: ANN001, ANN201
        from pyautoattack.autopgd_base import APGDAttack

        c = self.config
        if self.loss == "dlr":
            n_classes = model(x[:1]).shape[1]
            if n_classes < 3:
                raise ConfigError(f"attack apgd-dlr needs at least 3 classes, the model has {n_classes}")
        attack = APGDAttack(model, n_iter=c.steps or self.default_steps, norm=c.norm, n_restarts=1, eps=c.eps,
                            seed=c.seed, loss=self.loss, verbose=False, device=x.device)
        with torch.no_grad():
            active = torch.nonzero(model(x).argmax(1) == y).flatten()
        best = x.clone()
        for restart in range(c.restarts):
            if len(active) == 0:
                break
            xa, ya = x[active], y[active]
            noise = per_image_noise(c.seed, 100 + restart, index[active], x.shape[1:], normal=c.norm == "L2")
            t = 2 * noise - 1 if c.norm == "Linf" else noise
            attack.init_hyperparam(xa)
            x_init = xa + c.eps * attack.normalize(t)
            _, acc, _, adv = self._quiet(attack.attack_single_run, xa, ya, x_init)
            broken = acc == 0
            best[active[broken]] = adv[broken]
            active = active[~broken]
        return best


@ATTACKS.register("apgd-dlr")
class APGDDLR(APGD):
    name = "apgd-dlr"
    loss = "dlr"


@ATTACKS.register("square")
class Square(_AutoAttackBase):
    """Square Attack (Andriushchenko et al. 2020), score-based black box, reference code.

    The reference draws its Linf starting stripes for the whole batch at once; we hand it
    per-image stripes instead, so an image's run does not depend on its batch. (Its window
    draws are shared by the batch and so already independent of it; L2 Square also draws per
    batch inside its loop and stays batch-dependent.)
    """

    name = "square"

    def run(self, model, x, y, index):  # noqa: ANN001, ANN201
        from pyautoattack.square import SquareAttack

        class PerImageStart(SquareAttack):
            start: torch.Tensor | None = None

            def random_choice(self, shape):  # noqa: ANN001, ANN202
                if self.start is not None and list(shape) == list(self.start.shape):
                    start, self.start = self.start, None
                    return start
                return super().random_choice(shape)

        c = self.config
        attack = PerImageStart(model, norm=c.norm, n_queries=c.queries, eps=c.eps, p_init=0.8, n_restarts=1,
                               seed=c.seed, verbose=False, device=x.device, resc_schedule=False)
        best = x.clone()
        with torch.no_grad():
            active = torch.nonzero(model(x).argmax(1) == y).flatten()
            for restart in range(c.restarts):
                if len(active) == 0:
                    break
                if c.norm == "Linf":
                    u = per_image_noise(c.seed, 200 + restart, index[active], (x.shape[1], 1, x.shape[3]), normal=False)
                    attack.start = torch.sign(2 * u - 1)
                adv = self._quiet(attack.perturb, x[active], y[active])
                broken = model(adv).argmax(1) != y[active]
                best[active[broken]] = adv[broken]
                active = active[~broken]
        return best


def _n_classes(model: nn.Module, x: torch.Tensor, name: str, minimum: int) -> int:
    with torch.no_grad():
        n = int(model(x[:1]).shape[1])
    if n < minimum:
        raise ConfigError(f"attack {name} needs at least {minimum} classes, the model has {n}")
    return n


@ATTACKS.register("apgd-t")
class APGDT(_AutoAttackBase):
    """Targeted APGD on the DLR loss (AutoAttack's apgd-t: up to 9 target classes, one restart each).

    The reference draws its random starts for the whole batch, so an image's outcome can depend
    on its batch (unlike fgsm, pgd, apgd-ce/dlr and Linf Square here)."""

    name = "apgd-t"
    default_steps = 100

    def run(self, model, x, y, index):  # noqa: ANN001, ANN201
        from pyautoattack.autopgd_base import APGDAttack_targeted

        c = self.config
        n = _n_classes(model, x, self.name, 4)
        attack = APGDAttack_targeted(model, n_iter=c.steps or self.default_steps, norm=c.norm, n_restarts=c.restarts,
                                     eps=c.eps, seed=c.seed, n_target_classes=min(9, n - 1), verbose=False,
                                     device=x.device)
        return self._quiet(attack.perturb, x, y)


@ATTACKS.register("fab-t")
class FABT(_AutoAttackBase):
    """Targeted FAB (Croce & Hein 2020), AutoAttack's fab-t: up to 9 target classes, one restart each;
    a minimum-norm attack, so only points within eps count."""

    name = "fab-t"
    default_steps = 100

    def run(self, model, x, y, index):  # noqa: ANN001, ANN201
        from pyautoattack.fab_pt import FABAttack_PT

        c = self.config
        n = _n_classes(model, x, self.name, 3)
        attack = FABAttack_PT(model, norm=c.norm, n_restarts=c.restarts, n_iter=c.steps or self.default_steps,
                              eps=c.eps, seed=c.seed, targeted=True, n_target_classes=min(9, n - 1), verbose=False,
                              device=x.device)
        return self._quiet(attack.perturb, x, y)


def make_attack(config: AttackConfig, judge: Judge | None = None) -> Attack:
    return ATTACKS.get(config.name)(config, judge)
