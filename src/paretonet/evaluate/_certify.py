"""Certified robustness: lower bounds of robust accuracy, next to the attacks' upper bounds.

Randomized smoothing (Cohen, Rosenfeld and Kolter 2019), L2, for any classifier (quantized and
approximate ones too: it only queries predictions). The smoothed classifier g(x) is the class the
model predicts most often under Gaussian noise N(0, sigma^2 I). CERTIFY: n0 noisy copies choose the class,
n further copies count it; the one-sided (1 - alpha) Clopper-Pearson lower bound pA of its probability
gives the radius sigma * PhiInverse(pA) within which g provably does not change; pA < 1/2 abstains.
An image is certified at radius r when g is right there and its radius is at least r.

Interval bound propagation, Linf, for the float conv/linear/ReLU/pooling models of both spaces: an
image is certified at eps when the lower bound of every margin logit[y] - logit[j] over the eps-box
(clipped to [0, 1]) is positive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import beta, norm
from torch import nn

from ..errors import ConfigError, check_float, check_int
from ..layers import eval_mode, margin_lower_bounds
from ..records import Objective, per_image_accuracy
from ..records.names import ObjectiveName
from ._accuracy import images_id



@dataclass(frozen=True)
class SmoothingConfig:
    sigma: float = 0.25  # noise std, pixels in [0, 1]
    n0: int = 100  # noisy copies that choose the class
    n: int = 1000  # noisy copies that count it
    alpha: float = 0.001  # the certificate fails with probability at most alpha
    batch_size: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        check_float("sigma", self.sigma, minimum=0.0, min_inclusive=False)
        check_int("n0", self.n0, minimum=1)
        check_int("n", self.n, minimum=1)
        check_float("alpha", self.alpha, minimum=0.0, maximum=1.0, min_inclusive=False, max_inclusive=False)
        check_int("batch_size", self.batch_size, minimum=1)


@dataclass(frozen=True)
class SmoothingResult:
    predictions: tuple[int, ...]  # per image: the smoothed class, -1 where it abstains
    radii: tuple[float, ...]  # per image: certified L2 radius (0 where it abstains)
    labels: tuple[int, ...]
    config: SmoothingConfig
    images_id: str

    @property
    def abstentions(self) -> int:
        return sum(p < 0 for p in self.predictions)

    def certified(self, radius: float) -> np.ndarray:
        check_float("radius", radius, minimum=0.0)
        p, r, y = map(np.asarray, (self.predictions, self.radii, self.labels))
        return (p == y) & (r >= radius)

    def certified_accuracy(self, radius: float) -> float:
        return float(self.certified(radius).mean())


def _counts(model: nn.Module, x: torch.Tensor, copies: int, sigma: float, g: torch.Generator, batch: int,
            classes: int) -> np.ndarray:
    """How often each class wins over `copies` noisy copies of one image."""
    counts = np.zeros(classes, dtype=np.int64)
    done = 0
    while done < copies:
        k = min(batch, copies - done)
        noisy = x.unsqueeze(0) + sigma * torch.randn((k, *x.shape), generator=g)
        counts += np.bincount(model(noisy).argmax(1).numpy(), minlength=classes)
        done += k
    return counts


def _image_generator(cfg: SmoothingConfig, i: int) -> torch.Generator:
    """Each image its own noise stream: a result never depends on which other images were certified with it."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([cfg.seed, i, 0x5300]).generate_state(1)[0]))


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    """One-sided (1 - alpha) lower confidence bound of a proportion seen k times in n."""
    return 0.0 if k == 0 else float(beta.ppf(alpha, k, n - k + 1))


