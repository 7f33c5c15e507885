"""Data for TrainOps: datasets in, ``SeqBatch`` minibatches out, in an order a checkpoint can resume.

``fit``/``evaluate`` take a map-style dataset (``len(d)`` and ``d[i]``) whose items a
``collate_fn`` turns into a :class:`~seqgen.SeqBatch` (default: ``seqgen.data.collate.collate``),
or a ready ``SeqBatch`` (its rows are the sequences).

The training order of epoch ``e`` is ``torch.randperm(N)`` drawn from a generator seeded with
``seed + e`` (``DistributedSampler``'s rule; the identity when ``shuffle=False``), and process
``r`` of ``W`` reads positions ``r, r + W, r + 2W, …`` of it. The order is therefore a function of
(seed, epoch) alone: a checkpoint stores only how many batches of the epoch were consumed, and
:class:`ResumableSampler` skips that many samples without loading them. The DataLoader's own
generator (which seeds worker processes) is likewise reseeded per epoch, and each worker seeds
``random`` and ``numpy`` from its torch seed, so workers are reproducible too.
"""

from __future__ import annotations

import functools
import math
import random
from typing import Any, Callable, Iterator, Optional, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..data.batch import SeqBatch
from ..errors import ConfigError, DataError
from .config import TrainConfig
from .distributed import DistContext

__all__ = ["as_dataset", "ResumableSampler", "TrainLoader", "eval_loader", "seed_worker"]


class _Rows(Dataset):
    """The rows of a padded ``SeqBatch`` as a dataset of row indices (gathered by ``_gather_rows``)."""

    def __init__(self, batch: SeqBatch):
        self.batch = batch

    def __len__(self) -> int:
        return self.batch.batch_size

    def __getitem__(self, i: int) -> int:
        return i


def _gather_rows(batch: SeqBatch, rows) -> SeqBatch:
    idx = torch.as_tensor(rows, dtype=torch.long, device=batch.x.device)  # [b]

    def pick(t):
        return None if t is None else t[idx]

    return SeqBatch(
        x=batch.x[idx], mask=batch.mask[idx], lengths=batch.lengths[idx],
        inputs=pick(batch.inputs), labels=pick(batch.labels), targets=pick(batch.targets),
    )


class _CheckedCollate:
    """Calls the user's collate and checks it returned a SeqBatch (picklable, for workers)."""

    def __init__(self, fn: Callable[[list], Any]):
        self.fn = fn

    def __call__(self, items: list) -> SeqBatch:
        out = self.fn(items)
        if not isinstance(out, SeqBatch):
            raise DataError(
                "collate_fn",
                f"expected it to return a seqgen.SeqBatch, got {type(out).__name__}",
                "return seqgen.SeqBatch(...) (e.g. SeqBatch.from_tensor(x, mask)), as seqgen.data.collate.collate does",
            )
        return out


def _default_collate() -> Callable[[list], SeqBatch]:
    try:
        from ..data.collate import collate
    except ImportError as e:
        raise ConfigError(
            "collate_fn",
            f"no collate_fn was given and seqgen.data.collate could not be imported ({e})",
            "pass TrainOps(..., collate_fn=fn) with fn(items) -> SeqBatch",
        ) from None
    return collate


def as_dataset(data: Any, collate_fn: Optional[Callable], *, argument: str) -> Tuple[Dataset, Callable[[list], SeqBatch]]:
    """``(dataset, collate)`` for a SeqBatch or a map-style dataset; DataError for anything else or empty data."""
    if isinstance(data, SeqBatch):
        if data.batch_size == 0:
            raise DataError(argument, "is an empty SeqBatch (batch size 0)", "pass at least one sequence")
        return _Rows(data), functools.partial(_gather_rows, data)
    if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise DataError(
            argument,
            f"expected a map-style dataset (with len() and [i]) or a seqgen.SeqBatch, got {type(data).__name__}",
            "wrap an iterable in a list, or pad it into a SeqBatch",
        )
    if len(data) == 0:
        raise DataError(argument, "is empty (0 sequences)", "pass at least one sequence")
    return data, _CheckedCollate(collate_fn if collate_fn is not None else _default_collate())


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed ``random`` and ``numpy`` from the worker's torch seed."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` (call ``set_epoch`` each epoch) that can start ``start`` samples in."""

    def __init__(self, dataset: Dataset, *, num_replicas: int, rank: int, shuffle: bool, seed: int):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=False)
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())  # [num_samples] this process's share of the epoch
        return iter(indices[self.start :])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


class TrainLoader:
    """Per-epoch DataLoaders over this process's shard, resumable at a batch position."""

    def __init__(self, dataset: Dataset, collate: Callable, config: TrainConfig, ctx: DistContext):
        self.dataset, self.collate, self.config = dataset, collate, config
        self.sampler = ResumableSampler(
            dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=config.shuffle, seed=config.seed
        )
        per_process = self.sampler.num_samples
        b = config.batch_size
        self.steps_per_epoch = per_process // b if config.drop_last else math.ceil(per_process / b)
        if self.steps_per_epoch == 0:
            raise DataError(
                "train",
                f"has {per_process} sequences per process, fewer than batch_size={b} with drop_last=True",
                "lower batch_size or set drop_last=False",
            )

    def epoch(self, epoch: int, start_batch: int) -> Iterator[SeqBatch]:
        """The batches of ``epoch`` from batch ``start_batch`` on."""
        self.sampler.set_epoch(epoch)
        self.sampler.start = start_batch * self.config.batch_size
        generator = torch.Generator()
        generator.manual_seed(self.config.seed + epoch)
        loader = DataLoader(
            self.dataset,
            batch_size=self.config.batch_size,
            sampler=self.sampler,
            collate_fn=self.collate,
            num_workers=self.config.num_workers,
            drop_last=self.config.drop_last,
            generator=generator,
            worker_init_fn=seed_worker if self.config.num_workers > 0 else None,
        )
        return iter(loader)


def eval_loader(dataset: Dataset, collate: Callable, config: TrainConfig, ctx: DistContext) -> DataLoader:
    """In-order batches of positions ``rank, rank + W, …`` (no padding, so no sequence counts twice)."""
    return DataLoader(
        dataset,
        batch_size=config.eval_batch_size or config.batch_size,
        sampler=list(range(ctx.rank, len(dataset), ctx.world_size)),
        collate_fn=collate,
        num_workers=config.num_workers,
        worker_init_fn=seed_worker if config.num_workers > 0 else None,
    )
