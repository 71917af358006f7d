from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from paretonet import DataConfig, TrainConfig, train_architecture
from paretonet.errors import ConfigError, RegistryError
from paretonet.evaluate import (
    AttackConfig,
    RobustnessConfig,
    RoundInput,
    evaluate_robustness,
    gradient_mode,
    make_attack,
    noise_robustness,
    parse_noise_spec,
    robustness_curve,
)


@pytest.fixture(scope="module")
def lenet():
    t = train_architecture("lenet:lenet5", DataConfig("digits"), TrainConfig(epochs=15))
    return t.model.eval(), t.dataset.test.x, t.dataset.test.y


def _acc(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


@pytest.mark.parametrize("name", ["fgsm", "pgd", "apgd-ce", "apgd-dlr", "square"])
@pytest.mark.parametrize("norm", ["Linf", "L2"])
def test_every_attack_stays_in_the_ball_and_the_unit_range(lenet, name, norm):
    model, x, y = lenet
    eps = 0.1 if norm == "Linf" else 1.0
    adv = make_attack(AttackConfig(name, eps, norm, steps=5, queries=50))(model, x[:40], y[:40])
    d = (adv - x[:40]).flatten(1)
    dist = d.abs().amax(1) if norm == "Linf" else d.norm(dim=1)
    assert float(dist.max()) <= eps + 1e-5
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    assert _acc(model, adv, y[:40]) <= _acc(model, x[:40], y[:40])


def test_attacks_restore_mode_and_leave_global_rng_alone(lenet):
    model, x, y = lenet
    model.train()
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    for name in ("pgd", "apgd-ce", "square"):
        make_attack(AttackConfig(name, 0.1, steps=3, queries=20))(model, x[:10], y[:10])
    assert model.training and torch.equal(torch.random.get_rng_state(), state)
    model.eval()


def test_worst_case_records_who_broke_each_image(lenet):
    model, x, y = lenet
    r = evaluate_robustness(model, x[:120], y[:120], RobustnessConfig(eps=0.1, preset="fast", sanity=False))
    assert r.gradient_mode == "white-box"
    assert [a.name for a in r.attacks] == ["fgsm", "pgd"]
    robust = sum(b == "" for b in r.broken_by)
    assert robust / 120 == r.robust_accuracy < r.clean_accuracy
    assert sum(b == "misclassified" for b in r.broken_by) == round((1 - r.clean_accuracy) * 120)
    assert r.attacks[0].images_broken == sum(b == "fgsm" for b in r.broken_by)
    # PGD only ran on what FGSM left standing
    assert r.attacks[1].images_attacked == r.attacks[0].images_attacked - r.attacks[0].images_broken
    assert r.attacks[1].budget == {"name": "pgd", "eps": 0.1, "norm": "Linf", "steps": 20, "step_size": 0.0125,
                                   "restarts": 1, "seed": 0}


def test_early_exit_gives_identical_outcomes(lenet):
    model, x, y = lenet
    cfg = RobustnessConfig(eps=0.1, attacks=("fgsm", "pgd", "apgd-ce", "square"), steps=10, queries=200, sanity=False)
    fast = evaluate_robustness(model, x[:150], y[:150], cfg)
    slow = evaluate_robustness(model, x[:150], y[:150], RobustnessConfig(**{**cfg.__dict__, "early_exit": False}))
    assert fast.broken_by == slow.broken_by and fast.robust_accuracy == slow.robust_accuracy
    assert sum(a.images_attacked for a in fast.attacks) < sum(a.images_attacked for a in slow.attacks)


def test_eps_sweep_is_monotone(lenet):
    model, x, y = lenet
    curve = robustness_curve(model, x[:100], y[:100], [0.0, 0.05, 0.1, 0.3], RobustnessConfig(preset="fast", sanity=False))
    accs = [r.robust_accuracy for r in curve]
    assert accs[0] == curve[0].clean_accuracy and accs == sorted(accs, reverse=True) and accs[-1] < 0.05


def test_a_bad_eps_in_a_sweep_is_refused_before_any_attack_runs():
    calls = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(len(x))
            return torch.zeros(len(x), 10)

    x, y = torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ConfigError, match="eps: got 2"):
        robustness_curve(Counting().eval(), x, y, [0.1, 2.0], RobustnessConfig(preset="fast", sanity=False))
    assert calls == []  # the valid first eps was not evaluated only to fail on the second


