"""Dataset registry: name -> loader of raw arrays; load_dataset splits them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._registry import Registry
from ..errors import DataError
from ._cifar import CLASSES as CIFAR10_CLASSES
from ._cifar import load_cifar10_folder
from ._dataset import DataConfig, Dataset, RawData, make_dataset
from ._idx import load_idx_folder

Loader = Callable[[DataConfig], RawData]
DATASETS: Registry[Loader] = Registry("dataset")

DEBIAN_DATASETS = Path("/usr/share/datasets")
FASHION_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")


def _folder(config: DataConfig, default_name: str) -> Path:
    """The folder to read: --root, else $PARETONET_DATA/<name>, else Debian's /usr/share/datasets/<name>."""
    if config.root is not None:
        folder = Path(config.root).expanduser()
        if not folder.is_dir():
            raise DataError(f"data folder {folder} for dataset {config.name!r} does not exist or is not a folder")
        return folder
    candidates = []
    if os.environ.get("PARETONET_DATA"):
        candidates.append(Path(os.environ["PARETONET_DATA"]) / default_name)
    candidates.append(DEBIAN_DATASETS / default_name)
    for folder in candidates:
        if folder.is_dir():
            return folder
    hint = " (Debian: apt-get install dataset-fashion-mnist)" if default_name == "fashion-mnist" else ""
    raise DataError(
        f"dataset {config.name!r}: no data folder found (looked in {', '.join(map(str, candidates))}); "
        f"pass root=/--data-dir{hint}"
    )


@DATASETS.register("digits")
def _digits(config: DataConfig) -> RawData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel counts are 0..16 (number of set bits in a 4x4 block of the 32x32 bitmap).
    x = (bunch.images.astype(np.float32) / np.float32(16.0))[:, None, :, :]
    return RawData(x=x, y=bunch.target.astype(np.int64), classes=tuple(str(i) for i in range(10)))


def _idx_loader(default_name: str, classes: tuple[str, ...]) -> Loader:
    def load(config: DataConfig) -> RawData:
        x, y, xt, yt = load_idx_folder(_folder(config, default_name))
        for labels in (y, yt):
            if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
                raise DataError(f"dataset {config.name!r}: labels outside 0..{len(classes) - 1}")
        return RawData(x=x, y=y, classes=classes, x_test=xt, y_test=yt)

    return load


DATASETS.add("mnist", _idx_loader("mnist", tuple(str(i) for i in range(10))))
DATASETS.add("fashion-mnist", _idx_loader("fashion-mnist", FASHION_CLASSES))


@DATASETS.register("cifar10")
def _cifar10(config: DataConfig) -> RawData:
    x, y, xt, yt = load_cifar10_folder(_folder(config, "cifar10"))
    return RawData(x=x, y=y, classes=CIFAR10_CLASSES, x_test=xt, y_test=yt)


def make_synthetic(
    n: int = 600, shape: tuple[int, int, int] = (1, 8, 8), n_classes: int = 4, seed: int = 0, noise: float = 0.15
) -> RawData:
    """A tiny learnable task for tests: noisy copies of one random prototype per class."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5717]))
    prototypes = rng.random((n_classes, *shape), dtype=np.float32)
    y = np.arange(n) % n_classes
    x = prototypes[y] + noise * rng.standard_normal((n, *shape), dtype=np.float32)
    return RawData(x=np.clip(x, 0.0, 1.0), y=y.astype(np.int64), classes=tuple(f"c{i}" for i in range(n_classes)))


@DATASETS.register("synthetic")
def _synthetic(config: DataConfig) -> RawData:
    return make_synthetic(seed=config.seed)


def load_dataset(config: DataConfig | str = "digits", **overrides: object) -> Dataset:
    """Load and split a dataset: load_dataset("digits", seed=1) or load_dataset(DataConfig(...))."""
    if isinstance(config, str):
        config = DataConfig(name=config, **overrides)  # type: ignore[arg-type]
    elif overrides:
        raise TypeError("pass either a DataConfig or keyword overrides, not both")
    loader = DATASETS.get(config.name)
    return make_dataset(config.name, loader(config), config)
