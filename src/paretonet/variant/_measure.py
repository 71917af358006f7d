"""Measuring a variant: every objective on the variant's own model, one Record per variant."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..data import Dataset
from ..errors import ConfigError
from ..evaluate import BASIC_OBJECTIVES, RobustnessConfig, evaluate_objectives, evaluate_robustness
from ..records import Record, versions
from ..spaces import Architecture
from ..train import TrainConfig
from ._apply import VariantModel, apply_variant
from ._recipe import Variant


def select_images(dataset: Dataset, images: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`images` test images chosen by a seeded permutation (all of them, in order, when None)."""
    n = len(dataset.test)
    if images is None:
        return dataset.test.x, dataset.test.y
    if isinstance(images, bool) or not isinstance(images, int) or not 1 <= images <= n:
        raise ConfigError(f"images: got {images!r}, the test split of {dataset.name!r} has {n} images (expected 1..{n})")
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:images].sort().values
    return dataset.test.x[idx], dataset.test.y[idx]


def variant_record(vm: VariantModel, dataset: Dataset, seed: int, robustness: RobustnessConfig | None,
                   images: tuple[torch.Tensor, torch.Tensor] | None = None, *,
                   budgets: dict | None = None) -> Record:
    """Accuracy, params, size, MACs and energy (and robust accuracy when asked) of the variant's model.

    `seed` is the training seed of the model the variant was made from; the record's key is
    (architecture after channel pruning, variant string, dataset, seed).
    """
    m = vm.model
    objectives = list(evaluate_objectives(m, dataset, BASIC_OBJECTIVES))
    details = {}
    all_budgets = {"test_images": len(dataset.test), **(budgets or {})}
    if robustness is not None:
        x, y = images if images is not None else (dataset.test.x, dataset.test.y)
        r = evaluate_robustness(m, x, y, robustness)
        objectives.append(r.objective())
        details["robustness"] = r.details()
        all_budgets.update(r.budgets())
    return Record(str(vm.architecture), dataset.name, seed, tuple(objectives), variant=str(vm.variant),
                  budgets=all_budgets, versions=versions(), details=details)


def variant_objectives(vm: VariantModel, dataset: Dataset, robustness: RobustnessConfig | None,
                       images: tuple[torch.Tensor, torch.Tensor] | None = None):  # noqa: ANN201
    return variant_record(vm, dataset, 0, robustness, images).objectives


def compare_variants(model: torch.nn.Module, arch: Architecture, dataset: Dataset, seed: int,
                     variants: Sequence[Variant], robustness: RobustnessConfig | None,
                     images: tuple[torch.Tensor, torch.Tensor] | None = None,
                     train_config: TrainConfig = TrainConfig(), lut_dirs: tuple[str, ...] = (),
                     base: Variant = Variant()) -> tuple[list[Record], VariantModel]:
    """Records of the model as trained (`base`: the variant it is, its training recipe) and of each variant
    (all on the same images); the last variant's model."""
    records = [variant_record(VariantModel(model, arch, base), dataset, seed, robustness, images)]
    vm = None
    for variant in variants:
        vm = apply_variant(model, arch, dataset, variant, train_config, lut_dirs)
        trains = variant.qat or variant.finetune or variant.retrain
        budgets = {"variant_training": {"base_lr": train_config.lr, "batch_size": train_config.batch_size,
                                        "seed": train_config.seed}} if trains else {}
        records.append(variant_record(vm, dataset, seed, robustness, images, budgets=budgets))
    return records, vm
