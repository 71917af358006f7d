"""IDX files (MNIST, Fashion-MNIST): gzip or raw, read with full validation."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ..errors import DataError

_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
           0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file; a gzip file is recognized by its magic bytes, not its name."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read IDX file {path}: {e.strerror or e}") from None
    if blob[:2] == _GZIP_MAGIC:
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError) as e:
            raise DataError(f"IDX file {path} is a corrupt or truncated gzip stream ({e})") from None
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] not in _DTYPES or blob[3] == 0:
        raise DataError(f"{path} is not an IDX file: expected magic 00 00 <dtype> <ndim>, got {blob[:4].hex(' ')}")
    dtype, ndim = _DTYPES[blob[2]], blob[3]
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise DataError(f"IDX file {path} is truncated: header needs {header} bytes, file has {len(blob)}")
    shape = tuple(int(d) for d in np.frombuffer(blob, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(blob) != expected:
        what = "truncated" if len(blob) < expected else "longer than its header says"
        raise DataError(f"IDX file {path} is {what}: shape {shape} needs {expected} bytes, file has {len(blob)}")
    return np.frombuffer(blob, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx(folder: Path, stem: str) -> Path:
    """Locate e.g. train-images-idx3-ubyte[.gz] (also the train-images.idx3-ubyte spelling)."""
    kind, rest = stem.split("-idx")
    candidates = [f"{stem}.gz", stem, f"{kind}.idx{rest}.gz", f"{kind}.idx{rest}"]
    for name in candidates:
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"missing IDX file {folder / stem}[.gz] (looked for {', '.join(candidates)})")


def load_idx_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four MNIST-style files of a folder as (x_train, y_train, x_test, y_test), images (N, 1, H, W)."""
    arrays = []
    for split in ("train", "t10k"):
        images = read_idx(find_idx(folder, f"{split}-images-idx3-ubyte"))
        labels = read_idx(find_idx(folder, f"{split}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"{folder}: {split} images {images.shape} and labels {labels.shape} do not match "
                "(expected (N, H, W) and (N,))"
            )
        arrays += [images[:, None, :, :], labels.astype(np.int64)]
    return arrays[0], arrays[1], arrays[2], arrays[3]
