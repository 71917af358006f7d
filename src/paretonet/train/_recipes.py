"""Training recipes: what each mini-batch's loss is, and which layers the model trains with.

- standard:     cross-entropy on the clean batch.
- adversarial:  PGD adversarial training (Madry et al.): cross-entropy on PGD examples (Linf, random start).
- trades:       cross-entropy on the clean batch + beta * KL(f(x_adv) || f(x)), x_adv maximizing the KL
                (Zhang et al. 2019).
- noisy:        cross-entropy with the inference noise model injected on every forward pass (fresh
                draws; MAC-output noise scaled to the layers' clean output ranges, measured at the start of
                every epoch on the first training images, as evaluation measures them).
- qat:          quantization-aware training with constant scaling factors: the model trains and runs with
                conv/linear weights quantized at the constant scale weight_range / (2^(bits-1) - 1)
                and their input activations at the constant range [-act_range, act_range].
- gaussian:     cross-entropy on inputs with Gaussian noise N(0, sigma^2) added (Cohen et al. 2019): the
                training that makes a randomized-smoothing certificate at that sigma worth having.
- ibp:          interval bound propagation training (Gowal et al. 2018): kappa * CE(clean) + (1 - kappa) *
                CE(worst-case logits over the eps-box); eps ramps linearly from 0 after the first `warmup`
                share of the training over the next `ramp` share, kappa from 1 down to 0.5 with it. Only
                epochs at full eps are candidates for the best validation epoch, chosen by the share of
                validation images certified at eps rather than by clean accuracy.

A recipe's canonical string, 'trades/eps=0.1/steps=7/beta=6', is what a Variant records.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_float, check_int
from ..hw import ActQuant, NoiseModel, QuantSpec, quantize_model
from ..layers import margin_lower_bounds

RECIPES = ("standard", "adversarial", "trades", "noisy", "qat", "gaussian", "ibp")
_PARAMS = {"standard": (), "adversarial": ("eps", "steps", "step_size"), "trades": ("eps", "steps", "step_size", "beta"),
           "noisy": ("noise",), "qat": ("bits", "weight_range", "act_range"), "gaussian": ("sigma",),
           "ibp": ("eps", "warmup", "ramp")}


@dataclass(frozen=True)
class Recipe:
    name: str = "standard"
    eps: float = 0.1  # adversarial, trades: Linf radius in pixels
    steps: int = 7  # adversarial, trades: attack iterations per batch
    step_size: float | None = None  # default 2.5 * eps / steps
    beta: float = 6.0  # trades: weight of the robustness term
    noise: str = "outputs:0.1"  # noisy: a NoiseModel label
    bits: int = 8  # qat
    weight_range: float = 1.0  # qat: weights are clipped to [-weight_range, weight_range]
    act_range: float = 4.0  # qat: layer inputs are clipped to [-act_range, act_range]
    sigma: float = 0.25  # gaussian: input noise std, pixels in [0, 1]
    warmup: float = 0.1  # ibp: share of the training before eps starts to grow
    ramp: float = 0.5  # ibp: share of the training over which eps grows to its value

    def __post_init__(self) -> None:
        if self.name not in RECIPES:
            raise ConfigError(f"recipe: got {self.name!r}, expected one of {', '.join(RECIPES)}")
        check_float("eps", self.eps, minimum=0.0, maximum=1.0)
        check_int("steps", self.steps, minimum=1)
        if self.step_size is not None:
            check_float("step_size", self.step_size, minimum=0.0, min_inclusive=False)
        check_float("beta", self.beta, minimum=0.0)
        NoiseModel.parse(self.noise)
        check_int("bits", self.bits, minimum=2, maximum=16)
        check_float("weight_range", self.weight_range, minimum=0.0, min_inclusive=False)
        check_float("act_range", self.act_range, minimum=0.0, min_inclusive=False)
        check_float("sigma", self.sigma, minimum=0.0)
        check_float("warmup", self.warmup, minimum=0.0, maximum=1.0)
        check_float("ramp", self.ramp, minimum=0.0, maximum=1.0)
        if self.warmup + self.ramp > 1.0:
            raise ConfigError(f"recipe ibp: warmup {self.warmup:g} + ramp {self.ramp:g} exceed the training (at most 1)")

    @property
    def is_standard(self) -> bool:
        return self.name == "standard"

    @property
    def parameters(self) -> tuple[str, ...]:
        return _PARAMS[self.name]

    @property
    def alpha(self) -> float:
        return self.step_size or 2.5 * self.eps / self.steps

    def strength(self, progress: float) -> float:
        """ibp: the share of eps (and of the way from kappa 1 to 0.5) at `progress` (0..1) of the training."""
        if self.ramp == 0.0:
            return 1.0 if progress >= self.warmup else 0.0
        return min(1.0, max(0.0, (progress - self.warmup) / self.ramp))

    def selectable(self, progress: float) -> bool:
        """Whether an epoch ending at `progress` may be kept as the best validation epoch."""
        return self.name != "ibp" or self.strength(progress) >= 1.0 - 1e-9

    @property
    def noise_model(self) -> NoiseModel:
        return NoiseModel.parse(self.noise)

    def __str__(self) -> str:
        parts = [self.name]
        for key in _PARAMS[self.name]:
            v = getattr(self, key)
            if v is not None:
                parts.append(f"{key}={v:g}" if isinstance(v, float) else f"{key}={v}")
        return "/".join(parts)

    @classmethod
    def parse(cls, text: str) -> "Recipe":
        """The inverse of str(); also a bare name ('trades') with every parameter at its default."""
        name, *items = text.split("/")
        if name not in RECIPES:
            raise ConfigError(f"recipe: got {name!r}, expected one of {', '.join(RECIPES)}")
        types = {f.name: f.type for f in fields(cls)}
        kwargs: dict[str, object] = {"name": name}
        for item in items:
            key, eq, value = item.partition("=")
            if not eq or key not in _PARAMS[name]:
                raise ConfigError(f"recipe: got {text!r}; {item!r} is not one of "
                                  f"{', '.join(_PARAMS[name]) or 'nothing (standard takes no parameters)'}")
            try:
                kwargs[key] = value if key == "noise" else int(value) if "int" in str(types[key]) else float(value)
            except ValueError:
                raise ConfigError(f"recipe: got {text!r}; {key}={value!r} is not a number") from None
        return cls(**kwargs)  # type: ignore[arg-type]


def prepare_model(model: nn.Module, recipe: Recipe) -> nn.Module:
    """The model a recipe trains: for qat, a copy with constant-scale quantizers; otherwise `model` itself."""
    if recipe.name != "qat":
        return model
    return quantize_model(model, QuantSpec(recipe.bits, per_channel=False, weight_range=recipe.weight_range,
                                           act_range=recipe.act_range))


def check_prepared(model: nn.Module, recipe: Recipe) -> None:
    if recipe.name == "qat" and not any(isinstance(m, ActQuant) and m.fixed for m in model.modules()):
        raise ConfigError("recipe qat: the model has no constant-scale quantizers; train prepare_model(model, recipe)")
    if recipe.name == "ibp" and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise ConfigError("recipe ibp: the model has batch norm, whose training-mode bounds are not supported; "
                          "choose an architecture without -bn")


def _random_start(x: torch.Tensor, eps: float, g: torch.Generator) -> torch.Tensor:
    return (x + eps * (2 * torch.rand(x.shape, generator=g) - 1)).clamp(0.0, 1.0)


def pgd_examples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, recipe: Recipe, g: torch.Generator) -> torch.Tensor:
    """Linf PGD from a random start, every step on every image (training needs the full attack)."""
    xa = _random_start(x, recipe.eps, g)
    for _ in range(recipe.steps):
        xa.requires_grad_(True)
        loss = F.cross_entropy(model(xa), y)
        (grad,) = torch.autograd.grad(loss, xa)
        xa = torch.min(torch.max(xa.detach() + recipe.alpha * grad.sign(), x - recipe.eps), x + recipe.eps).clamp(0.0, 1.0)
    return xa.detach()


def trades_examples(model: nn.Module, x: torch.Tensor, recipe: Recipe, g: torch.Generator) -> torch.Tensor:
    """TRADES' inner maximization: x_adv near x whose prediction differs most (KL) from the clean one."""
    with torch.no_grad():
        clean = F.softmax(model(x), 1)
    xa = (x + 0.001 * torch.randn(x.shape, generator=g)).clamp(0.0, 1.0)
    for _ in range(recipe.steps):
        xa.requires_grad_(True)
        loss = F.kl_div(F.log_softmax(model(xa), 1), clean, reduction="sum")
        (grad,) = torch.autograd.grad(loss, xa)
        xa = torch.min(torch.max(xa.detach() + recipe.alpha * grad.sign(), x - recipe.eps), x + recipe.eps).clamp(0.0, 1.0)
    return xa.detach()


