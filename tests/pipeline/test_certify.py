"""Certified robustness: interval bounds against brute force, randomized smoothing's certificate, recipes, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn

from paretonet.cli import main
from paretonet.errors import ConfigError
from paretonet.evaluate import (
    SmoothingConfig,
    certify_smoothing,
    clopper_pearson_lower,
    evaluate_objectives,
    ibp_certified,
    parse_certified,
    smoothed_predict,
)
from paretonet.layers import interval_bounds, margin_lower_bounds
from paretonet.pipeline import train_architecture
from paretonet.spaces import Architecture, build_model, sample_architecture
from paretonet.train import Recipe, TrainConfig


def _random_net(seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm2d(6)
    bn.running_mean.copy_(torch.randn(6, generator=g))
    bn.running_var.copy_(torch.rand(6, generator=g) + 0.2)
    bn.weight.data.copy_(torch.randn(6, generator=g))  # negative scales too
    acts = [nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU()]
    net = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), bn, acts[seed % 4], nn.MaxPool2d(2), nn.Conv2d(6, 4, 3),
                        nn.AvgPool2d(2, stride=1), nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 5))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.7)
    return net.eval()


def _within(model: nn.Module, x: torch.Tensor, eps: float, samples: int = 10_000) -> None:
    lo, hi = (x - eps).clamp(0, 1), (x + eps).clamp(0, 1)
    with torch.no_grad():
        low, high = interval_bounds(model, lo, hi)
        pts = lo + (hi - lo) * torch.rand((samples, *x.shape[1:]), generator=torch.Generator().manual_seed(1))
        pts[:2] = torch.cat([lo, hi])  # the corners too
        out = torch.cat([model(pts[i:i + 2000]) for i in range(0, samples, 2000)])
    assert bool((out >= low - 1e-5).all()) and bool((out <= high + 1e-5).all())


@pytest.mark.parametrize("seed", range(6))
def test_no_sampled_point_leaves_the_interval_bounds_of_a_random_network(seed):
    x = torch.rand((1, 1, 8, 8), generator=torch.Generator().manual_seed(seed))
    _within(_random_net(seed), x, 0.1)


@pytest.mark.parametrize("space,shape", [("lenet", (1, 8, 8)), ("nb201", (3, 8, 8))])
def test_no_sampled_point_leaves_the_bounds_of_the_spaces_models(space, shape):
    for seed in range(2):
        model = build_model(sample_architecture(space, seed, shape), shape, 10).eval()
        _within(model, torch.rand((1, *shape), generator=torch.Generator().manual_seed(seed)), 0.05)


def test_bounds_contain_the_exact_range_of_a_tiny_2d_network():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    lo, hi = torch.tensor([[0.2, 0.3]]), torch.tensor([[0.5, 0.4]])
    grid = torch.stack(torch.meshgrid(torch.linspace(0.2, 0.5, 400), torch.linspace(0.3, 0.4, 400), indexing="ij"), -1)
    with torch.no_grad():
        out = net(grid.reshape(-1, 2))
        low, high = interval_bounds(net, lo, hi)
        margins = margin_lower_bounds(net, lo, hi, torch.tensor([1]))
    assert bool((out.min(0).values >= low[0] - 1e-6).all()) and bool((out.max(0).values <= high[0] + 1e-6).all())
    exact = (out[:, 1:2] - out).min(0).values  # the true least margin of class 1 over the box
    assert bool((margins[0] <= exact + 1e-6).all()) and margins[0, 1] == 0


def test_interval_bounds_refuse_what_they_cannot_bound():
    with pytest.raises(ConfigError, match=r"IBP: layer model.1 \(SiLU\) has no interval bounds"):
        interval_bounds(nn.Sequential(nn.Linear(2, 2), nn.SiLU()), torch.zeros(1, 2), torch.ones(1, 2))
    # GELU's minimum inside a box: the lower bound reaches it, and no point falls below
    lo, hi = torch.tensor([[-2.0, -0.9, -0.5]]), torch.tensor([[1.0, -0.6, 0.5]])
    low, high = interval_bounds(nn.GELU(), lo, hi)
    xs = lo + (hi - lo) * torch.linspace(0, 1, 100001).unsqueeze(1)
    ys = nn.GELU()(xs)
    assert bool((ys.min(0).values >= low[0]).all()) and bool((ys.max(0).values <= high[0]).all())
    assert float(low[0, 0]) == pytest.approx(float(ys[:, 0].min()), abs=1e-5)


def test_clopper_pearson_and_the_radius_of_a_constant_classifier():
    assert clopper_pearson_lower(100, 100, 0.001) == pytest.approx(0.001 ** (1 / 100))
    assert clopper_pearson_lower(0, 100, 0.001) == 0.0

    class Constant(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tensor([0.0, 1.0, 0.0]).repeat(len(x), 1)

    x, y = torch.rand(3, 1, 4, 4), torch.tensor([1, 1, 0])
    r = certify_smoothing(Constant(), x, y, SmoothingConfig(sigma=0.5, n0=10, n=200))
    radius = 0.5 * norm.ppf(0.001 ** (1 / 200))
    assert r.radii == pytest.approx((radius,) * 3) and r.predictions == (1, 1, 1)
    assert r.certified_accuracy(radius) == pytest.approx(2 / 3) and r.certified_accuracy(radius + 1e-6) == 0.0


@pytest.fixture(scope="module")
def lenet(digits):
    return train_architecture(Architecture.parse("lenet:lenet5"), digits, TrainConfig(epochs=6, seed=0)).model.eval()


def test_smoothing_radius_zero_is_the_smoothed_classifiers_accuracy(lenet, digits):
    x, y = digits.test.x[:60], digits.test.y[:60]
    cfg = SmoothingConfig(sigma=0.5, n0=20, n=100, seed=3)
    r = certify_smoothing(lenet, x, y, cfg)
    smoothed = np.array(smoothed_predict(lenet, x, cfg))
    assert r.certified_accuracy(0.0) == pytest.approx(float((smoothed == y.numpy()).mean()))
    assert r.abstentions == int((smoothed == -1).sum()) > 0  # sigma 0.5 on 8x8 digits: some images abstain
    curve = [r.certified_accuracy(rad) for rad in np.linspace(0, 1.5, 31)]
    assert all(a >= b for a, b in zip(curve, curve[1:])) and curve[-1] < curve[0]
    assert certify_smoothing(lenet, x, y, cfg) == r  # same seed, same certificate
    with pytest.raises(ConfigError, match="radius: got -0.1"):
        r.certified_accuracy(-0.1)


def test_certified_objectives_by_name(lenet, digits):
    small = type(digits)(digits.name, digits.train, digits.val, type(digits.test)(digits.test.x[:30], digits.test.y[:30]),
                         digits.classes, digits.mean, digits.std)
    ibp, = evaluate_objectives(lenet, small, ("certified_accuracy@ibp:linf:0",))
    assert ibp.images == 30 and ibp.value == pytest.approx(float((lenet(small.test.x).argmax(1) == small.test.y)
                                                                  .double().mean()))  # eps 0: the clean accuracy
    assert ibp_certified(lenet, small.test.x, small.test.y, 0.3).mean() <= ibp.value
    assert parse_certified("certified_accuracy@smoothing:l2:0.25") == ("smoothing", 0.25)
    for bad in ("certified_accuracy@smoothing:linf:0.25", "certified_accuracy@ibp:linf:-0.1",
                "certified_accuracy@ibp:linf:0.10"):
        with pytest.raises(ConfigError):
            parse_certified(bad)


def test_recipes_gaussian_and_ibp_train_and_name_themselves(digits):
    for text in ("gaussian/sigma=0.25", "ibp/eps=0.1/warmup=0.1/ramp=0.5"):
        assert str(Recipe.parse(text)) == text
    r = Recipe.parse("ibp/eps=0.2/warmup=0.2/ramp=0.4")
    assert [r.strength(p) for p in (0.1, 0.4, 0.6, 1.0)] == pytest.approx([0.0, 0.5, 1.0, 1.0])
    assert not r.selectable(0.5) and r.selectable(0.6)
    with pytest.raises(ConfigError, match="warmup 0.6 \\+ ramp 0.6 exceed"):
        Recipe.parse("ibp/warmup=0.6/ramp=0.6")
    t = train_architecture(Architecture.parse("lenet:lenet-tiny"), digits,
                           TrainConfig(epochs=4, seed=0, recipe=Recipe.parse("ibp/eps=0.05")))
    assert t.result.best_epoch >= 3  # only epochs at full eps may be kept (warmup 0.1 + ramp 0.5 of 4 epochs)
    with pytest.raises(ConfigError, match="recipe ibp: the model has batch norm"):
        train_architecture(Architecture.parse("lenet:native-same|c8k3-relu-max-bn|f32-relu"), digits,
                           TrainConfig(epochs=1, recipe=Recipe.parse("ibp")))


def test_cli_certify(capsys, saved_model, tmp_path):
    out = tmp_path / "c.json"
    assert main(["certify", saved_model, "--radii", "0,0.25", "--sigma", "0.25", "--n", "100", "--n0", "20",
                 "--eps", "0.05", "--images", "20", "--queries", "40", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "certified_accuracy@ibp:linf:0.05" in text and "robust_accuracy@worst:fast:0.05" in text
    rec = json.loads(out.read_text())
    by = {o["name"]: o for o in rec["objectives"]}
    assert by["certified_accuracy@ibp:linf:0.05"]["value"] <= by["robust_accuracy@worst:fast:0.05"]["value"]
    assert by["certified_accuracy@smoothing:l2:0.25"]["value"] <= by["certified_accuracy@smoothing:l2:0"]["value"]
    assert rec["budgets"]["smoothing_n"] == 100 and math.isfinite(rec["budgets"]["smoothing_abstentions"])


@pytest.mark.parametrize("args,message", [
    (["--radii", "-0.1"], "--radii: got -0.1, expected radii >= 0"),
    (["--sigma", "-1"], "sigma: got -1, expected a number in (0, inf]"),
    (["--eps", "2"], "--eps: got 2"),
])
def test_cli_certify_bad_input_is_one_line_and_exit_2(capsys, saved_model, args, message):
    assert main(["certify", saved_model, "--images", "5", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_noise_training_certifies_more_and_ibp_training_certifies_most(digits, seed):
    """Learned effects with margins that hold over seeds (benchmarks/certified.py has the README's numbers)."""
    arch = Architecture.parse("lenet:lenet5")

    def trained(recipe: str, epochs: int) -> nn.Module:
        return train_architecture(arch, digits, TrainConfig(epochs=epochs, seed=seed, recipe=Recipe.parse(recipe))).model

    x, y = digits.test.x, digits.test.y
    cfg = SmoothingConfig(sigma=0.25, n0=50, n=500, seed=seed)
    plain = trained("standard", 30)
    at_025 = [certify_smoothing(m, x, y, cfg).certified_accuracy(0.25) for m in (plain, trained("gaussian/sigma=0.25", 30))]
    assert at_025[1] > at_025[0] + 0.02, at_025
    ibp = ibp_certified(trained("ibp/eps=0.15", 100), x, y, 0.1).mean()
    assert ibp >= 0.5 and ibp > ibp_certified(plain, x, y, 0.1).mean() + 0.4, ibp
