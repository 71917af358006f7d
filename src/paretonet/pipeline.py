"""The main job as functions: train an architecture and measure it; load a saved model for evaluation;
train it over seeds. Every result is a Record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from torch import nn

from .data import DataConfig, Dataset, load_dataset
from .errors import ConfigError
from .evaluate import BASIC_OBJECTIVES, check_input_shape, evaluate_objectives
from .modelfile import ModelMeta, ModelReference, architecture_of, entry_point_model, load_model
from .records import Record, versions
from .spaces import Architecture, build_model
from .train import BatchCallback, EpochCallback, TrainConfig, TrainResult, prepare_model, train
from .variant import Variant, apply_variant, select_images

if TYPE_CHECKING:
    from .evaluate import RobustnessConfig, SeedVariance


@dataclass(frozen=True, eq=False)
class TrainedModel:
    model: nn.Module
    architecture: Architecture
    dataset: Dataset
    result: TrainResult
    record: Record


def init_seed(train_seed: int) -> int:
    """Weight-initialization seed derived from the training seed (shuffling uses another stream)."""
    return int(np.random.SeedSequence([train_seed, 0x1417]).generate_state(1)[0])


def train_architecture(
    arch: Architecture | str,
    data: DataConfig | Dataset = DataConfig(),
    config: TrainConfig = TrainConfig(),
    *,
    objectives: tuple[str, ...] = BASIC_OBJECTIVES,
    on_batch: BatchCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainedModel:
    """Same arch, data and config (seeds included) give bit-identical weights and metrics on the same
    machine and thread count (PyTorch's CPU kernels round differently elsewhere: the record says where)."""
    if isinstance(arch, str):  # 'entry:package.module:factory': a user's network, trained from its factory
        arch = ModelReference(arch.split("@")[0]) if arch.startswith("entry:") else Architecture.parse(arch)
    dataset = data if isinstance(data, Dataset) else load_dataset(data)
    if isinstance(arch, ModelReference):
        model = entry_point_model(str(arch), seed=init_seed(config.seed))
    else:
        model = build_model(arch, dataset.input_shape, dataset.n_classes, mean=dataset.mean, std=dataset.std,
                            seed=init_seed(config.seed))
    model = prepare_model(model, config.recipe)
    result = train(model, dataset, config, on_batch=on_batch, on_epoch=on_epoch)
    record = Record(
        architecture=str(arch),
        dataset=dataset.name,
        seed=config.seed,
        variant=str(Variant(recipe=str(config.recipe))),
        objectives=evaluate_objectives(model, dataset, objectives),
        budgets={**config.to_dict(), "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
                 "train_images": len(dataset.train), "test_images": len(dataset.test)},
        versions=versions(),
        details={"history": [asdict(h) for h in result.history], "stopped_early": result.stopped_early,
                 "seconds": result.seconds},
    )
    return TrainedModel(model, arch, dataset, result, record)


def load_for_eval(model: str | Path, dataset: str | None = None, data_dir: str | None = None,
                  split_seed: int = 0) -> tuple[nn.Module, ModelMeta, Dataset]:
    """A saved model (any variant) and the dataset to evaluate it on (its own by default), checked to fit."""
    net, meta = load_model(model)
    data = load_dataset(DataConfig(name=dataset or meta.dataset, root=data_dir, seed=split_seed))
    check_input_shape(meta.input_shape, data)
    if data.n_classes != meta.n_classes:
        raise ConfigError(f"--dataset: {data.name!r} has {data.n_classes} classes, the model has {meta.n_classes}")
    return net, meta, data


def load_quantized(model: str | Path, bits: int | None, dataset: str | None = None, data_dir: str | None = None,
                   split_seed: int = 0) -> tuple[nn.Module, ModelMeta, Dataset, Variant]:
    """load_for_eval, then (with `bits`) real post-training quantization of the float model, calibrated
    on the training split. A model that is already a variant is not quantized again under a new label."""
    net, meta, data = load_for_eval(model, dataset, data_dir, split_seed)
    variant = Variant.parse(meta.variant)
    if bits is not None:
        if not variant.is_base:
            raise ConfigError(f"--bits: the model is already the variant {meta.variant!r}; quantize the float model")
        vm = apply_variant(net, architecture_of(meta), data, Variant(recipe=variant.recipe, bits=bits))
        net, variant = vm.model, vm.variant
    return net, meta, data, variant


def seed_variance(
    arch: Architecture | str,
    data: DataConfig | Dataset,
    config: TrainConfig,
    seeds: tuple[int, ...],
    robustness: RobustnessConfig,
    *,
    images: int | None = None,
    on_seed: Callable[[int], None] | None = None,
) -> tuple[SeedVariance, list[Record]]:
    """Train `arch` once per seed; clean and worst-case robust accuracy on the same test images.

    Returns the summary and one Record per seed (accuracy on the whole test split, robust accuracy
    on the selected images, size and energy; the sanity checks in its details)."""
    from .evaluate import SeedVariance, evaluate_robustness, summarize

    if not seeds:
        raise ConfigError("seeds: got none, expected at least one")
    dataset = data if isinstance(data, Dataset) else load_dataset(data)
    x, y = select_images(dataset, images, robustness.seed)
    clean, robust, records = [], [], []
    for s in seeds:
        trained = train_architecture(arch, dataset, replace(config, seed=s))
        r = evaluate_robustness(trained.model, x, y, robustness)
        clean.append(r.clean_accuracy)
        robust.append(r.robust_accuracy)
        rec = trained.record
        records.append(replace(rec, objectives=(*rec.objectives, r.objective()),
                               budgets={**rec.budgets, **r.budgets()},
                               details={**rec.details, "robustness": r.details()}))
        if on_seed is not None:
            on_seed(s)
    name = str(records[0].architecture)
    summary = SeedVariance(name, tuple(seeds), len(x), f"{robustness.label}@{robustness.eps:g}", tuple(clean),
                           tuple(robust), summarize(clean), summarize(robust))
    return summary, records
