"""Training: a seeded, deterministic loop with optional validation and early stopping."""

from ._config import OPTIMIZERS, SCHEDULES, EpochStats, TrainConfig, TrainResult
from ._loop import lr_at, train

__all__ = ["OPTIMIZERS", "SCHEDULES", "EpochStats", "TrainConfig", "TrainResult", "lr_at", "train"]
