"""MNIST digits (LeCun et al. 1998) from the original idx files, as one-step or row sequences.

Images are ``28 × 28`` uint8 intensities scaled to ``[0, 1]`` (``u / 255``). As sequences:

- ``as_sequence='image'``: one step, ``x: [1, 784]`` (the flat image; ``obs_shape (784,)``),
  for models that treat a whole image as one observation;
- ``as_sequence='rows'``: 28 steps of 28 pixels, ``x: [28, 28]`` (row ``t`` is step ``t``,
  ``obs_shape (28,)``), the sequential-MNIST setting.

``binarize``: ``False`` keeps intensities (``obs_kind 'normal'``: exact 0s and 1s lie outside a
Beta's open support); ``True``/``'threshold'`` sets ``x = [u/255 > 0.5]``; ``'stochastic'``
draws ``x ~ Bernoulli(u/255)`` once, with ``binarize_seed`` (Salakhutdinov & Murray, ICML 2008);
both give ``obs_kind 'bernoulli'``. Labels (digits 0–9) are kept. Split convention for the
10,000-image file: the first ``num_train`` (8,000) images train, the rest (2,000) validate.
"""

from __future__ import annotations

import gzip
import numbers
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Iterable, List, Optional, Union

import numpy as np
import torch

from ..errors import DataError
from .collate import SequenceDataset, require_int

__all__ = ["read_idx", "MNISTDataset", "MNIST_IMAGES", "MNIST_LABELS"]

MNIST_IMAGES = "mnist-t10k-images-idx3-ubyte.gz"
MNIST_LABELS = "mnist-t10k-labels-idx1-ubyte.gz"
SIDE = 28

