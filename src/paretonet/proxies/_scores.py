"""Zero-cost proxies: scores of an untrained network from one minibatch (NASLib semantics).

Every proxy is `fn(model, x, y, ctx) -> float` on a fresh copy of the model in train mode
(BN uses batch statistics), except where its definition says otherwise (synflow: float64, BN
removed, all-ones input; zen: Gaussian inputs). Weights means the conv and linear weights.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._registry import Registry

WEIGHTED = (nn.Conv2d, nn.Linear)
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Tanh, nn.Sigmoid, nn.GELU, nn.LeakyReLU, nn.ELU)


@dataclass(frozen=True)
class ProxyContext:
    input_shape: tuple[int, int, int]
    n_classes: int
    seed: int
    train_x: torch.Tensor | None = None  # for the learning-curve proxy
    train_y: torch.Tensor | None = None


ProxyFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, ProxyContext], float]
PROXIES: Registry[ProxyFn] = Registry("proxy")


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, WEIGHTED)]


def _loss_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    return [w.grad if w.grad is not None else torch.zeros_like(w) for w in _weights(model)]


@PROXIES.register("grad_norm")
def grad_norm(model, x, y, ctx) -> float:  # noqa: ANN001
    return float(sum(g.norm() for g in _loss_grads(model, x, y)))


@PROXIES.register("snip")
def snip(model, x, y, ctx) -> float:  # noqa: ANN001
    return float(sum((g * w.detach()).abs().sum() for g, w in zip(_loss_grads(model, x, y), _weights(model))))


@PROXIES.register("plain")
def plain(model, x, y, ctx) -> float:  # noqa: ANN001
    return float(sum((g * w.detach()).sum() for g, w in zip(_loss_grads(model, x, y), _weights(model))))


@PROXIES.register("l2_norm")
def l2_norm(model, x, y, ctx) -> float:  # noqa: ANN001
    return float(sum(w.detach().norm() for w in _weights(model)))


@PROXIES.register("grasp")
def grasp(model, x, y, ctx) -> float:  # noqa: ANN001
    """-sum W * (H g): Hessian-gradient product by double backprop."""
    ws = _weights(model)
    g = torch.autograd.grad(F.cross_entropy(model(x), y), ws, allow_unused=True)
    g = [torch.zeros_like(w) if gi is None else gi.detach() for w, gi in zip(ws, g)]
    g2 = torch.autograd.grad(F.cross_entropy(model(x), y), ws, create_graph=True, allow_unused=True)
    z = sum((a * b).sum() for a, b in zip(g2, g) if a is not None)
    hg = torch.autograd.grad(z, ws, allow_unused=True)
    return float(sum((-w.detach() * h).sum() for w, h in zip(ws, hg) if h is not None))


@PROXIES.register("fisher")
def fisher(model, x, y, ctx) -> float:  # noqa: ANN001
    """Per channel 0.5 * mean_n (sum_spatial a * dL/da)^2 over the activation outputs."""
    acts: list[torch.Tensor] = []

    def keep(_m, _i, out: torch.Tensor) -> None:
        if out.requires_grad:
            out.retain_grad()
            acts.append(out)

    handles = [m.register_forward_hook(keep) for m in model.modules() if isinstance(m, ACTIVATIONS)]
    try:
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    total = 0.0
    for a in acts:
        if a.grad is None:
            continue
        prod = a.detach() * a.grad
        per = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
        total += float((0.5 * per.pow(2).mean(0)).sum())
    return total


def _without_bn(model: nn.Module) -> nn.Module:
    m = copy.deepcopy(model)
    for name, mod in list(m.named_modules()):
        for cname, child in list(mod.named_children()):
            if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
                setattr(mod, cname, nn.Identity())
    return m


@PROXIES.register("synflow")
def synflow(model, x, y, ctx) -> float:  # noqa: ANN001
    """log sum |W * dR/dW|, R = 1^T f(1) with |W|, float64, BN removed (stored as log, as NASLib)."""
    m = _without_bn(model).double()
    with torch.no_grad():
        for p in m.parameters():
            p.abs_()
    m.zero_grad()
    m(torch.ones(1, *ctx.input_shape, dtype=torch.float64)).sum().backward()
    s = sum(float((w.detach() * w.grad).abs().sum()) for w in _weights(m) if w.grad is not None)
    return math.log(s) if s > 0 else float("nan")


def _input_jacobians(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-image gradient of the summed logits with respect to the input (NASLib's jacobian)."""
    x = x.clone().requires_grad_(True)
    out = model(x)
    (gx,) = torch.autograd.grad(out, x, torch.ones_like(out))
    return gx.reshape(x.shape[0], -1).detach()


@PROXIES.register("jacov")
def jacov(model, x, y, ctx) -> float:  # noqa: ANN001
    j = _input_jacobians(model, x).double().numpy()
    corr = np.corrcoef(j)
    v = np.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


@PROXIES.register("epe_nas")
def epe_nas(model, x, y, ctx) -> float:  # noqa: ANN001
    """Mean pairwise difference of the per-class sums of log |corr| of input Jacobians."""
    j = _input_jacobians(model, x).double().numpy()
    labels = y.numpy()
    scores = []
    for c in np.unique(labels):
        rows = j[labels == c]
        if len(rows) < 2:
            continue
        corr = np.corrcoef(rows)
        s = float(np.sum(np.log(np.abs(corr) + 1e-5)))
        scores.append(s / len(corr) if ctx.n_classes > 100 else s)
    if not scores:
        return float("nan")
    s = np.array(scores)
    return float(np.abs(s[:, None] - s[None, :]).sum() / len(s))


