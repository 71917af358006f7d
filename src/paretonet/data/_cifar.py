"""CIFAR-10 python batches, read without running any code the file names.

The batches are pickles. A plain pickle.load would execute whatever callable the
file names, so we use the restricted unpickler the Python docs describe: only the
numpy globals needed to rebuild an array are allowed; anything else is refused.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from ..errors import DataError

_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
_ALLOWED = {
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # protocol-2 pickles written by Python 3 encode bytes through it
}
BATCH_IMAGES = 10_000  # a batch of the format holds 10,000 images of 3 x 32 x 32 bytes (fewer: a sample of one)
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class _NdarrayName:
    """Stands for numpy.ndarray in the stream: only _reconstruct may use it. Called directly, numpy.ndarray(shape)
    would allocate any size of uninitialised memory from a few bytes of pickle."""

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise pickle.UnpicklingError("numpy.ndarray may not be called directly")


_NDARRAY = _NdarrayName()


def _reconstruct(subtype: object, shape: object, dtype_code: object) -> np.ndarray:
    """numpy's pickle protocol: an empty array, then filled by __setstate__, which checks that the bytes in the
    file match the shape."""
    if subtype is not _NDARRAY or tuple(shape) != (0,):  # type: ignore[arg-type]
        raise pickle.UnpicklingError("only empty arrays are reconstructed (their data follows in the stream)")
    return np.ndarray((0,), np.uint8)  # shape, dtype and bytes come with __setstate__


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle API
        if (module, name) in _RECONSTRUCT:
            return _reconstruct
        if (module, name) == ("numpy", "ndarray"):
            return _NDARRAY
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch as (images uint8 (N, 3, 32, 32), labels int64 (N,))."""
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read CIFAR-10 batch {path}: {e.strerror or e}") from None
    try:
        obj = _ArraysOnly(io.BytesIO(blob), encoding="bytes").load()
    except Exception as e:  # any malformed or hostile stream ends here
        raise DataError(f"{path} is not a CIFAR-10 python batch: {e}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path} is not a CIFAR-10 python batch: expected a dict, got {type(obj).__name__}")
    data = obj.get(b"data", obj.get("data"))
    labels = obj.get(b"labels", obj.get("labels"))
    if not isinstance(data, np.ndarray) or data.ndim != 2 or not 1 <= len(data) <= BATCH_IMAGES \
            or data.shape[1] != 3 * 32 * 32 or data.dtype != np.uint8 or data.nbytes > len(blob) or labels is None:
        raise DataError(f"{path} is not a CIFAR-10 python batch: expected 'data' (N <= {BATCH_IMAGES:,}, 3072) uint8 "
                        "whose bytes are in the file, and 'labels'")
    y = np.asarray(labels, dtype=np.int64)
    if len(y) != len(data) or (len(y) and (y.min() < 0 or y.max() >= len(CLASSES))):
        raise DataError(f"{path}: {len(data)} images but {len(y)} labels, or labels outside 0..9")
    return data.astype(np.uint8).reshape(-1, 3, 32, 32), y


def load_cifar10_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """data_batch_1..5 and test_batch from `folder` (or its cifar-10-batches-py subfolder)."""
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    for name in (*TRAIN_BATCHES, TEST_BATCH):
        if not (folder / name).is_file():
            raise DataError(f"missing CIFAR-10 batch {folder / name} (expected {', '.join(TRAIN_BATCHES)}, {TEST_BATCH})")
    parts = [read_batch(folder / name) for name in TRAIN_BATCHES]
    x_test, y_test = read_batch(folder / TEST_BATCH)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), x_test, y_test
