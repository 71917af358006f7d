from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from paretonet.data import DataConfig, load_dataset, read_cifar10_batch, read_idx
from paretonet.errors import ConfigError, DataError, RegistryError

from idx_files import make_idx_folder, write_idx  # noqa: F401 (tests/idx_files.py)


def test_digits_pixels_in_unit_range_and_shapes(digits):
    assert digits.input_shape == (1, 8, 8)
    assert digits.n_classes == 10
    assert len(digits.train) + len(digits.val) + len(digits.test) == 1797
    for split in (digits.train, digits.val, digits.test):
        assert split.x.dtype == torch.float32 and split.y.dtype == torch.int64
        assert float(split.x.min()) >= 0.0 and float(split.x.max()) <= 1.0


def test_split_is_deterministic_stratified_and_disjoint():
    a, b = load_dataset("digits", seed=3), load_dataset("digits", seed=3)
    c = load_dataset("digits", seed=4)
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.train.y, b.train.y)
    assert not torch.equal(a.test.x, c.test.x)
    counts = torch.bincount(a.test.y, minlength=10)
    assert int(counts.min()) >= 34 and int(counts.max()) <= 37  # every class ~20 % of its 174-183 images
    train_rows = {tuple(r) for r in a.train.x.flatten(1).tolist()}
    test_rows = {tuple(r) for r in a.test.x.flatten(1).tolist()}
    # digits has a few duplicate images; disjoint index sets still leave nearly no overlap
    assert len(train_rows & test_rows) < 5


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_loads_gzip_and_raw(tmp_path, gz):
    make_idx_folder(tmp_path, gz=gz)
    ds = load_dataset(DataConfig("mnist", root=str(tmp_path), val_fraction=0.25))
    assert ds.input_shape == (1, 6, 6)
    assert len(ds.test) == 20 and len(ds.train) + len(ds.val) == 40
    raw = read_idx(tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if gz else "")))
    assert torch.allclose(ds.test.x[:, 0] * 255, torch.from_numpy(raw.astype(np.float32)))


def test_truncated_idx_names_file_and_sizes(tmp_path):
    make_idx_folder(tmp_path, gz=False)
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-7])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte is truncated: shape \(40, 6, 6\) needs 1456 bytes"):
        load_dataset(DataConfig("fashion-mnist", root=str(tmp_path)))


def test_truncated_gzip_and_bad_magic(tmp_path):
    make_idx_folder(tmp_path, gz=True)
    f = tmp_path / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:10])
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        read_idx(f)
    g = tmp_path / "junk"
    g.write_bytes(b"hello world")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(g)


def test_missing_file_and_folder(tmp_path):
    make_idx_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing IDX file .*t10k-labels-idx1-ubyte"):
        load_dataset(DataConfig("mnist", root=str(tmp_path)))
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(DataConfig("mnist", root=str(tmp_path / "nope")))


def test_unknown_dataset_lists_known():
    with pytest.raises(RegistryError, match="unknown dataset 'imagenet'; known: cifar10, digits"):
        load_dataset("imagenet")


def test_bad_split_fractions():
    with pytest.raises(ConfigError, match="val_fraction"):
        DataConfig(val_fraction=1.0)
    with pytest.raises(ConfigError, match="seed"):
        DataConfig(seed=-1)


def _cifar_batch(path, n, seed):
    rng = np.random.default_rng(seed)
    batch = {b"batch_label": b"x", b"labels": [int(v) for v in rng.integers(0, 10, n)],
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"f"] * n}
    path.write_bytes(pickle.dumps(batch, protocol=2))


def test_cifar10_batches_load(tmp_path):
    for i in range(1, 6):
        _cifar_batch(tmp_path / f"data_batch_{i}", 8, i)
    _cifar_batch(tmp_path / "test_batch", 6, 9)
    ds = load_dataset(DataConfig("cifar10", root=str(tmp_path), val_fraction=0.25))
    assert ds.input_shape == (3, 32, 32) and len(ds.test) == 6 and ds.n_classes == 10
    x, y = read_cifar10_batch(tmp_path / "test_batch")
    assert x.shape == (6, 3, 32, 32) and torch.equal(ds.test.y, torch.from_numpy(y))


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_cifar_reader_never_runs_code_from_the_file(tmp_path):
    f = tmp_path / "data_batch_1"
    f.write_bytes(pickle.dumps({b"data": _Evil()}))
    with pytest.raises(DataError, match="not a CIFAR-10 python batch: global (posix|os).system is not allowed"):
        read_cifar10_batch(f)


class _HugeArray:
    """What a 101-byte hostile batch pickles: numpy.ndarray called with a shape, which allocates uninitialised
    memory (here 297,534 x 3,072 bytes: 0.9 GB) without a byte of it in the file."""

    def __reduce__(self):
        return (np.ndarray, ((297_534, 3072), np.dtype(np.uint8)))


def test_cifar_reader_takes_only_arrays_whose_bytes_are_in_the_file(tmp_path):
    f = tmp_path / "data_batch_1"
    f.write_bytes(pickle.dumps({b"data": _HugeArray(), b"labels": [0]}, protocol=2))
    assert f.stat().st_size < 200
    with pytest.raises(DataError, match="numpy.ndarray may not be called directly"):
        read_cifar10_batch(f)
    batch = {b"labels": [0] * 3, b"data": np.zeros((3, 3072), np.uint8)}
    blob = pickle.dumps(batch, protocol=2)
    f.write_bytes(blob.replace(b"K\x03M\x00\x0c", b"J\x00\x00\x01\x00M\x00\x0c"))  # the shape claims 65,536 images
    with pytest.raises(DataError, match="not a CIFAR-10 python batch"):
        read_cifar10_batch(f)
    big = {b"labels": [0] * 10_001, b"data": np.zeros((10_001, 3072), np.uint8)}  # more than a batch holds
    f.write_bytes(pickle.dumps(big, protocol=2))
    with pytest.raises(DataError, match="N <= 10,000"):
        read_cifar10_batch(f)


def test_synthetic_is_seeded():
    a, b = load_dataset("synthetic", seed=1), load_dataset("synthetic", seed=1)
    assert torch.equal(a.train.x, b.train.x)
    assert a.n_classes == 4 and a.input_shape == (1, 8, 8)


@pytest.mark.slow
def test_fashion_mnist_from_debian_package():
    from paretonet.data._loaders import DEBIAN_DATASETS

    if not (DEBIAN_DATASETS / "fashion-mnist").is_dir():
        pytest.skip("Debian package dataset-fashion-mnist is not installed")
    ds = load_dataset("fashion-mnist")
    assert ds.input_shape == (1, 28, 28)
    assert len(ds.test) == 10_000 and len(ds.train) + len(ds.val) == 60_000
