"""Datasets: digits (built in), IDX (MNIST, Fashion-MNIST), CIFAR-10 batches, synthetic.

Images are float32 (N, C, H, W) in [0, 1]; normalization lives inside the model.
"""

from ._dataset import DataConfig, Dataset, RawData, Split, make_dataset, select_images
from ._idx import read_idx
from ._cifar import read_batch as read_cifar10_batch
from ._loaders import DATASETS, load_dataset, make_synthetic

__all__ = [
    "DATASETS",
    "DataConfig",
    "Dataset",
    "RawData",
    "Split",
    "load_dataset",
    "make_dataset",
    "make_synthetic",
    "read_cifar10_batch",
    "read_idx",
    "select_images",
]