def smoothed_predict(model: nn.Module, x: torch.Tensor, cfg: SmoothingConfig = SmoothingConfig()) -> list[int]:
    """The smoothed classifier's class per image (-1: abstain), from the same noise as `certify_smoothing`:
    the class chosen on n0 copies, kept when its lower bound over the n further copies exceeds one half."""
    with eval_mode(model), torch.no_grad():
        classes = model(x[:1]).shape[1]
        out = []
        for i in range(len(x)):
            g = _image_generator(cfg, i)
            top = int(_counts(model, x[i], cfg.n0, cfg.sigma, g, cfg.batch_size, classes).argmax())
            wins = _counts(model, x[i], cfg.n, cfg.sigma, g, cfg.batch_size, classes)[top]
            out.append(top if clopper_pearson_lower(int(wins), cfg.n, cfg.alpha) >= 0.5 else -1)
    return out


def certify_smoothing(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                      cfg: SmoothingConfig = SmoothingConfig()) -> SmoothingResult:
    """CERTIFY of Cohen et al. on every image: the smoothed class and its certified L2 radius."""
    if len(x) == 0:
        raise ConfigError("images: got 0 images, expected at least 1")
    preds, radii = [], []
    with eval_mode(model), torch.no_grad():
        classes = model(x[:1]).shape[1]
        for i in range(len(x)):
            g = _image_generator(cfg, i)
            c_a = int(_counts(model, x[i], cfg.n0, cfg.sigma, g, cfg.batch_size, classes).argmax())
            n_a = int(_counts(model, x[i], cfg.n, cfg.sigma, g, cfg.batch_size, classes)[c_a])
            p_a = clopper_pearson_lower(n_a, cfg.n, cfg.alpha)
            if p_a < 0.5:
                preds.append(-1)
                radii.append(0.0)
            else:
                preds.append(c_a)
                radii.append(cfg.sigma * float(norm.ppf(p_a)))
    return SmoothingResult(tuple(preds), tuple(radii), tuple(int(v) for v in y), cfg, images_id(x, y))


def ibp_certified(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, batch_size: int = 500) -> np.ndarray:
    """Per image: whether interval bounds prove every Linf perturbation of size eps (in [0, 1]) keeps class y."""
    check_float("eps", eps, minimum=0.0, maximum=1.0)
    out = []
    with eval_mode(model), torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            m = margin_lower_bounds(model, (xb - eps).clamp(0.0, 1.0), (xb + eps).clamp(0.0, 1.0), yb)
            m = m.scatter(1, yb.unsqueeze(1), math.inf)
            out.append((m.min(1).values > 0).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=bool)


def parse_certified(name: str) -> tuple[str, float]:
    """'certified_accuracy@smoothing:l2:0.25' -> ('smoothing', 0.25); 'certified_accuracy@ibp:linf:0.1' -> ('ibp', 0.1)."""
    n = ObjectiveName.parse(name)
    if n.quantity != "certified_accuracy":
        raise ConfigError(f"objective {name!r}: expected certified_accuracy@smoothing:l2:<radius> or "
                          "certified_accuracy@ibp:linf:<eps>")
    return n.method, float(n.eps)


def is_certified_objective(name: str) -> bool:
    try:
        return ObjectiveName.parse(name).quantity == "certified_accuracy"
    except ConfigError:
        return False


def certified_objective(model: nn.Module, x: torch.Tensor, y: torch.Tensor, name: str,
                        smoothing: SmoothingConfig = SmoothingConfig()) -> tuple[Objective, dict]:
    """The named certified accuracy on (x, y) with the budgets that produced it."""
    method, value = parse_certified(name)
    if method == "ibp":
        return per_image_accuracy(name, ibp_certified(model, x, y, value), images_id(x, y)), {"ibp_images": len(x)}
    r = certify_smoothing(model, x, y, smoothing)
    budgets = {"smoothing_images": len(x), "smoothing_sigma": smoothing.sigma, "smoothing_n0": smoothing.n0,
               "smoothing_n": smoothing.n, "smoothing_alpha": smoothing.alpha, "smoothing_seed": smoothing.seed,
               "smoothing_abstentions": r.abstentions}
    return per_image_accuracy(name, r.certified(value), r.images_id), budgets
