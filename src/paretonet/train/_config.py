"""Training configuration and result types."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError, check_choice, check_float, check_int
from ._recipes import Recipe

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "step", "constant")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    schedule: str = "cosine"
    step_epochs: int = 10  # step schedule: multiply lr by step_gamma every step_epochs
    step_gamma: float = 0.1
    seed: int = 0
    validate: bool = True  # measure validation accuracy after every epoch
    patience: int | None = None  # early stopping: epochs without a better validation accuracy
    recipe: Recipe = Recipe()  # the loss of each mini-batch: standard, adversarial, trades, noisy, qat, gaussian, ibp

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, minimum=0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_float("lr", self.lr, minimum=0.0, min_inclusive=False)
        check_float("momentum", self.momentum, minimum=0.0, maximum=1.0, max_inclusive=False)
        check_float("weight_decay", self.weight_decay, minimum=0.0)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_int("step_epochs", self.step_epochs, minimum=1)
        check_float("step_gamma", self.step_gamma, minimum=0.0, maximum=1.0, min_inclusive=False)
        check_int("seed", self.seed, minimum=0)
        if not isinstance(self.recipe, Recipe):
            raise ConfigError(f"recipe: got {self.recipe!r}, expected a Recipe (Recipe.parse('trades/beta=6'))")
        if self.patience is not None:
            check_int("patience", self.patience, minimum=1)
            if not self.validate:
                raise ConfigError("patience: early stopping needs validate=True")


    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the recipe as its canonical string."""
        return {**asdict(self), "recipe": str(self.recipe)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """The inverse of to_dict (a missing recipe is the standard one); unknown keys are one-line errors."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"train config: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**{**d, "recipe": Recipe.parse(str(d.get("recipe", "standard")))})


@dataclass(frozen=True)
class EpochStats:
    epoch: int  # 1-based
    train_loss: float
    train_accuracy: float
    val_accuracy: float | None
    lr: float
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    history: tuple[EpochStats, ...] = field(default=())
    best_epoch: int | None = None  # epoch whose weights the model holds when validating
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def epochs_run(self) -> int:
        return len(self.history)