@PROXIES.register("nwot")
def nwot(model, x, y, ctx) -> float:  # noqa: ANN001
    """log |det K|, K the Hamming-similarity kernel of the activation patterns (Mellor et al.)."""
    n = x.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def hook(_m, inputs, _out) -> None:
        c = (inputs[0].detach().reshape(n, -1) > 0).double()
        kernel.add_(c @ c.T + (1 - c) @ (1 - c).T)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, ACTIVATIONS)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if sign != 0 else float("nan")


def _classifier_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    seen: list[torch.Tensor] = []
    h = last.register_forward_hook(lambda _m, i, _o: seen.append(i[0]))
    try:
        model(x)
    finally:
        h.remove()
    return seen[0]


@PROXIES.register("zen")
def zen(model, x, y, ctx) -> float:  # noqa: ANN001
    """Zen-score (Lin et al. 2021): log E|f(z) - f(z + 0.01 e)| / 0.01 + sum log sqrt(BN variance)."""
    g = torch.Generator().manual_seed(ctx.seed)
    z = torch.randn(x.shape, generator=g)
    e = torch.randn(x.shape, generator=g)
    with torch.no_grad():
        diff = (_classifier_input(model, z) - _classifier_input(model, z + 0.01 * e)).abs().mean()
        bn = sum(math.log(math.sqrt(float(m.running_var.mean())) + 1e-12)
                 for m in model.modules() if isinstance(m, nn.BatchNorm2d) and m.running_var is not None)
    return math.log(float(diff) / 0.01 + 1e-12) + bn


@PROXIES.register("params")
def params(model, x, y, ctx) -> float:  # noqa: ANN001
    """Millions of parameters (the NAS-Bench-Suite-Zero unit)."""
    from ..hw import count_params

    return count_params(model) / 1e6


@PROXIES.register("flops")
def flops(model, x, y, ctx) -> float:  # noqa: ANN001
    """MFLOPs in the NAS-Bench-201 convention (paretonet.hw.count_flops; + its fixed term for nb201 cells)."""
    from ..hw import NB201_FIXED_FLOPS, count_flops
    from ..spaces.nb201 import Cell

    fixed = NB201_FIXED_FLOPS if any(isinstance(m, Cell) for m in model.modules()) else 0
    return (count_flops(model, ctx.input_shape) + fixed) / 1e6


@PROXIES.register("jacobian_norm")
def jacobian_norm(model, x, y, ctx) -> float:  # noqa: ANN001
    """Mean per-image Frobenius norm of d logits / d input (Hutchinson estimate, 4 probes): low = smooth."""
    g = torch.Generator().manual_seed(ctx.seed)
    xr = x.clone().requires_grad_(True)
    out = model(xr)
    total = torch.zeros(x.shape[0])
    probes = 4
    for i in range(probes):
        v = torch.randn(out.shape, generator=g)
        (gx,) = torch.autograd.grad(out, xr, v, retain_graph=i < probes - 1)
        total += gx.reshape(x.shape[0], -1).pow(2).sum(1)
    return float((total / probes).sqrt().mean())


@PROXIES.register("croze")
def croze(model, x, y, ctx) -> float:  # noqa: ANN001
    """CRoZe-style consistency (Ha et al. 2023): per layer, cosine of features x cosine of weight
    gradients between the clean batch and its FGSM perturbation (eps 8/255), summed over layers."""
    feats: dict[nn.Module, list[torch.Tensor]] = {}
    layers = [m for m in model.modules() if isinstance(m, WEIGHTED)]
    hooks = [m.register_forward_hook(lambda m, _i, o: feats.setdefault(m, []).append(o.detach())) for m in layers]
    try:
        xr = x.clone().requires_grad_(True)
        model.zero_grad()
        F.cross_entropy(model(xr), y).backward()
        g_clean = [m.weight.grad.detach().clone() if m.weight.grad is not None else torch.zeros_like(m.weight)
                   for m in layers]
        x_adv = (x + 8 / 255 * xr.grad.sign()).detach()
        model.zero_grad()
        F.cross_entropy(model(x_adv), y).backward()
        g_adv = [m.weight.grad.detach() if m.weight.grad is not None else torch.zeros_like(m.weight) for m in layers]
    finally:
        for h in hooks:
            h.remove()
    score = 0.0
    for m, gc, ga in zip(layers, g_clean, g_adv):
        fc, fa = feats[m][0].flatten(), feats[m][1].flatten()
        score += float(F.cosine_similarity(fc, fa, dim=0) * F.cosine_similarity(gc.flatten(), ga.flatten(), dim=0))
    return score


@PROXIES.register("learning_curve")
def learning_curve(model, x, y, ctx) -> float:  # noqa: ANN001
    """Accuracy on the scoring batch (validation images) after 10 Adam steps of 32 training images:
    the start of the learning curve, a fraction of an epoch."""
    if ctx.train_x is None:
        return float("nan")
    g = torch.Generator().manual_seed(ctx.seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(10):
        idx = torch.randint(0, len(ctx.train_x), (32,), generator=g)
        opt.zero_grad()
        F.cross_entropy(model(ctx.train_x[idx]), ctx.train_y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())
