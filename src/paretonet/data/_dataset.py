"""The Dataset type, its config, and the seeded train/validation/test split."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ConfigError, DataError, check_float, check_int


@dataclass(frozen=True)
class DataConfig:
    """Which dataset to load and how to split it.

    val_fraction is taken from the training data; test_fraction is used only by
    datasets without a published test split (digits, synthetic).
    """

    name: str = "digits"
    root: str | None = None
    seed: int = 0
    val_fraction: float = 0.15
    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        check_int("seed", self.seed, minimum=0)
        check_float("val_fraction", self.val_fraction, minimum=0.0, maximum=1.0, max_inclusive=False)
        check_float("test_fraction", self.test_fraction, minimum=0.0, maximum=1.0, min_inclusive=False, max_inclusive=False)


@dataclass(frozen=True, eq=False)
class Split:
    """Images as float32 (N, C, H, W) in [0, 1] and int64 labels (N,)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    classes: tuple[str, ...]
    # Per-channel statistics of the training split; models normalize with them internally.
    mean: tuple[float, ...] = field(default=())
    std: tuple[float, ...] = field(default=())

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c, h, w = self.train.x.shape[1:]
        return (int(c), int(h), int(w))


@dataclass(frozen=True, eq=False)
class RawData:
    """What a loader returns: uint8 or float images (N, C, H, W), labels, optional fixed test split."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


def to_unit_float(x: np.ndarray) -> torch.Tensor:
    """uint8 codes -> float32 in [0, 1]; floats are checked to already lie in [0, 1]."""
    if x.dtype == np.uint8:
        return torch.from_numpy(x.astype(np.float32) / np.float32(255.0))
    xf = np.ascontiguousarray(x, dtype=np.float32)
    if xf.size and (float(xf.min()) < 0.0 or float(xf.max()) > 1.0):
        raise DataError(f"image values must lie in [0, 1], got [{float(xf.min()):g}, {float(xf.max()):g}]")
    return torch.from_numpy(xf)


def _stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, take) where `take` holds round(fraction * n_c) of every class c."""
    keep, take = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        k = int(round(fraction * len(idx)))
        take.append(idx[:k])
        keep.append(idx[k:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(take))


def make_dataset(name: str, raw: RawData, config: DataConfig) -> Dataset:
    """Split raw data deterministically from config.seed and wrap it as tensors."""
    if len(raw.x) != len(raw.y):
        raise DataError(f"{name}: {len(raw.x)} images but {len(raw.y)} labels")
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0x5E11]))
    x, y = raw.x, raw.y.astype(np.int64)
    if raw.x_test is None:
        rest, test = _stratified_split(y, config.test_fraction, rng)
        x_test, y_test = x[test], y[test]
        x, y = x[rest], y[rest]
    else:
        x_test, y_test = raw.x_test, raw.y_test.astype(np.int64)
    train, val = _stratified_split(y, config.val_fraction, rng)
    if len(train) == 0:
        raise DataError(f"{name}: the training split is empty (val_fraction={config.val_fraction})")
    xt = to_unit_float(x[train])
    dims = (0, 2, 3)
    mean = tuple(float(v) for v in xt.mean(dim=dims))
    std = tuple(max(float(v), 1e-6) for v in xt.std(dim=dims))
    return Dataset(
        name=name,
        train=Split(xt, torch.from_numpy(y[train])),
        val=Split(to_unit_float(x[val]), torch.from_numpy(y[val])),
        test=Split(to_unit_float(x_test), torch.from_numpy(y_test)),
        classes=raw.classes,
        mean=mean,
        std=std,
    )


def select_images(dataset: Dataset, images: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`images` test images chosen by a seeded permutation (all of them, in order, when None)."""
    n = len(dataset.test)
    if images is None:
        return dataset.test.x, dataset.test.y
    if isinstance(images, bool) or not isinstance(images, int) or not 1 <= images <= n:
        raise ConfigError(f"images: got {images!r}, the test split of {dataset.name!r} has {n} images (expected 1..{n})")
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:images].sort().values
    return dataset.test.x[idx], dataset.test.y[idx]
