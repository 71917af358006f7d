"""Variance maps: each neuron's output variance under noisy inputs, per layer, one or two models."""

from __future__ import annotations

import json

import pytest

from paretonet.cli import main
from paretonet.evaluate import variance_maps
from paretonet.pipeline import train_architecture
from paretonet.spaces import Architecture
from paretonet.train import TrainConfig


@pytest.fixture(scope="module")
def model(digits):
    return train_architecture(Architecture.parse("lenet:lenet-tiny"), digits, TrainConfig(epochs=3, seed=0)).model.eval()


def test_zero_noise_gives_zero_variance(model, digits):
    maps = variance_maps(model, digits.test.x[:8], sigma=0.0, draws=4)
    assert [m.layer for m in maps] == ["conv1", "conv2", "fc1", "classifier"]
    assert all(m.max_variance == 0.0 and not m.variance.any() for m in maps)
    assert maps[0].variance.shape == (8, 64) and maps[-1].variance.shape == (10, 1)  # channels x positions


def test_variance_grows_with_sigma(model, digits):
    x = digits.test.x[:20]
    by_sigma = [variance_maps(model, x, sigma=s, draws=30, seed=1) for s in (0.05, 0.1, 0.2)]
    for k in range(4):
        low, mid, high = (m[k].mean_variance for m in by_sigma)
        assert 0 < low < mid < high, (k, low, mid, high)
    assert variance_maps(model, x, 0.1, 30, seed=1)[0].variance.tolist() == by_sigma[1][0].variance.tolist()  # seeded


def test_cli_variance_map_compares_two_models_in_a_page(capsys, saved_model, tmp_path, draws_in_browser):
    other = tmp_path / "noisy"
    assert main(["train", "--arch", "lenet-tiny", "--epochs", "3", "--recipe", "gaussian/sigma=0.1", "--save-model",
                 str(other)]) == 0
    page, out = tmp_path / "v.html", tmp_path / "v.json"
    assert main(["variance-map", saved_model, "--compare", str(other), "--sigma", "0.1", "--draws", "10", "--images",
                 "20", "--html", str(page), "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["models"]) == 2 and [lv["layer"] for lv in doc["models"][1]["layers"]] == [
        "conv1", "conv2", "fc1", "classifier"]
    assert "model 2 relative" in capsys.readouterr().out
    draws_in_browser(page, ("variance0", "variance1", "variance2", "variance3"))


@pytest.mark.parametrize("args,message", [
    (["--sigma", "-0.1"], "--sigma: got -0.1, expected a number >= 0"),
    (["--draws", "1"], "--draws: got 1, expected an integer >= 2"),
])
def test_cli_variance_map_bad_input(capsys, saved_model, args, message):
    assert main(["variance-map", saved_model, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
