"""Zero-cost proxies: one registry, seeded, averaged over initializations, NaN for a failed score."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..data import Dataset
from ..errors import ConfigError, check_int
from ..spaces import Architecture, build_model
from ._scores import PROXIES, ProxyContext

ALL_PROXIES = tuple(PROXIES.names())
NASLIB_PROXIES = ("epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "params",
                  "plain", "snip", "synflow", "zen")


def check_proxies(names: Sequence[str]) -> tuple[str, ...]:
    for n in names:
        PROXIES.get(n)  # one-line error listing the known proxies
    if not names:
        raise ConfigError("proxies: got an empty list, expected at least one of " + ", ".join(ALL_PROXIES))
    return tuple(names)


def scoring_batch(dataset: Dataset, batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded batch of validation images (training images when there is no validation split)."""
    split = dataset.val if len(dataset.val) >= batch_size else dataset.train
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(split), generator=g)[:batch_size]
    return split.x[idx], split.y[idx]


def compute_proxies(arch: Architecture | str, dataset: Dataset, names: Sequence[str] = ALL_PROXIES, *,
                    batch_size: int = 64, seeds: Sequence[int] = (0,)) -> dict[str, float]:
    """Each proxy of `arch` on `dataset`, averaged over the initialization seeds; NaN if not finite.

    Every (proxy, seed) gets its own freshly initialized model, so proxies never see each other's
    gradients or BN statistics.
    """
    names = check_proxies(names)
    check_int("batch_size", batch_size, minimum=2)
    if not seeds:
        raise ConfigError("seeds: got an empty list, expected at least one seed")
    arch = Architecture.parse(arch) if isinstance(arch, str) else arch
    x, y = scoring_batch(dataset, batch_size, 0)
    out: dict[str, float] = {}
    for name in names:
        fn = PROXIES.get(name)
        values = []
        for seed in seeds:
            model = build_model(arch, dataset.input_shape, dataset.n_classes, mean=dataset.mean, std=dataset.std,
                                seed=seed)
            model.train()
            ctx = ProxyContext(tuple(dataset.input_shape), dataset.n_classes, seed, dataset.train.x, dataset.train.y)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                try:
                    v = float(fn(model, x, y, ctx))
                except (RuntimeError, ValueError, FloatingPointError, torch.linalg.LinAlgError):
                    v = float("nan")  # a proxy that cannot be computed here is a missing value
            values.append(v if math.isfinite(v) else float("nan"))
        finite = [v for v in values if not math.isnan(v)]
        out[name] = sum(finite) / len(finite) if finite else float("nan")
    return out


__all__ = ["ALL_PROXIES", "NASLIB_PROXIES", "PROXIES", "ProxyContext", "check_proxies", "compute_proxies",
           "scoring_batch"]
