"""Training: a seeded, deterministic loop with optional validation and early stopping, and its recipes
(standard, PGD adversarial, TRADES, noise injection, QAT with constant scales)."""

from ._config import OPTIMIZERS, SCHEDULES, EpochStats, TrainConfig, TrainResult
from ._loop import BatchCallback, EpochCallback, lr_at, train
from ._recipes import RECIPES, Recipe, prepare_model

__all__ = ["OPTIMIZERS", "RECIPES", "SCHEDULES", "BatchCallback", "EpochCallback", "EpochStats", "Recipe", "TrainConfig",
           "TrainResult", "lr_at", "prepare_model", "train"]
