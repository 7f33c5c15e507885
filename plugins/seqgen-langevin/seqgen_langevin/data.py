"""Image data sets as Langevin-machine training data: one-step sequences of network states.

The machine learns the stationary measure ``P(x)``, so every image is one sample: a sequence of a
single step ``x: [1, N]`` holding the mapped state ``x = map(p)`` (see :mod:`seqgen_langevin.images`).
TrainOps batches them into ``SeqBatch(x: [B, 1, N])`` and every observed step counts as one sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional, Tuple

import torch

from .config import LangevinConfig
from .images import images_to_states

__all__ = ["states_dataset", "mnist_states"]


def states_dataset(images: torch.Tensor, *, config: LangevinConfig, labels: Optional[torch.Tensor] = None, name: str = "langevin states"):
    """Pixels ``images: [n, H, W]`` or ``[n, N]`` in ``[0, 1]`` -> a ``SequenceDataset`` of states ``[n, 1, N]``.

    Raises ShapeError when ``H·W != config.num_neurons`` and DataError for pixels outside ``[0, 1]``.
    """
    from seqgen.data import SequenceDataset

    x = images_to_states(images, num_neurons=config.num_neurons, data_map=config.data_map, clip=config.data_clip)
    return SequenceDataset(x.unsqueeze(1), labels=labels, obs_kind="normal", name=name)  # [n, 1, N]


def mnist_states(
    path,
    *,
    config: LangevinConfig,
    digits: Iterable[int] = (1, 3, 6),
    split: str = "train",
    num_train: int = 8000,
) -> Tuple[object, torch.Tensor, torch.Tensor]:
    """MNIST digits ``digits`` of ``split`` read with ``seqgen.data.MNISTDataset`` from directory ``path``.

    Returns ``(dataset of states [n, 1, N], pixels [n, 784] in [0, 1], labels [n])``. The split
    follows seqgen's convention for the 10,000-image file: the first ``num_train`` images train,
    the rest validate.
    """
    from seqgen.data import MNISTDataset

    pixels_ds = MNISTDataset.from_dir(Path(path), digits=list(digits), split=split, num_train=num_train, as_sequence="image")
    pixels = torch.stack([pixels_ds[i].x[0] for i in range(len(pixels_ds))])  # [n, 784]
    labels = pixels_ds.labels
    name = f"{pixels_ds.name} as Langevin states ({config.data_map})"
    return states_dataset(pixels, config=config, labels=labels, name=name), pixels, labels
