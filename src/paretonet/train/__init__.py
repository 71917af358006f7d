"""Training: a seeded, deterministic loop with optional validation and early stopping."""

from ._config import OPTIMIZERS, SCHEDULES, EpochStats, TrainConfig, TrainResult
from ._loop import BatchCallback, EpochCallback, lr_at, train

__all__ = ["OPTIMIZERS", "SCHEDULES", "BatchCallback", "EpochCallback", "EpochStats", "TrainConfig", "TrainResult", "lr_at", "train"]
