"""Zero-cost proxies: NAS-Bench-201 reference columns, finiteness on every space, seeding, errors."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from paretonet.data import DataConfig
from paretonet.data._dataset import make_dataset
from paretonet.data._loaders import make_synthetic
from paretonet.errors import RegistryError
from paretonet.proxies import ALL_PROXIES, NASLIB_PROXIES, PROXIES, ProxyContext, compute_proxies
from paretonet.spaces import Architecture, build_model


@pytest.fixture(scope="module")
def cifar_like():
    """A 3x32x32, 10-class stand-in with CIFAR-10's shape (no CIFAR files needed)."""
    return make_dataset("synthetic32", make_synthetic(n=400, shape=(3, 32, 32), n_classes=10), DataConfig("synthetic"))


def test_registry_has_the_naslib_set_and_the_robustness_proxies():
    assert set(NASLIB_PROXIES) <= set(ALL_PROXIES)
    assert {"jacobian_norm", "croze", "learning_curve"} <= set(ALL_PROXIES)


def test_params_flops_and_synflow_match_the_nb201_csv(shared):
    with open(shared / "nb201" / "nb201_zc_proxies.csv") as f:
        rows = list(csv.DictReader(f))
    pick = np.random.default_rng(0).choice(len(rows), 100, replace=False)
    ctx = ProxyContext((3, 32, 32), 10, 0)
    ours, ref = [], []
    for i in pick:
        r = rows[i]
        model = build_model(Architecture.parse("nb201:" + r["net_str"]), (3, 32, 32), 10, seed=0).train()
        assert f"{PROXIES.get('params')(model, None, None, ctx):.6f}" == f"{float(r['params']):.6f}"
        assert f"{PROXIES.get('flops')(model, None, None, ctx):.6f}" == f"{float(r['flops']):.6f}"
        ours.append(PROXIES.get("synflow")(model, None, None, ctx))
        ref.append(float(r["synflow"]))
    assert spearmanr(ours, ref).statistic >= 0.9


@pytest.mark.parametrize("arch", ["lenet:lenet5", "lenet:lenet5-tanh", "lenet:lenet-tiny"])
def test_every_proxy_is_finite_on_lenet(digits, arch):
    values = compute_proxies(arch, digits)
    assert set(values) == set(ALL_PROXIES)
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    assert not bad


def test_every_proxy_is_finite_on_an_nb201_cell(cifar_like):
    cell = "nb201:|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    values = compute_proxies(cell, cifar_like, batch_size=16)
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    assert not bad


def test_seeded_averaged_and_global_rng_untouched(digits):
    state = torch.random.get_rng_state()
    a = compute_proxies("lenet:lenet5", digits, ("snip", "jacov", "zen"), seeds=(0, 1))
    b = compute_proxies("lenet:lenet5", digits, ("snip", "jacov", "zen"), seeds=(0, 1))
    c = compute_proxies("lenet:lenet5", digits, ("snip", "jacov", "zen"), seeds=(2,))
    assert a == b and a != c
    one = [compute_proxies("lenet:lenet5", digits, ("snip",), seeds=(s,))["snip"] for s in (0, 1)]
    assert a["snip"] == pytest.approx(sum(one) / 2)
    assert torch.equal(state, torch.random.get_rng_state())


def test_a_failing_proxy_is_missing_not_an_error(digits):
    # a degenerate network (all-zero weights) has a singular NWOT kernel and zero synflow
    ctx = ProxyContext((1, 8, 8), 10, 0)
    model = build_model(Architecture.parse("lenet:lenet-tiny"), (1, 8, 8), 10, seed=0)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    assert math.isnan(PROXIES.get("synflow")(model, digits.train.x[:8], digits.train.y[:8], ctx))


def test_unknown_proxy_is_a_clear_error(digits):
    with pytest.raises(RegistryError, match="unknown proxy 'nope'; known: .*synflow"):
        compute_proxies("lenet:lenet5", digits, ("nope",))