def test_sanity_checks_pass_on_a_plain_model(lenet):
    model, x, y = lenet
    r = evaluate_robustness(model, x[:200], y[:200], RobustnessConfig(eps=0.1, preset="fast"))
    assert {c.name for c in r.sanity} == {
        "deterministic_eval_mode", "outputs_are_logits", "nonzero_input_gradients", "pgd_not_weaker_than_fgsm",
        "more_steps_never_help", "accuracy_vanishes_at_large_eps", "blackbox_not_below_whitebox",
        "adversarials_within_eps_and_unit_range"}
    assert r.sanity_passed, [c for c in r.sanity if not c.passed]
    assert not r.gradient_masking_suspected


def test_input_rounding_is_flagged_and_evaluated_with_bpda_transfer_and_square(lenet):
    model, x, y = lenet
    rounded = nn.Sequential(RoundInput(255), model).eval()
    # its own gradients are zero: a plain white-box attack does not move the input at all
    with gradient_mode(rounded, "exact"):
        adv = make_attack(AttackConfig("fgsm", 0.1))(rounded, x[:100], y[:100])
    assert torch.equal(adv, x[:100])
    r = evaluate_robustness(rounded, x[:200], y[:200], RobustnessConfig(eps=0.1, preset="fast", queries=500))
    assert r.gradient_mode == "bpda+transfer+square"
    assert [a.name for a in r.attacks] == ["fgsm/bpda", "fgsm/transfer", "pgd/bpda", "pgd/transfer", "square"]
    # the checks look through the masking the way the evaluation does: BPDA gradients are non-zero, and
    # Square does not beat the stronger of BPDA and transfer, so nothing is left masked
    checks = {c.name: c for c in r.sanity}
    assert checks["nonzero_input_gradients"].passed and "(BPDA)" in checks["nonzero_input_gradients"].detail
    assert checks["blackbox_not_below_whitebox"].passed and "transfer" in checks["blackbox_not_below_whitebox"].detail
    assert not r.gradient_masking_suspected
    # with BPDA the rounding buys (almost) nothing: robust accuracy close to the plain model's
    plain = evaluate_robustness(model, x[:200], y[:200], RobustnessConfig(eps=0.1, preset="fast", sanity=False))
    assert abs(r.robust_accuracy - plain.robust_accuracy) <= 0.03
    assert r.robust_accuracy < 0.8 * r.clean_accuracy


def test_noise_curve_is_seeded_and_falls(lenet):
    model, x, y = lenet
    kind, levels = parse_noise_spec("gaussian:0.0,0.3,0.8")
    a = noise_robustness(model, x, y, kind, levels, draws=3, seed=1)
    b = noise_robustness(model, x, y, kind, levels, draws=3, seed=1)
    assert a == b
    assert a[0].std_accuracy == 0.0 and a[0].mean_accuracy == _acc(model, x, y)
    assert a[2].mean_accuracy < a[1].mean_accuracy < a[0].mean_accuracy
    for kind in ("uniform", "salt-pepper"):
        pts = noise_robustness(model, x, y, kind, (0.05, 0.6), draws=2)
        assert pts[1].mean_accuracy < pts[0].mean_accuracy


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: AttackConfig("pgd", -0.1), "eps: got -0.1"),
        (lambda: AttackConfig("pgd", 1.5), "eps: got 1.5"),
        (lambda: AttackConfig("cw", 0.1), "unknown attack 'cw'"),
        (lambda: RobustnessConfig(preset="strong"), "preset: got 'strong'"),
        (lambda: AttackConfig("fgsm", 0.1, norm="L1"), "norm: got 'L1'"),
        (lambda: parse_noise_spec("pink:0.1"), "--noise: got 'pink:0.1'"),
    ],
)
def test_bad_attack_settings(make, message):
    with pytest.raises((ConfigError, RegistryError), match=message):
        make()


ROBUST_IN_CHILD = """
import sys, torch
from paretonet import DataConfig, TrainConfig, train_architecture
from paretonet.evaluate import RobustnessConfig, evaluate_robustness
t = train_architecture("lenet:lenet-tiny", DataConfig("digits"), TrainConfig(epochs=3))
cfg = RobustnessConfig(eps=0.1, attacks=("pgd", "apgd-ce", "square"), steps=5, queries=100, seed=3, sanity=False)
r = evaluate_robustness(t.model, t.dataset.test.x[:60], t.dataset.test.y[:60], cfg)
print(repr(r.robust_accuracy), "".join(b[:1] or "." for b in r.broken_by))
"""


