"""Data for the AAE's examples and benchmarks: MNIST targets inside the decoder's range, fixed windows.

- :func:`mnist_images`: the MNIST split as one-step (``'image'``, ``x: [1, 784]``) or 28-step
  (``'rows'``, ``x: [28, 28]``) sequences, with pixel values matched to the decoder that will score
  them, never rescaled outside its support (the public AAE this plugin replaces fed ``(u − ½)/½ ∈
  [−1, 1]`` to a sigmoid/cross-entropy decoder):

  ==============  ============================================================================
  ``obs``         targets
  ==============  ============================================================================
  ``bernoulli``   ``1[u/255 > ½]`` ∈ {0, 1}
  ``beta``        ``clamp(u/255, ε, 1 − ε)`` ∈ (0, 1), ``ε = 1e-3`` (a Beta has no mass at 0 or 1)
  ``normal``      ``u/255`` ∈ [0, 1]
  ==============  ============================================================================

- :func:`windows`: cut variable-length sequences into non-overlapping windows of ``length`` steps
  (a piece shorter than ``length`` is dropped), so real and generated sets have one shape.
"""

from __future__ import annotations

import os
from typing import Optional, Union

import torch

from seqgen import DataError
from seqgen.data import MNISTDataset, SequenceDataset

__all__ = ["mnist_images", "windows", "BETA_EPS"]

BETA_EPS = 1e-3


def mnist_images(
    root: Union[str, os.PathLike],
    *,
    split: str = "train",
    obs: str = "bernoulli",
    as_sequence: str = "image",
    limit: Optional[int] = None,
    num_train: int = 8000,
) -> SequenceDataset:
    """MNIST's ``split`` (``'train'``: the first ``num_train`` images; ``'valid'``: the rest) with
    targets for decoder ``obs`` (see the module docstring); ``limit`` keeps the first images only.

    Items carry the digit as ``label``. ``x: [1, 784]`` (``as_sequence='image'``) or ``[28, 28]``.
    """
    if obs not in ("bernoulli", "beta", "normal"):
        raise DataError("obs", f"expected 'bernoulli', 'beta' or 'normal', got {obs!r}", "name the decoder the images are for")
    ds = MNISTDataset.from_dir(root, split=split, num_train=num_train, as_sequence=as_sequence, binarize=(obs == "bernoulli"))
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    if obs != "beta":
        return ds
    x = torch.stack([ds[i].x for i in range(len(ds))]).clamp(BETA_EPS, 1 - BETA_EPS)  # [num, steps, width] in (0, 1)
    return SequenceDataset(x, labels=ds.labels, obs_kind="beta", name=f"{ds.name}, clamped to (ε, 1 − ε)", source=ds.source)


def windows(dataset: SequenceDataset, length: int, *, limit: Optional[int] = None) -> SequenceDataset:
    """Non-overlapping ``length``-step windows of every sequence, in order: ``x: [length, *obs_shape]``.

    ``limit`` keeps the first windows only. Raises DataError when no sequence is ``length`` long.
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise DataError("length", f"'length' must be an integer >= 1 (got {length!r})", "pass e.g. length=32")
    cuts = []
    for i in range(len(dataset)):
        x = dataset[i].x  # [time_i, *obs_shape]
        cuts += [x[s : s + length] for s in range(0, x.shape[0] - length + 1, length)]
    if not cuts:
        longest = int(dataset.lengths.max())
        raise DataError("length", f"no sequence of {dataset.name} has {length} steps (the longest has {longest})", f"pass length <= {longest}")
    cuts = cuts[:limit] if limit is not None else cuts
    return SequenceDataset(torch.stack(cuts), obs_kind=dataset.obs_kind, name=f"{dataset.name}, {length}-step windows", source=dataset.source)
