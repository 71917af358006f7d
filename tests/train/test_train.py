from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
import torch

from paretonet import Architecture, DataConfig, TrainConfig, train_architecture
from paretonet.errors import ConfigError
from paretonet.train import lr_at

FINGERPRINT = """
import hashlib, sys
from paretonet import DataConfig, TrainConfig, train_architecture
t = train_architecture("lenet:lenet5", DataConfig("digits", seed=1), TrainConfig(epochs=2, seed=int(sys.argv[1])))
h = hashlib.sha256()
for k, v in sorted(t.model.state_dict().items()):
    h.update(k.encode()); h.update(v.numpy().tobytes())
print(h.hexdigest(), repr(t.record.value("accuracy")), repr(t.result.history[-1].train_loss))
"""


def fingerprint_here(seed: int) -> str:
    t = train_architecture("lenet:lenet5", DataConfig("digits", seed=1), TrainConfig(epochs=2, seed=seed))
    h = hashlib.sha256()
    for k, v in sorted(t.model.state_dict().items()):
        h.update(k.encode())
        h.update(v.numpy().tobytes())
    return f"{h.hexdigest()} {t.record.value('accuracy')!r} {t.result.history[-1].train_loss!r}"


def test_same_seed_gives_bit_identical_weights_and_metrics_across_processes():
    here = fingerprint_here(5)
    assert fingerprint_here(5) == here
    other = subprocess.run([sys.executable, "-c", FINGERPRINT, "5"], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == here
    assert fingerprint_here(6) != here


def test_lenet5_learns_digits(digits):
    t = train_architecture(Architecture.parse("lenet5", space="lenet"), digits, TrainConfig(epochs=30))
    assert t.record.value("accuracy") >= 0.95
    assert t.record.value("macs") == 416_520
    assert t.result.epochs_run == 30 and t.result.best_epoch is not None
    assert t.result.history[-1].train_loss < t.result.history[0].train_loss


def test_early_stopping_restores_best_epoch(synthetic):
    cfg = TrainConfig(epochs=40, patience=2, lr=0.05, optimizer="sgd", schedule="constant")
    t = train_architecture("lenet:lenet-tiny", synthetic, cfg)
    assert t.result.stopped_early and t.result.epochs_run < 40
    best = max(h.val_accuracy for h in t.result.history)
    assert t.result.history[t.result.best_epoch - 1].val_accuracy == best
    from paretonet.evaluate import accuracy

    assert accuracy(t.model, synthetic.val) == best


def test_zero_epochs_measures_the_untrained_model(synthetic):
    t = train_architecture("lenet:lenet-tiny", synthetic, TrainConfig(epochs=0))
    assert t.result.epochs_run == 0 and 0.0 <= t.record.value("accuracy") <= 1.0


def test_schedules():
    cos = TrainConfig(epochs=10, lr=1.0, schedule="cosine")
    assert lr_at(cos, 0) == 1.0 and lr_at(cos, 5) == pytest.approx(0.5) and lr_at(cos, 9) < 0.03
    step = TrainConfig(epochs=30, lr=1.0, schedule="step", step_epochs=10, step_gamma=0.5)
    assert [lr_at(step, e) for e in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    assert lr_at(TrainConfig(lr=0.3, schedule="constant"), 17) == 0.3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": -1}, "epochs: got -1, expected an integer >= 0"),
        ({"batch_size": 0}, "batch_size: got 0"),
        ({"optimizer": "lbfgs"}, "optimizer: got 'lbfgs', expected one of adam, sgd"),
        ({"lr": 0.0}, "lr: got 0"),
        ({"schedule": "linear"}, "schedule"),
        ({"patience": 3, "validate": False}, "early stopping needs validate=True"),
        ({"epochs": 2.5}, "epochs: got 2.5"),
    ],
)
def test_bad_train_config(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


def test_training_does_not_touch_global_rng(synthetic):
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    train_architecture("lenet:lenet-tiny", synthetic, TrainConfig(epochs=1))
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.slow
def test_lenet5_fashion_mnist_five_epochs_reaches_88_percent():
    from paretonet.data._loaders import DEBIAN_DATASETS

    if not (DEBIAN_DATASETS / "fashion-mnist").is_dir():
        pytest.skip("Debian package dataset-fashion-mnist is not installed")
    t = train_architecture("lenet:lenet5", DataConfig("fashion-mnist"), TrainConfig(epochs=5))
    assert t.record.value("accuracy") >= 0.88
