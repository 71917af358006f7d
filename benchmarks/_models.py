"""Shared set-up for the benchmarks: a LeNet-5 trained on digits (seeded, about 5 s)."""

from __future__ import annotations

from paretonet import DataConfig, TrainConfig, train_architecture


def trained_lenet5(epochs: int = 15):
    t = train_architecture("lenet:lenet5", DataConfig("digits"), TrainConfig(epochs=epochs, seed=0))
    return t.model.eval(), t.dataset
