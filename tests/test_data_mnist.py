"""MNIST: idx parsing (magic number, sizes, corrupt files), splits, digit subsets, sequence layouts."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from seqgen import DataError
from seqgen.data import MNISTDataset, collate, read_idx

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
IMAGES = DATA / "mnist-t10k-images-idx3-ubyte.gz"
needs_mnist = pytest.mark.skipif(not IMAGES.exists(), reason=f"shared data absent: {IMAGES}")


def write_idx(path: Path, array: np.ndarray, *, code: int = 0x08, gz: bool = True) -> Path:
    raw = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def fake_mnist(root: Path, num: int = 10) -> np.ndarray:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(num, 28, 28), dtype=np.uint8)
    write_idx(root / "mnist-t10k-images-idx3-ubyte.gz", images)
    write_idx(root / "mnist-t10k-labels-idx1-ubyte.gz", (np.arange(num) % 10).astype(np.uint8))
    return images


def test_read_idx_round_trip_and_plain_files(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.gz", a)), a)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.idx", a, gz=False), ndim=3), a)
    f = np.linspace(0, 1, 5).astype(">f4")
    assert np.allclose(read_idx(write_idx(tmp_path / "f.gz", f, code=0x0D)), f)


def test_corrupt_and_truncated_files(tmp_path):
    a = np.zeros((3, 28, 28), dtype=np.uint8)
    good = gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 3, 28, 28) + a.tobytes())
    (tmp_path / "magic.gz").write_bytes(gzip.compress(b"\x12\x34\x08\x03" + bytes(100)))
    with pytest.raises(DataError, match=r"magic.gz: bad magic number 0x12340803"):
        read_idx(tmp_path / "magic.gz")
    with pytest.raises(DataError, match=r"bad magic number 0x00000803 \(expected 0x0000XX01\)"):
        read_idx(write_idx(tmp_path / "dims.gz", a), ndim=1)
    (tmp_path / "short.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 3, 28, 28) + a.tobytes()[:-10]))
    with pytest.raises(DataError, match=r"promises sizes \(3, 28, 28\) \(2352 bytes of data\) but the file holds 2342"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "cut.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="cut.gz: corrupt or truncated gzip"):
        read_idx(tmp_path / "cut.gz")
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "none.gz")


def test_splits_digits_and_layouts_on_a_small_file(tmp_path):
    images = fake_mnist(tmp_path, num=10)
    train = MNISTDataset.from_dir(tmp_path, num_train=8)
    valid = MNISTDataset.from_dir(tmp_path, split="valid", num_train=8)
    assert (len(train), len(valid)) == (8, 2) and valid.labels.tolist() == [8, 9]
    assert train.obs_shape == (784,) and train[0].x.shape == (1, 784) and train.obs_kind == "normal"
    assert torch.allclose(train[3].x[0], torch.from_numpy(images[3]).float().flatten() / 255)
    rows = MNISTDataset.from_dir(tmp_path, split="all", as_sequence="rows", digits=[1, 3])
    assert len(rows) == 2 and rows[0].x.shape == (28, 28) and rows.labels.tolist() == [1, 3]
    assert torch.equal(rows[1].x, torch.from_numpy(images[3]).float() / 255)  # row t is step t
    bits = MNISTDataset.from_dir(tmp_path, split="all", binarize=True)
    assert bits.obs_kind == "bernoulli" and torch.equal(bits[0].x[0], (torch.from_numpy(images[0]).flatten() > 127.5).float())
    s1 = MNISTDataset.from_dir(tmp_path, split="all", binarize="stochastic", binarize_seed=3)
    s2 = MNISTDataset.from_dir(tmp_path, split="all", binarize="stochastic", binarize_seed=3)
    assert torch.equal(s1[0].x, s2[0].x) and set(s1[0].x.unique().tolist()) <= {0.0, 1.0}
    batch = collate([train[0], train[1]])
    assert batch.x.shape == (2, 1, 784) and batch.labels.tolist() == [0, 1]


def test_argument_errors(tmp_path):
    fake_mnist(tmp_path, num=10)
    with pytest.raises(DataError, match=r"no image of digits \[9\] in split 'train'"):
        MNISTDataset.from_dir(tmp_path, num_train=8, digits=[9])
    with pytest.raises(DataError, match="digits"):
        MNISTDataset.from_dir(tmp_path, split="all", digits=[10])
    with pytest.raises(DataError, match=r"'num_train' must be an integer in \[1, 9\]"):
        MNISTDataset.from_dir(tmp_path, num_train=10)
    with pytest.raises(DataError, match="as_sequence"):
        MNISTDataset.from_dir(tmp_path, num_train=8, as_sequence="columns")
    with pytest.raises(DataError, match="split"):
        MNISTDataset.from_dir(tmp_path, split="test")
    with pytest.raises(DataError, match=r"no file train-images.gz \(the directory holds mnist-t10k"):
        MNISTDataset.from_dir(tmp_path, images="train-images.gz")


@needs_mnist
def test_real_mnist_file():
    ds = MNISTDataset.from_dir(DATA, split="all")
    assert len(ds) == 10_000 and ds.obs_shape == (784,)
    assert set(ds.labels.unique().tolist()) == set(range(10))
    pixels = ds[0].x
    assert float(pixels.min()) == 0.0 and float(pixels.max()) == 1.0
    train, valid = MNISTDataset.from_dir(DATA), MNISTDataset.from_dir(DATA, split="valid")
    assert (len(train), len(valid)) == (8000, 2000)
    assert torch.equal(valid[0].x, ds[8000].x)
