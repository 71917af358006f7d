"""The main job as one function: build an architecture, train it on a dataset, measure its objectives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from torch import nn

from .data import DataConfig, Dataset, load_dataset
from .evaluate import BASIC_OBJECTIVES, evaluate_objectives
from .records import Record, versions
from .spaces import Architecture, build_model
from .train import TrainConfig, TrainResult, train
from .train._loop import BatchCallback, EpochCallback

if TYPE_CHECKING:
    import torch

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


def seed_variance(
    arch: Architecture | str,
    data: DataConfig | Dataset,
    config: TrainConfig,
    seeds: tuple[int, ...],
    robustness: RobustnessConfig,
    *,
    images: int | None = None,
    on_seed: Callable[[int], None] | None = None,
) -> SeedVariance:
    """Train `arch` once per seed; clean and worst-case robust accuracy on the same test images."""
    from dataclasses import replace

    from .evaluate import SeedVariance, evaluate_robustness, summarize
    from .errors import ConfigError

    if not seeds:
        raise ConfigError("seeds: got none, expected at least one")
    dataset = data if isinstance(data, Dataset) else load_dataset(data)
    x, y = select_images(dataset, images, robustness.seed)
    clean, robust = [], []
    for s in seeds:
        trained = train_architecture(arch, dataset, replace(config, seed=s))
        r = evaluate_robustness(trained.model, x, y, robustness)
        clean.append(r.clean_accuracy)
        robust.append(r.robust_accuracy)
        if on_seed is not None:
            on_seed(s)
    name = str(arch if isinstance(arch, Architecture) else Architecture.parse(arch))
    return SeedVariance(name, tuple(seeds), len(x), f"{robustness.label}@{robustness.eps:g}", tuple(clean),
                        tuple(robust), summarize(clean), summarize(robust))


def select_images(dataset: Dataset, images: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`images` test images chosen by a seeded permutation (all of them, in order, when None)."""
    import torch

    from .errors import ConfigError

    n = len(dataset.test)
    if images is None:
        return dataset.test.x, dataset.test.y
    if isinstance(images, bool) or not isinstance(images, int) or not 1 <= images <= n:
        raise ConfigError(f"images: got {images!r}, the test split of {dataset.name!r} has {n} images (expected 1..{n})")
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:images].sort().values
    return dataset.test.x[idx], dataset.test.y[idx]
