"""The train job: an architecture of a space (or a user's factory) trained with a recipe and measured: one Record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from ..data import DataConfig, Dataset, load_dataset
from ..evaluate import BASIC_OBJECTIVES, evaluate_objectives
from ..modelfile import ModelMeta, ModelReference, entry_point_model, save_model
from ..records import Record, versions
from ..spaces import Architecture, build_model
from ..train import BatchCallback, EpochCallback, TrainConfig, TrainResult, prepare_model, train
from ..variant import Variant


@dataclass(frozen=True, eq=False)
class TrainedModel:
    model: nn.Module
    architecture: Architecture
    dataset: Dataset
    result: TrainResult
    record: Record


@dataclass(frozen=True, kw_only=True)
class TrainJob:
    """What `train` does: the architecture, the data, the training; where the model is saved (if anywhere)."""

    arch: Architecture | str
    data: DataConfig | Dataset = field(default_factory=DataConfig)
    config: TrainConfig = field(default_factory=TrainConfig)
    objectives: tuple[str, ...] = BASIC_OBJECTIVES
    save: Path | None = None


def init_seed(train_seed: int) -> int:
    """Weight-initialization seed derived from the training seed (shuffling uses another stream)."""
    return int(np.random.SeedSequence([train_seed, 0x1417]).generate_state(1)[0])


def initial_model(arch: Architecture | ModelReference, dataset: Dataset, config: TrainConfig) -> nn.Module:
    """The network before its first step: built (or made by the user's factory) with the seeded initialization,
    prepared for the recipe."""
    if isinstance(arch, ModelReference):
        model = entry_point_model(str(arch), seed=init_seed(config.seed))
    else:
        model = build_model(arch, dataset.input_shape, dataset.n_classes, mean=dataset.mean, std=dataset.std,
                            seed=init_seed(config.seed))
    return prepare_model(model, config.recipe)


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
    model = initial_model(arch, dataset, config)
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


def run_train(job: TrainJob, *, on_epoch: EpochCallback | None = None) -> list[Record]:
    """Train, measure and (with `job.save`) save the model with its metadata: the trained model's Record."""
    t = train_architecture(job.arch, job.data, job.config, objectives=job.objectives, on_epoch=on_epoch)
    if job.save is not None:
        save_trained(job.save, t, job.config)
    return [t.record]


def save_trained(path: str | Path, t: TrainedModel, config: TrainConfig) -> tuple[Path, Path]:
    """The trained model's weights and metadata (architecture, data, training config, its objectives)."""
    meta = ModelMeta(architecture=str(t.architecture), input_shape=t.dataset.input_shape, n_classes=t.dataset.n_classes,
                     dataset=t.dataset.name, seed=t.record.seed, variant=t.record.variant,
                     metrics={o.name: o.value for o in t.record.objectives}, train_config=config.to_dict())
    return save_model(path, t.model, meta)