# idx format: magic = 0x00 0x00 <dtype code> <ndim>, then ndim big-endian uint32 sizes, then data.
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Union[str, os.PathLike], *, ndim: Optional[int] = None) -> np.ndarray:
    """Read an idx file (gzipped or not) into an array ``[d_1, …, d_ndim]``.

    Checks the magic number (two zero bytes, a known dtype code, ``ndim`` if given) and that the
    data are exactly ``∏ d_i`` items long; a missing, corrupt or truncated file is a DataError
    naming the path and the problem.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":  # gzip magic
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError("path", f"{path}: no such file", "check the path to the MNIST idx files") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError("path", f"{path}: corrupt or truncated gzip data ({e})", "download the file again") from None
    except OSError as e:
        raise DataError("path", f"{path}: cannot be read ({e.strerror or e})", "check the file exists and is readable") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES or (ndim is not None and raw[3] != ndim):
        want = "0x0000XX" + (f"{ndim:02x}" if ndim is not None else "NN")
        raise DataError("path", f"{path}: bad magic number 0x{raw[:4].hex()} (expected {want}); not an idx file", "pass the MNIST idx files")
    n = raw[3]
    header = 4 + 4 * n
    if len(raw) < header:
        raise DataError("path", f"{path}: truncated header ({len(raw)} bytes)", "download the file again")
    dims = struct.unpack(f">{n}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            "path",
            f"{path}: the header promises sizes {dims} ({expected} bytes of data) but the file holds {len(raw) - header}",
            "the file is truncated or corrupt; download it again",
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def _binarize(x: torch.Tensor, binarize: Union[bool, str], seed: int) -> torch.Tensor:
    """``x: [num, 784]`` in [0, 1] -> 0/1 floats by threshold or one Bernoulli draw."""
    if binarize in (True, "threshold"):
        return (x > 0.5).to(x.dtype)
    if binarize == "stochastic":
        gen = torch.Generator().manual_seed(seed)
        return torch.bernoulli(x, generator=gen)
    raise DataError("binarize", f"expected False, True, 'threshold' or 'stochastic', got {binarize!r}", "pass binarize=True")


class MNISTDataset(SequenceDataset):
    """MNIST images as sequences (see the module docstring); items carry the digit as ``label``.

    images: ``[num, 28, 28]`` uint8 (0–255) array or tensor; labels: ``[num]`` digits 0–9.
    """

    def __init__(
        self,
        images: Any,
        labels: Any,
        *,
        as_sequence: str = "image",
        binarize: Union[bool, str] = False,
        binarize_seed: int = 0,
        name: str = "mnist",
        source: Optional[str] = None,
    ):
        images = torch.as_tensor(np.asarray(images))
        if images.dim() != 3 or tuple(images.shape[1:]) != (SIDE, SIDE) or images.dtype != torch.uint8:
            raise DataError("images", f"expected uint8 [num, 28, 28], got {images.dtype} {tuple(images.shape)}", "pass the arrays read_idx returns")
        labels = torch.as_tensor(np.asarray(labels)).long()
        if labels.shape != (images.shape[0],) or (labels.numel() and (int(labels.min()) < 0 or int(labels.max()) > 9)):
            raise DataError("labels", f"expected {images.shape[0]} digits in 0-9, got shape {tuple(labels.shape)}", "pass one label per image")
        if as_sequence not in ("image", "rows"):
            raise DataError("as_sequence", f"expected 'image' or 'rows', got {as_sequence!r}", "pass as_sequence='image' (one step) or 'rows' (28 steps)")
        x = images.reshape(images.shape[0], SIDE * SIDE).float() / 255.0  # [num, 784] in [0, 1]
        if binarize is not False:
            x = _binarize(x, binarize, binarize_seed)
        steps = (1, SIDE * SIDE) if as_sequence == "image" else (SIDE, SIDE)
        super().__init__(
            x.reshape(x.shape[0], *steps),  # [num, 1, 784] or [num, 28, 28]
            labels=labels,
            obs_kind="normal" if binarize is False else "bernoulli",
            name=name,
            source=source,
        )
        self.as_sequence, self.binarize = as_sequence, binarize

    @classmethod
    def from_dir(
        cls,
        path: Union[str, os.PathLike],
        *,
        digits: Optional[Iterable[int]] = None,
        split: str = "train",
        num_train: int = 8000,
        as_sequence: str = "image",
        binarize: Union[bool, str] = False,
        binarize_seed: int = 0,
        images: str = MNIST_IMAGES,
        labels: str = MNIST_LABELS,
    ) -> "MNISTDataset":
        """Read ``images``/``labels`` from directory ``path``; keep one split and, optionally, some digits.

        ``split``: ``'train'`` (the first ``num_train`` images), ``'valid'`` (the rest) or ``'all'``;
        ``digits``: the subset of classes to keep (e.g. ``[0, 1]``), applied within the split.
        """
        root = Path(path)
        if not root.is_dir():
            raise DataError("path", f"{path}: not a directory", f"pass the directory holding {MNIST_IMAGES} and {MNIST_LABELS}")
        files = {}
        for key, fname, n in (("images", images, 3), ("labels", labels, 1)):
            if not (root / fname).is_file():
                have = sorted(p.name for p in root.iterdir())
                raise DataError("path", f"{path}: no file {fname} (the directory holds {', '.join(have) or 'nothing'})", f"pass {key}='<file name>' or the right directory")
            files[key] = read_idx(root / fname, ndim=n)
        imgs, labs = files["images"], files["labels"]
        if imgs.shape[1:] != (SIDE, SIDE) or imgs.dtype != np.uint8 or labs.shape[0] != imgs.shape[0]:
            raise DataError("path", f"{path}: expected uint8 images [num, 28, 28] and one label each, got {imgs.dtype} {imgs.shape} and {labs.shape}", "pass the MNIST idx files")
        idx = np.arange(imgs.shape[0])
        if split != "all":
            if split not in ("train", "valid"):
                raise DataError("split", f"expected 'train', 'valid' or 'all', got {split!r}", "MNIST splits by position: the first num_train images train")
            require_int("num_train", num_train, maximum=imgs.shape[0] - 1)
            idx = idx[:num_train] if split == "train" else idx[num_train:]
        if digits is not None:
            wanted = _check_digits(digits)
            idx = idx[np.isin(labs[idx], wanted)]
            if idx.size == 0:
                raise DataError("digits", f"no image of digits {wanted} in split {split!r}", "choose digits present in the split")
        name = f"mnist ({split}" + (f", digits {_check_digits(digits)}" if digits is not None else "") + ")"
        return cls(imgs[idx], labs[idx], as_sequence=as_sequence, binarize=binarize, binarize_seed=binarize_seed, name=name, source=str(root))

    def _describe_extra(self) -> List[str]:
        return [f"as_sequence {self.as_sequence!r}, binarize {self.binarize!r}"]


def _check_digits(digits: Iterable[int]) -> List[int]:
    """``digits`` -> the sorted distinct digits; DataError unless a non-empty collection of ints in 0-9."""
    items = list(digits) if isinstance(digits, Iterable) and not isinstance(digits, (str, bytes)) else []
    if not items or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or not 0 <= d <= 9 for d in items):
        raise DataError("digits", f"expected a non-empty set of digits in 0-9, got {digits!r}", "pass e.g. digits=[0, 1]")
    return sorted(set(int(d) for d in items))