def test_same_seed_same_robust_accuracy_across_processes():
    runs = [subprocess.run([sys.executable, "-c", ROBUST_IN_CHILD], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].strip()


# -- cross-checks against the reference implementations ----------------------------------------

def _reference_robust_accuracy(pyautoattack, model, x, y, attack: str, seed: int, queries: int) -> float:
    aa = pyautoattack.AutoAttack(model, attacks=[attack], eps=0.1, norm="Linf", seed=seed, version="custom")
    aa.apgd.n_restarts = 1  # 'custom' keeps 5 restarts; compare equal budgets
    aa.square.n_queries = queries
    with contextlib.redirect_stdout(io.StringIO()):
        adv, _ = aa.run_standard_evaluation(x, y, batch_size=500)
    return _acc(model, adv, y)


@pytest.mark.slow
def test_apgd_ce_and_square_match_reference_autoattack(lenet):
    pyautoattack = pytest.importorskip("pyautoattack")
    model, x, y = lenet
    for attack in ("apgd-ce", "square"):
        ours, ref = [], []
        for seed in range(3):
            cfg = RobustnessConfig(eps=0.1, attacks=(attack,), queries=300, seed=seed, sanity=False)
            ours.append(evaluate_robustness(model, x, y, cfg).robust_accuracy)
            ref.append(_reference_robust_accuracy(pyautoattack, model, x, y, attack, seed, queries=300))
        assert abs(np.mean(ours) - np.mean(ref)) <= 0.01, (attack, ours, ref)


@pytest.mark.slow
def test_pgd20_matches_torchattacks(lenet):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = lenet
    ours, theirs = [], []
    for seed in range(3):
        ours.append(evaluate_robustness(model, x, y, RobustnessConfig(eps=0.1, attacks=("pgd",), steps=20, seed=seed,
                                                                       sanity=False)).robust_accuracy)
        attack = torchattacks.PGD(model, eps=0.1, alpha=2.5 * 0.1 / 20, steps=20, random_start=True)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            theirs.append(_acc(model, attack(x, y), y))
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.01, (ours, theirs)


def test_summary_and_ranking_flips():
    from paretonet.evaluate import SeedVariance, ranking_flips, summarize

    s = summarize([0.32, 0.40, 0.51, 0.45, 0.36])
    assert s.n == 5 and s.min == 0.32 and s.max == 0.51
    assert s.mean == pytest.approx(0.408) and s.std == pytest.approx(0.07463, abs=1e-4)
    assert s.ci95_low == pytest.approx(0.408 - 2.7764 * 0.07463 / 5**0.5, abs=1e-3)
    a = SeedVariance("A", (0, 1, 2), 10, "fast@0.1", (0.9,) * 3, (0.5, 0.4, 0.45), s, s)
    b = SeedVariance("B", (0, 1, 2), 10, "fast@0.1", (0.9,) * 3, (0.42, 0.41, 0.30), s, s)
    flips = ranking_flips(a, b)
    assert flips.better_on_average == "A"
    assert flips.paired_flip_rate == pytest.approx(1 / 3)  # seed 1: 0.40 < 0.41
    assert flips.cross_flip_rate == pytest.approx(2 / 9)  # 0.4 < 0.42, 0.4 < 0.41


def test_seed_variance_trains_each_seed(synthetic):
    from paretonet.pipeline import seed_variance

    v, records = seed_variance("lenet:lenet-tiny", synthetic, TrainConfig(epochs=2), (0, 1, 2),
                               RobustnessConfig(eps=0.1, preset="fast", sanity=False), images=40)
    assert [r.seed for r in records] == [0, 1, 2]
    assert [r.value("robust_accuracy@worst:fast:0.1") for r in records] == list(v.robust_values)
    assert all(r.budgets["robust_images"] == 40 and r.budgets["epochs"] == 2 for r in records)
    assert v.seeds == (0, 1, 2) and v.n_images == 40 and len(v.robust_values) == 3
    assert v.robust.min <= v.robust.mean <= v.robust.max and v.robust.n == 3
    assert all(r <= c for r, c in zip(v.robust_values, v.clean_values))


SANITY_NAMES = {"deterministic_eval_mode", "outputs_are_logits", "nonzero_input_gradients", "pgd_not_weaker_than_fgsm",
                "more_steps_never_help", "accuracy_vanishes_at_large_eps", "blackbox_not_below_whitebox",
                "adversarials_within_eps_and_unit_range"}


def test_sanity_checks_run_on_float_quantized_and_approximate_models(lenet, digits, shared):
    """Quantized and approximate models are the ones most likely to mask gradients: the checks run on
    them too (through BPDA and transfer), each named with its numbers, and none crashes."""
    from paretonet.spaces import Architecture
    from paretonet.variant import Variant, apply_variant

    model, x, y = lenet
    arch = Architecture.parse("lenet:lenet5")
    models = {"float": model,
              "qat 4-bit": apply_variant(model, arch, digits, Variant(bits=4, qat=1), TrainConfig(epochs=15)).model,
              "mul8u_L40": apply_variant(model, arch, digits, Variant(multiplier="mul8u_L40"),
                                         lut_dirs=(str(shared / "evoapprox" / "luts"),)).model}
    for kind, m in models.items():
        r = evaluate_robustness(m, x[:100], y[:100], RobustnessConfig(eps=0.1, preset="fast", queries=200))
        assert {c.name for c in r.sanity} == SANITY_NAMES, kind
        assert all(np.isfinite(c.value) and np.isfinite(c.threshold) and c.detail for c in r.sanity), kind
        assert r.gradient_mode == ("white-box" if kind == "float" else "bpda+transfer+square"), kind
        assert not r.gradient_masking_suspected, (kind, [c for c in r.sanity if not c.passed])


def test_more_steps_check_compares_like_with_like(lenet):
    """Same step size and start: PGD-40 is PGD-10 walked further, so it never leaves more images correct."""
    model, x, y = lenet
    r = evaluate_robustness(model, x[:200], y[:200], RobustnessConfig(eps=0.1, preset="fast"))
    check = next(c for c in r.sanity if c.name == "more_steps_never_help")
    assert check.value <= 0 and check.threshold == 1 and "step size eps/4" in check.detail


def test_standard_preset_is_autoattacks_standard_set():
    from pyautoattack import AutoAttack

    from paretonet.evaluate import PRESETS

    reference = AutoAttack(nn.Linear(1, 1), version="standard")
    assert list(PRESETS["standard"]) == reference.attacks_to_run == ["apgd-ce", "apgd-t", "fab-t", "square"]


@pytest.mark.parametrize("name", ["apgd-t", "fab-t"])
def test_targeted_attacks_stay_in_the_ball_and_break_images(lenet, name):
    model, x, y = lenet
    adv = make_attack(AttackConfig(name, 0.1, steps=10))(model, x[:30], y[:30])
    assert float((adv - x[:30]).abs().max()) <= 0.1 + 1e-5 and float(adv.min()) >= 0 and float(adv.max()) <= 1
    assert _acc(model, adv, y[:30]) < _acc(model, x[:30], y[:30])


def test_transfer_pgd_walks_until_the_scored_model_is_fooled():
    from paretonet.layers import NonDifferentiable

    class Shift(NonDifferentiable):
        def exact(self, x):  # noqa: ANN001, ANN202
            return x + 0.1  # the twin (identity) is fooled below 0.5, the real model only below 0.4

    class TwoClass(nn.Module):
        def forward(self, x):  # noqa: ANN001, ANN202
            v = x.flatten(1)[:, :1]
            return torch.cat([v - 0.5, 0.5 - v], 1)

    model = nn.Sequential(Shift(), TwoClass()).eval()
    x, y = torch.full((64, 1, 1, 1), 0.6), torch.zeros(64, dtype=torch.long)
    from paretonet.evaluate._running import predict, run_attack

    adv = run_attack(model, AttackConfig("pgd", 0.3, steps=20, seed=1), "transfer", x, y, torch.arange(64))
    # stopping when the twin is fooled (x < 0.5) would leave most images correct on the real model (x >= 0.4)
    assert bool((predict(model, adv) != y).all())


def test_every_failed_sanity_check_at_every_eps_is_printed(lenet, capsys):
    from paretonet.cli.robustness import print_sanity

    model, x, y = lenet
    probabilities = nn.Sequential(model, nn.Softmax(dim=1)).eval()  # fails outputs_are_logits at every eps
    curve = robustness_curve(probabilities, x[:40], y[:40], [0.05, 0.1], RobustnessConfig(preset="fast", queries=50))
    print_sanity([r.details() for r in curve])  # what a Record holds
    err = capsys.readouterr().err
    for eps in ("0.05", "0.1"):
        assert f"sanity check outputs_are_logits failed at eps {eps}" in err, err
    failed = sum(not c.passed for r in curve for c in r.sanity)
    assert err.count("warning: sanity check") == failed >= 2


def test_unmarked_gradient_masking_is_flagged(lenet):
    """A model that rounds its input with plain torch ops (no NonDifferentiable marker) masks its gradients
    from white-box attacks; the checks catch it: zero input gradients, and Square breaks what PGD could not."""

    class SilentRound(nn.Module):
        def forward(self, x):  # noqa: ANN001, ANN202
            return torch.round(x * 8) / 8

    model, x, y = lenet
    masked = nn.Sequential(SilentRound(), model).eval()
    r = evaluate_robustness(masked, x[:100], y[:100], RobustnessConfig(eps=0.1, preset="fast", sanity_queries=300))
    checks = {c.name: c for c in r.sanity}
    assert r.gradient_mode == "white-box"
    assert not checks["nonzero_input_gradients"].passed and checks["nonzero_input_gradients"].value >= 90
    assert not checks["blackbox_not_below_whitebox"].passed and checks["blackbox_not_below_whitebox"].value > 0.1
    assert r.gradient_masking_suspected


def test_one_pgd_walk_answers_both_step_counts(lenet):
    """PGD-10's iterates are PGD-40's first ten (same start, same step size): the walk's first-fooled step says,
    per image, what a separate PGD-10 run says, and its result is PGD-40's."""
    from paretonet.evaluate._running import run_attack, walk_attack

    model, x, y = lenet
    x, y, idx = x[:150], y[:150], torch.arange(150)
    cfg = AttackConfig("pgd", 0.1, steps=40, step_size=0.025, seed=3)
    adv, fooled_at = walk_attack(model, cfg, "white", x, y, idx)
    assert torch.equal(adv, run_attack(model, cfg, "white", x, y, idx))
    ten = run_attack(model, AttackConfig("pgd", 0.1, steps=10, step_size=0.025, seed=3), "white", x, y, idx)
    with torch.no_grad():
        fooled_by_ten = model(ten).argmax(1) != y
    assert torch.equal(fooled_by_ten, (fooled_at >= 0) & (fooled_at <= 10))
    assert ((fooled_at > 10).sum() > 0) and ((fooled_at == -1).sum() > 0)  # both kinds of image occur
    with pytest.raises(ConfigError, match="walk_attack runs pgd"):
        walk_attack(model, AttackConfig("fgsm", 0.1), "white", x, y, idx)


def test_black_box_check_reads_the_evaluations_own_square(lenet, monkeypatch):
    """When Square ran last in the evaluation (every model without gradients), the check reads its per-image
    results instead of running Square again; the check's number is the evaluation's Square breaks."""
    from paretonet.evaluate import _attacks

    calls = []
    original = _attacks.Square.run
    monkeypatch.setattr(_attacks.Square, "run", lambda self, *a: calls.append(len(a[1])) or original(self, *a))
    model, x, y = lenet
    rounded = nn.Sequential(RoundInput(255), model).eval()
    r = evaluate_robustness(rounded, x[:120], y[:120], RobustnessConfig(eps=0.1, preset="fast", queries=300,
                                                                        sanity_images=100, sanity_queries=300))
    assert len(calls) == 1  # the evaluation's Square only
    assert r.sanity_square_reused and r.sanity_queries == 300
    check = next(c for c in r.sanity if c.name == "blackbox_not_below_whitebox")
    assert check.value == r.broken_by[:100].count("square") / 100
    assert "pgd/transfer" in check.detail and "Square-300" in check.detail
    assert 0 < r.sanity_seconds < r.seconds and r.details()["attack_seconds"] > 0
    # fewer queries in the evaluation than the check asks for: the check runs its own Square
    calls.clear()
    r = evaluate_robustness(rounded, x[:120], y[:120], RobustnessConfig(eps=0.1, preset="fast", queries=100,
                                                                        sanity_images=100, sanity_queries=300))
    assert len(calls) == 2 and not r.sanity_square_reused and r.sanity_queries == 300


def test_the_robust_accuracy_standing_before_each_attack_bounds_the_worst_case(lenet):
    """What lets a search stop a trial before its attacks: the bound only falls, and it never falls below the result."""
    from paretonet.evaluate import RobustnessAbandoned

    model, x, y = lenet
    x, y = x[:40], y[:40]
    config = RobustnessConfig(eps=0.1, preset="fast", sanity=False)
    bounds: list[float] = []
    full = evaluate_robustness(model, x, y, config, give_up=lambda b: bounds.append(b) or False)
    assert len(bounds) == len(full.attacks) and bounds[0] == full.clean_accuracy
    assert all(a >= b >= full.robust_accuracy for a, b in zip(bounds, bounds[1:]))
    calls: list[float] = []
    with pytest.raises(RobustnessAbandoned) as e:
        evaluate_robustness(model, x, y, config, give_up=lambda b: calls.append(b) or len(calls) == 2)
    assert e.value.ran == (full.attacks[0].name,) and e.value.at_most == bounds[1] >= full.robust_accuracy
