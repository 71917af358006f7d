"""Approximate models: straight-through retraining, and each layer's sensitivity to a multiplier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from ..data import Dataset
from ..errors import ConfigError
from ..evaluate import RobustnessConfig, correct_per_image, evaluate_robustness, images_id
from ..hw import layer_names
from ..hw.approx import Multiplier, approx_layers, approximate_model, build_design
from ..layers import gradient_mode
from ..records import Objective, per_image_accuracy
from ..train import TrainConfig, train
from ._recipe import CALIBRATION_IMAGES


def retrain(model: nn.Module, dataset: Dataset, epochs: int, config: TrainConfig = TrainConfig(),
            lr_scale: float = 0.3) -> nn.Module:
    """Straight-through fine-tuning: forward through the tables, gradient of the exact products.

    Cosine schedule from the training's lr x lr_scale; the training loop keeps the best validation
    epoch. (No comparison with the starting point: the float model was selected on the same
    validation split, so its validation accuracy is biased upwards.) Measured on LeNet-5/digits
    with mul8u_L40, 2 epochs, seeds 0-3: recovered 62-100 % of the drop, against 8-77 % with the
    constant full lr this replaced (a converged model is thrown off by a restart at full lr).
    """
    if not approx_layers(model):
        raise ConfigError("retrain: the model has no approximate layers")
    if epochs:
        with gradient_mode(model, "bpda"):
            train(model, dataset, replace(config, epochs=epochs, lr=config.lr * lr_scale, schedule="cosine"))
    model.eval()
    return model


@dataclass(frozen=True)
class Measured:
    """One model's accuracies: clean (per image, on the chosen split) and, if asked, robust (test images)."""

    objectives: tuple[Objective, ...]

    @property
    def accuracy(self) -> float:
        return self.objectives[0].value

    @property
    def robust_accuracy(self) -> float | None:
        return self.objectives[1].value if len(self.objectives) > 1 else None


@dataclass(frozen=True)
class LayerSensitivity:
    layer: str  # readable name
    multiplier: str
    measured: Measured  # this layer approximate, every other exact 8-bit
    base: Measured  # the exact 8-bit model
    energy_mac_saved_pj: float  # MAC energy of the exact 8-bit model minus this model's (horowitz45, hierarchy)

    @property
    def accuracy(self) -> float:
        return self.measured.accuracy

    @property
    def change(self) -> float:
        """Accuracy minus the exact 8-bit model's (negative: a loss)."""
        return self.measured.accuracy - self.base.accuracy

    @property
    def robust_change(self) -> float | None:
        r, b = self.measured.robust_accuracy, self.base.robust_accuracy
        return None if r is None or b is None else r - b


def _split(dataset: Dataset, split: str):  # noqa: ANN202
    if split not in ("test", "val"):
        raise ConfigError(f"split: got {split!r}, expected test or val")
    return dataset.val if split == "val" and len(dataset.val) else dataset.test


def layer_sensitivity(model: nn.Module, dataset: Dataset, multipliers: Sequence[Multiplier],
                      calibration_images: int = CALIBRATION_IMAGES, split: str = "test",
                      robustness: RobustnessConfig | None = None,
                      robust_images: tuple[torch.Tensor, torch.Tensor] | None = None,
                      ) -> tuple[Measured, list[LayerSensitivity]]:
    """Each layer alone with each multiplier, every other layer exact 8-bit: accuracy (and, with `robustness`,
    robust accuracy on `robust_images`) and MAC energy saved against the exact 8-bit model, which is
    measured first and returned. Each model is the one apply_variant makes of
    Variant(multipliers=('<layer>@<spec>',)): the same calibration."""
    from ..evaluate import energy_objective

    data = _split(dataset, split)
    data_id = images_id(data.x, data.y)
    if robustness is not None and robust_images is None:
        raise ConfigError("robust_images: robustness needs the images to attack")

    def measure(m: nn.Module) -> Measured:
        objs = [per_image_accuracy("accuracy", correct_per_image(m, data).numpy(), data_id)]
        if robustness is not None:
            objs.append(evaluate_robustness(m, *robust_images, robustness).objective())
        return Measured(tuple(objs))

    calib: torch.Tensor = dataset.train.x[:calibration_images]
    exact = approximate_model(model, build_design("exact"), calib)
    base = measure(exact)
    base_pj = energy_objective(exact, dataset.input_shape, part="mac").value
    rows = []
    for module, name in layer_names(model).items():
        for mult in multipliers:
            m = approximate_model(model, {module: mult}, calib)
            rows.append(LayerSensitivity(name, mult.name, measure(m), base,
                                         base_pj - energy_objective(m, dataset.input_shape, part="mac").value))
    return base, rows