def attack_generator(seed: int) -> torch.Generator:
    """Random starts of the training attacks: their own stream of the training seed."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 0xAD7]).generate_state(1)[0]))


def batch_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, recipe: Recipe,
               g: torch.Generator, progress: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, logits of the inputs trained on) of one mini-batch at `progress` (0..1) of the training; the model
    is in train mode."""
    if recipe.name == "gaussian":
        out = model(x + recipe.sigma * torch.randn(x.shape, generator=g))
        return F.cross_entropy(out, y), out
    if recipe.name == "ibp":
        out = model(x)
        s = recipe.strength(progress)
        if s == 0.0:
            return F.cross_entropy(out, y), out
        eps = s * recipe.eps
        worst = -margin_lower_bounds(model, (x - eps).clamp(0.0, 1.0), (x + eps).clamp(0.0, 1.0), y)
        kappa = 1.0 - 0.5 * s
        return kappa * F.cross_entropy(out, y) + (1 - kappa) * F.cross_entropy(worst, y), out
    if recipe.name in ("adversarial", "trades"):
        model.eval()  # the attack sees the model as it is scored: batch norm on running statistics
        try:
            xa = pgd_examples(model, x, y, recipe, g) if recipe.name == "adversarial" else trades_examples(model, x, recipe, g)
        finally:
            model.train()
        if recipe.name == "adversarial":
            out = model(xa)
            return F.cross_entropy(out, y), out
        out = model(x)
        robust = F.kl_div(F.log_softmax(model(xa), 1), F.softmax(out, 1), reduction="batchmean")
        return F.cross_entropy(out, y) + recipe.beta * robust, out
    out = model(x)
    return F.cross_entropy(out, y), out

