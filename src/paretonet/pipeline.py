"""The main job as one function: build an architecture, train it on a dataset, measure its objectives."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from torch import nn

from .data import DataConfig, Dataset, load_dataset
from .evaluate import BASIC_OBJECTIVES, evaluate_objectives
from .records import Record, versions
from .spaces import Architecture, build_model
from .train import TrainConfig, TrainResult, train
from .train._loop import BatchCallback, EpochCallback


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
    bits: int = 32,
    objectives: tuple[str, ...] = BASIC_OBJECTIVES,
    on_batch: BatchCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainedModel:
    """Same arch, data and config (seeds included) give bit-identical weights and metrics on CPU."""
    if isinstance(arch, str):
        arch = Architecture.parse(arch)
    dataset = data if isinstance(data, Dataset) else load_dataset(data)
    model = build_model(arch, dataset.input_shape, dataset.n_classes, mean=dataset.mean, std=dataset.std,
                        seed=init_seed(config.seed))
    result = train(model, dataset, config, on_batch=on_batch, on_epoch=on_epoch)
    record = Record(
        architecture=str(arch),
        dataset=dataset.name,
        seed=config.seed,
        objectives=evaluate_objectives(model, dataset, objectives, bits=bits),
        variant="" if bits == 32 else f"bits={bits}",
        budgets={**{k: v for k, v in asdict(config).items()}, "epochs_run": result.epochs_run,
                 "best_epoch": result.best_epoch, "train_images": len(dataset.train),
                 "test_images": len(dataset.test)},
        versions=versions(),
    )
    return TrainedModel(model, arch, dataset, result, record)
