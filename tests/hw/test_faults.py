"""Computation noise, bit-flip faults, vulnerability ranking and protection (paretonet.hw faults + evaluate)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from paretonet.errors import ConfigError
from paretonet.evaluate import (
    accuracy,
    evaluate_objectives,
    fault_accuracy,
    neuron_vulnerability,
    noise_accuracy,
    site_damage,
    top_neurons,
)
from paretonet.hw import (
    FaultModel,
    FaultSite,
    NoiseModel,
    Protection,
    compute_layers,
    draw_weight_faults,
    faulty,
    flip_bits,
    noisy,
    protection_cost,
)
from paretonet.hw import CodeFormat
from paretonet.pipeline import train_architecture
from paretonet.train import TrainConfig
from paretonet.variant import Variant, apply_variant


@pytest.fixture(scope="module")
def lenet(digits):
    t = train_architecture("lenet:lenet5", digits, TrainConfig(epochs=10, seed=0))
    return t


@pytest.fixture(scope="module")
def int8(lenet, digits):
    return apply_variant(lenet.model, lenet.architecture, digits, Variant(bits=8)).model


@pytest.fixture(scope="module")
def approx(lenet, digits):
    return apply_variant(lenet.model, lenet.architecture, digits, Variant(multiplier="trunc:k=6")).model


def test_layers_are_named_as_in_the_float_model(lenet, int8, approx):
    names = list(compute_layers(lenet.model))
    assert len(names) == 5
    assert list(compute_layers(int8)) == names == list(compute_layers(approx))


def test_zero_noise_and_zero_faults_reproduce_clean_accuracy_exactly(lenet, int8, approx, digits):
    x, y = digits.test.x, digits.test.y
    for model in (lenet.model, int8, approx):
        clean = accuracy(model, digits.test)
        assert noise_accuracy(model, x, y, NoiseModel(weights=0.0, outputs=0.0), draws=2).mean == clean
        assert fault_accuracy(model, x, y, FaultModel("both", rate=0.0), trials=2).mean == clean
        assert fault_accuracy(model, x, y, FaultModel(count=0), trials=2).mean == clean


def test_accuracy_falls_as_noise_grows(lenet, int8, digits):
    x, y = digits.test.x, digits.test.y
    for model in (lenet.model, int8):
        curve = [noise_accuracy(model, x, y, NoiseModel(outputs=s), draws=4, seed=1, calibration=digits.train.x)
                 for s in (0.0, 0.1, 0.4)]
        for a, b in zip(curve, curve[1:]):
            assert b.mean < a.mean - 2 * max(a.std, b.std, 0.005), [c.mean for c in curve]
        w = [noise_accuracy(model, x, y, NoiseModel(weights=s), draws=4, seed=1).mean for s in (0.0, 0.5)]
        assert w[1] < w[0] - 0.05


def test_accuracy_falls_as_fault_rate_grows(int8, approx, digits):
    x, y = digits.test.x, digits.test.y
    for model in (int8, approx):
        curve = [fault_accuracy(model, x, y, FaultModel("both", rate=r), trials=6, seed=2) for r in (0.0, 3e-3, 3e-2)]
        for a, b in zip(curve, curve[1:]):
            assert b.mean < a.mean - max(a.std, b.std), [(c.mean, c.std) for c in curve]
        assert curve[-1].worst <= curve[-1].mean


def test_same_seed_same_faults_and_numbers(int8, digits):
    x, y = digits.test.x, digits.test.y
    f = FaultModel("both", rate=5e-3)
    a = fault_accuracy(int8, x, y, f, trials=4, seed=7)
    assert a == fault_accuracy(int8, x, y, f, trials=4, seed=7)
    assert a.accuracies != fault_accuracy(int8, x, y, f, trials=4, seed=8).accuracies
    assert draw_weight_faults(int8, f, 3) == draw_weight_faults(int8, f, 3)
    n = NoiseModel(weights=0.1, outputs=0.1)
    assert noise_accuracy(int8, x, y, n, draws=3, seed=4) == noise_accuracy(int8, x, y, n, draws=3, seed=4)


def test_msb_of_largest_weight_ranks_above_a_random_low_bit(int8, digits):
    weights = {n: m.layer.weight.detach().reshape(-1) for n, m in compute_layers(int8).items()}
    layer = max(weights, key=lambda n: float(weights[n].abs().max()))
    msb = FaultSite(layer, int(weights[layer].abs().argmax()), 7)
    rng = np.random.default_rng(0)
    low = [FaultSite(n, int(i), 0) for n, w in weights.items() for i in rng.choice(w.numel(), 4, replace=False)]
    damage = site_damage(int8, digits.test.x, digits.test.y, [msb, *low])
    assert damage[0].loss_increase > 10 * max(abs(d.loss_increase) for d in damage[1:])
    assert damage[0].accuracy_drop >= max(d.accuracy_drop for d in damage[1:])


def test_flip_bits_twos_complement_unsigned_and_float32():
    signed8, unsigned8 = CodeFormat(8, True), CodeFormat(8, False)
    codes = torch.tensor([127.0, -128.0, 0.0, -1.0])
    assert flip_bits(codes, torch.full((4,), 1 << 7), signed8).tolist() == [-1.0, 0.0, -128.0, 127.0]
    assert flip_bits(codes, torch.tensor([1, 1, 1, 1]), signed8).tolist() == [126.0, -127.0, 1.0, -2.0]
    assert flip_bits(torch.tensor([0.0, 255.0]), torch.tensor([1 << 7, 1]), unsigned8).tolist() == [128.0, 254.0]
    assert flip_bits(torch.tensor([-1.0, 1.0]), torch.tensor([1, 0]), CodeFormat(1, True)).tolist() == [1.0, 1.0]
    f32 = CodeFormat(32, True, is_float=True)
    out = flip_bits(torch.tensor([1.0, 2.5, 1.0]), torch.tensor([1 << 31, 1 << 31, 1 << 30]), f32)
    assert out[0] == -1.0 and out[1] == -2.5 and torch.isinf(out[2])


def test_weight_faults_leave_the_model_as_it_was(lenet, int8, approx, digits):
    x = digits.test.x[:50]
    for model in (lenet.model, int8, approx):
        with torch.no_grad():
            before = model(x)
        sites = draw_weight_faults(model, FaultModel(count=30), 0)
        with faulty(model, sites), torch.no_grad():
            assert not torch.equal(model(x), before)
        with torch.no_grad():
            assert torch.equal(model(x), before)


def _one_layer(bits: int | None):
    """A Linear layer, float or fake-quantized to `bits`: outputs are easy to predict by hand."""
    from paretonet.hw import QuantSpec, quantize_model

    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 4))
    return m if bits is None else quantize_model(m, QuantSpec(bits), calibration=torch.randn(100, 6))


def test_tmr_votes_a_faulted_copy_away_and_split_halves_its_error():
    m = _one_layer(8)
    x = torch.randn(20, 6)
    with torch.no_grad():
        clean = m(x)
        fault = [FaultSite("0", 2 * 6 + 1, 7)]  # output channel 2
        with faulty(m, fault):
            hit = m(x)
        with faulty(m, fault, protection=Protection("tmr", {"0": (2,)})):
            voted = m(x)
        with faulty(m, fault, protection=Protection("split", {"0": (2,)})):
            split = m(x)
        with faulty(m, [FaultSite("0", 2 * 6 + 1, 7, replica=1)], protection=Protection("tmr", {"classifier": (2,)})):
            copy_hit = m(x)  # protected layers may be named readably too
    assert not torch.allclose(hit[:, 2], clean[:, 2])
    assert torch.equal(voted, clean) and torch.equal(copy_hit, clean)
    torch.testing.assert_close(split[:, 2] - clean[:, 2], (hit[:, 2] - clean[:, 2]) / 2)
    torch.testing.assert_close(split[:, [0, 1, 3]], clean[:, [0, 1, 3]])


def test_protected_model_meets_the_same_faults_plus_those_of_its_copies(int8):
    f = FaultModel(rate=2e-3)
    p = Protection("tmr", {"1.8": (0, 1, 2), "1.12": (3,)})
    plain, protected = draw_weight_faults(int8, f, 5), draw_weight_faults(int8, f, 5, p)
    assert protected[: len(plain)] == plain
    extra = protected[len(plain):]
    assert extra and all(s.replica in (1, 2) and s.layer in p.channels for s in extra)


def test_protection_costs_copies_of_the_protected_neurons(int8, digits):
    tmr = protection_cost(int8, digits.input_shape, Protection("tmr", {"1.12": (0, 1)}))
    split = protection_cost(int8, digits.input_shape, Protection("split", {"1.12": (0, 1)}))
    fc = int8.get_submodule("1.12").layer
    assert fc.weight.shape[1] == 84
    assert tmr.extra_macs == 2 * 2 * 84 and split.extra_macs == 2 * 84
    assert tmr.extra_bytes == 2 * 2 * (84 + 4) and split.extra_bytes == 2 * (84 + 4)  # 8-bit weights, float bias
    assert tmr.extra_energy_pj == pytest.approx(2 * split.extra_energy_pj) and split.extra_energy_pj > 0


def test_vulnerability_ranking_orders_neurons_by_harm(int8, digits):
    ranking = neuron_vulnerability(int8, digits.val.x, digits.val.y, trials=2, layers=("1.1", "1.4"))
    assert len(ranking) == 6 + 16
    assert [v.loss_increase for v in ranking] == sorted((v.loss_increase for v in ranking), reverse=True)
    assert ranking[0].loss_increase > 0
    chosen = top_neurons(ranking, 4)
    assert sum(len(c) for c in chosen.values()) == 4
    assert all((v.layer, v.channel) in {(n, c) for n, cs in chosen.items() for c in cs} for v in ranking[:4])


def test_protection_removes_most_of_the_faults_effect(int8, digits):
    """Over many trials of the same faults, the logits move far less with TMR and less with splitting than
    without protection (the copies take faults of their own, so neither is perfect)."""
    x = digits.test.x[:200]
    f = FaultModel(count=2, bits=(7,), layers=("1.1",))
    every = {"1.1": tuple(range(6))}
    with torch.no_grad():
        clean = int8(x)
        moved = {"none": [], "tmr": [], "split": []}
        for t in range(30):
            for mode in moved:
                p = None if mode == "none" else Protection(mode, every)
                with faulty(int8, draw_weight_faults(int8, f, t, p), protection=p):
                    moved[mode].append(float((int8(x) - clean).abs().mean()))
    none, tmr, split = (np.mean(moved[k]) for k in ("none", "tmr", "split"))
    assert tmr < 0.5 * none  # measured 0.37x
    assert tmr < split < none  # measured 0.76x: the second half takes faults of its own


def test_weight_noise_has_the_stated_scale():
    m = _one_layer(None)
    w = m[0].weight.detach()
    eye = torch.eye(6)
    with torch.no_grad():
        clean = m(eye)
        with noisy(m, NoiseModel(weights=0.1), seed=0):
            add = torch.stack([m(eye) - clean for _ in range(400)])
        with noisy(m, NoiseModel(weights=0.1, multiplicative=True), seed=0):
            mul = torch.stack([m(eye) - clean for _ in range(400)])
    assert float(add.std()) == pytest.approx(0.1 * float(w.abs().max()), rel=0.08)
    assert float((mul / w.T).std()) == pytest.approx(0.1, rel=0.08)


def test_objectives_under_noise_and_faults(int8, digits):
    names = ("accuracy", "accuracy@noise:outputs:0", "accuracy@faults:weights:0", "accuracy@faults:both:0.01")
    values = {o.name: o.value for o in evaluate_objectives(int8, digits, names)}
    assert values["accuracy@noise:outputs:0"] == values["accuracy"] == values["accuracy@faults:weights:0"]
    assert values["accuracy@faults:both:0.01"] < values["accuracy"]


BAD = {
    "negative noise": (lambda: NoiseModel(outputs=-0.1), "output noise: got -0.1"),
    "rate above 1": (lambda: FaultModel(rate=1.5), "fault rate: got 1.5"),
    "unknown target": (lambda: FaultModel("biases", rate=0.1), "target 'biases'"),
    "count of activation flips": (lambda: FaultModel("activations", count=3), "give activations a rate"),
    "malformed noise": (lambda: NoiseModel.parse("outputs=0.1"), "noise: got 'outputs=0.1'"),
    "malformed faults": (lambda: FaultModel.parse("weights:lots"), "faults: got 'weights:lots'"),
    "unknown protection": (lambda: Protection("ecc"), "protect: got 'ecc'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_noise_and_fault_models(case):
    make, message = BAD[case]
    with pytest.raises(ConfigError, match=message):
        make()


def test_bit_beyond_the_width_and_unknown_layers(int8):
    with pytest.raises(ConfigError, match="bit position 8 is beyond the 8-bit codes"):
        draw_weight_faults(int8, FaultModel(rate=0.1, bits=(8,)), 0)
    with pytest.raises(ConfigError, match="unknown layer 'conv9'; the model's layers are conv1 \\(1.1\\), conv2"):
        draw_weight_faults(int8, FaultModel(rate=0.1, layers=("conv9",)), 0)


def test_cli_noise_and_faults_write_records(capsys, saved_model, tmp_path):
    from paretonet.cli import main

    assert main(["noise", saved_model, "--outputs", "0,0.2", "--draws", "2", "-o", str(tmp_path / "n.json")]) == 0
    rec = json.loads((tmp_path / "n.json").read_text())
    values = {o["name"]: o["value"] for o in rec["objectives"]}
    assert values["accuracy@noise:outputs:0"] == values["accuracy"]
    assert rec["budgets"]["noise_draws"] == 2
    assert main(["faults", saved_model, "--bits", "8", "--rate", "0,0.01", "--trials", "3", "--protect", "split",
                 "--top", "2", "--rank-trials", "1", "-o", str(tmp_path / "f.json")]) == 0
    rec = json.loads((tmp_path / "f.json").read_text())
    assert rec["variant"] == "bits=8"
    values = {o["name"]: o["value"] for o in rec["objectives"]}
    assert values["accuracy@faults:weights:0"] == values["accuracy"]
    assert rec["details"]["protection"]["mode"] == "split" and rec["details"]["protection"]["cost"]["extra_macs"] > 0
    capsys.readouterr()


CLI_BAD = {
    "negative noise": (["noise", "--outputs", "-0.1"], "output noise: got -0.1"),
    "rate outside [0, 1]": (["faults", "--rate", "2"], "fault rate: got 2"),
    "bit beyond the width": (["faults", "--bits", "8", "--bit-positions", "9"], "bit 9 is beyond the 8-bit codes"),
    "unknown protection": (["faults", "--protect", "ecc"], "protect: got 'ecc'"),
    "rate and count": (["faults", "--rate", "0.1", "--count", "3"], "give a rate or a count"),
}


@pytest.mark.parametrize("case", sorted(CLI_BAD))
def test_cli_bad_input(capsys, saved_model, case):
    from paretonet.cli import main

    args, message = CLI_BAD[case]
    code = main([args[0], saved_model, *args[1:]])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
