"""Confidence cascades: routing, the two extreme thresholds, costs from the routing, robustness, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from paretonet.cascade import (
    Cascade,
    cascade_objectives,
    choose_threshold,
    confidence,
    curve,
    pixelate,
    stage_costs,
    stage_logits,
)
from paretonet.cli import main
from paretonet.errors import ConfigError
from paretonet.evaluate import RobustnessConfig, accuracy, evaluate_robustness
from paretonet.pipeline import train_architecture
from paretonet.spaces import Architecture
from paretonet.train import TrainConfig


@pytest.fixture(scope="module")
def members(digits):
    small = train_architecture(Architecture.parse("lenet:lenet-tiny"), digits, TrainConfig(epochs=15, seed=0)).model
    large = train_architecture(Architecture.parse("lenet:lenet5"), digits, TrainConfig(epochs=8, seed=0)).model
    return small.eval(), large.eval()


def test_threshold_one_is_the_large_model_and_zero_the_small_one(members, digits):
    small, large = members
    x = digits.test.x
    with torch.no_grad():
        assert torch.equal(Cascade([small, large], 1.0, digits.input_shape).eval()(x), large(x))
        assert torch.equal(Cascade([small, large], 0.0, digits.input_shape).eval()(x), small(x))
    for t, member in ((1.0, large), (0.0, small)):
        objectives, point = cascade_objectives(Cascade([small, large], t, digits.input_shape).eval(), digits)
        assert objectives[0].value == accuracy(member, digits.test)
        assert point.answered == ((0.0, 1.0) if t == 1.0 else (1.0, 0.0))


def test_costs_follow_the_share_of_images_reaching_each_stage(members, digits):
    small, large = members
    with torch.no_grad():
        median = float(confidence(small(digits.test.x), "softmax").median())  # about half the images go on
    c = Cascade([small, large], median, digits.input_shape).eval()
    costs = stage_costs(c)
    objectives, p = cascade_objectives(c, digits)
    assert 0.0 < p.reached[1] < 1.0 and p.reached[0] == 1.0
    by = {o.name: o.value for o in objectives}
    assert by["macs"] == pytest.approx(costs[0].macs + p.reached[1] * costs[1].macs)
    assert by["size_bytes"] == costs[0].size_bytes + costs[1].size_bytes
    # the curve routes from every stage's logits as the cascade's own forward pass does
    (q,) = curve(c, stage_logits(c, digits.test), digits.test.y, costs, [median])
    assert (q.accuracy, *q.answered, q.macs) == pytest.approx((p.accuracy, *p.answered, p.macs))


def test_the_chosen_threshold_keeps_the_accuracy_budget_on_validation(members, digits):
    small, large = members
    c = Cascade([small, large], 0.5, digits.input_shape).eval()
    costs = stage_costs(c)
    t, points = choose_threshold(c, digits.val, costs, 0.01)
    chosen = next(p for p in points if p.threshold == t)
    assert chosen.accuracy >= points[-1].accuracy - 0.01  # points[-1]: threshold 1, the large model alone
    assert all(p.macs >= chosen.macs for p in points if p.accuracy >= points[-1].accuracy - 0.01)


def test_pixelated_first_stage_reads_a_quarter_of_the_values(members, digits):
    small, large = members
    x = digits.test.x[:5]
    px = pixelate(x, 2)
    assert torch.allclose(px[:, :, ::2, ::2], torch.nn.functional.avg_pool2d(x, 2))
    assert torch.equal(px[:, :, ::2, ::2], px[:, :, 1::2, 1::2])
    c = Cascade([large, large], 0.0, digits.input_shape, pixelate=[2, 1]).eval()
    assert [s.input_values for s in stage_costs(c)] == [16.0, 64.0]
    with pytest.raises(ConfigError, match="pixelate: stage 1 factor 3 does not divide the 8x8 input"):
        Cascade([small, large], 0.5, digits.input_shape, pixelate=[3, 1])


def test_attacks_treat_the_routing_as_non_differentiable(members, digits):
    small, large = members
    c = Cascade([small, large], 0.9, digits.input_shape).eval()
    x, y = digits.test.x[:30], digits.test.y[:30]
    r = evaluate_robustness(c, x, y, RobustnessConfig(eps=0.1, preset="fast", queries=50, sanity=False))
    assert r.gradient_mode == "bpda+transfer+square"
    assert 0.0 <= r.robust_accuracy <= r.clean_accuracy


def test_stages_must_classify_the_same_classes(members, digits):
    small, _ = members
    other = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
    with pytest.raises(ConfigError, match=r"stages: class counts differ \(10, 4\)"):
        Cascade([small, other], 0.5, digits.input_shape)
    with pytest.raises(ConfigError, match="threshold"):
        Cascade([small, small], 1.5, digits.input_shape)


def test_cli_cascade_writes_the_members_and_the_cascade(capsys, saved_model, tmp_path, digits):
    big = tmp_path / "big"
    assert main(["train", "--arch", "lenet5", "--epochs", "6", "--save-model", str(big)]) == 0
    out = tmp_path / "c.json"
    assert main(["cascade", saved_model, str(big), "--images", "20", "--queries", "40", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "trade-off on the 359 test images" in text and "cascade vs model 2" in text
    recs = json.loads(out.read_text())
    assert len(recs) == 3 and recs[2]["architecture"].startswith("cascade:softmax>")
    names = {o["name"] for o in recs[2]["objectives"]}
    assert {"accuracy", "macs", "input_values", "size_bytes", "robust_accuracy@worst:fast:0.1"} <= names
    assert main(["compare", str(out), "--baseline", "1"]) == 0  # the records compare like any others


@pytest.mark.parametrize("args,message", [
    (["--threshold", "1.5"], "--threshold: got 1.5, expected a number in [0, 1]"),
    (["--target-accuracy-drop", "-0.1"], "--target-accuracy-drop: got -0.1"),
    (["--pixelate", "3,1"], "pixelate: stage 1 factor 3 does not divide the 8x8 input"),
    (["--confidence", "entropy"], "confidence: got 'entropy'"),
])
def test_cli_cascade_bad_input_is_one_line_and_exit_2(capsys, saved_model, args, message):
    assert main(["cascade", saved_model, saved_model, "--no-robust", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_cli_cascade_refuses_models_of_other_datasets(capsys, saved_model, tmp_path):
    other = tmp_path / "syn"
    assert main(["train", "--arch", "lenet-tiny", "--dataset", "synthetic", "--epochs", "1", "--save-model", str(other)]) == 0
    capsys.readouterr()
    assert main(["cascade", saved_model, str(other), "--no-robust"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is for synthetic (1, 8, 8), 4 classes" in err[0], err
