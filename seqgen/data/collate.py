"""Items, datasets and batches: :class:`Sequence`, :class:`SequenceDataset` and ``collate``.

Every seqgen dataset is a :class:`SequenceDataset` (a ``torch.utils.data.Dataset`` of
variable-length sequences) exposing ``obs_shape``, ``obs_kind`` (which decoder fits),
``num_classes`` (tokens) and ``describe()``; ``collate`` turns a list of its items into a
padded :class:`SeqBatch`.

An item is a :class:`Sequence` record (or a bare tensor ``x: [time, *obs_shape]``)::

    x:       [time_i, *obs_shape]   float observations, or long tokens (obs_shape ``()``)
    inputs:  [time_i, input_dim]    optional given per-step inputs (an agent's context)
    label:   scalar                 optional class label (int or 0-dim tensor)
    targets: [time_i, *target_shape] optional supervised latent features (e.g. true latents)

``collate([item_0, …, item_{B-1}])`` pads every field on the right with zeros to
``T = max_i time_i`` and returns ``SeqBatch(x: [B, T, *obs_shape], mask: [B, T] bool,
lengths: [B] long, inputs: [B, T, input_dim], labels: [B] long, targets: [B, T, *target_shape])``
with ``mask[b, t] = t < time_b`` and ``lengths[b] = time_b``. It is the ``collate_fn`` TrainOps
hands to ``torch.utils.data.DataLoader``.
"""

from __future__ import annotations

import copy
import numbers
from typing import Any, Iterable, List, Optional

import attrs
import torch
from torch.nn.utils.rnn import pad_sequence

from ..errors import DataError, format_shape
from .batch import SeqBatch

__all__ = ["Sequence", "SequenceDataset", "OBS_KINDS", "collate", "check_values_finite", "stack_labels", "require_int"]


@attrs.frozen(kw_only=True)
class Sequence:
    """One variable-length sequence (see the module docstring for the field shapes)."""

    x: torch.Tensor
    inputs: Optional[torch.Tensor] = None
    label: Optional[Any] = None
    targets: Optional[torch.Tensor] = None


def require_int(argument: str, value: Any, *, minimum: int = 1, maximum: Optional[int] = None) -> int:
    """``value`` if it is an int in ``[minimum, maximum]``, else a DataError ``'seq_len' must be …``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise DataError(argument, f"'{argument}' must be an integer {bound} (got {value!r})", f"pass an integer {bound}")
    return value


def check_values_finite(t: torch.Tensor, argument: str, *, batched: bool = False) -> None:
    """Raise DataError naming ``argument`` and the first index where ``t`` is NaN or inf.

    ``batched``: ``t`` stacks sequences along dim 0 and ``argument`` names sequence ``i`` through
    ``argument.format(i=i)`` (e.g. ``'items[{i}].x'``), so one test covers a whole batch.
    """
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        where = (~torch.isfinite(t)).nonzero()[0].tolist()
        if batched:
            argument, where = argument.format(i=where[0]), where[1:]
        raise DataError(argument, f"contains NaN or inf (first at index {tuple(where)})", "clean or drop that sequence")


def _as_record(item: Any, i: int) -> Sequence:
    if isinstance(item, Sequence):
        return item
    if isinstance(item, torch.Tensor):
        return Sequence(x=item)
    raise DataError(
        f"items[{i}]",
        f"expected a seqgen.data.Sequence or a tensor [time, *obs_shape], got {type(item).__name__}",
        "return Sequence(x=...) (or a tensor) from the dataset's __getitem__",
    )


def _check_x(x: Any, arg: str, ref: Optional[torch.Tensor], ref_arg: str, *, finite: bool = True) -> None:
    """``x``: a non-empty float/long tensor ``[time, *obs_shape]`` matching ``ref``'s shape and dtype
    (and finite, unless the caller tests a whole batch at once)."""
    if not isinstance(x, torch.Tensor):
        raise DataError(arg, f"expected a torch.Tensor [time, *obs_shape], got {type(x).__name__}", "convert with torch.as_tensor")
    if x.dim() == 0 or x.shape[0] == 0:
        raise DataError(arg, f"is a zero-length sequence (shape {format_shape(x.shape)})", "drop empty sequences from the dataset")
    if not (x.is_floating_point() or x.dtype == torch.long):
        raise DataError(arg, f"expected a float tensor or long tokens, got dtype {x.dtype}", "convert with x.float() (values) or x.long() (tokens)")
    if ref is not None:
        if x.shape[1:] != ref.shape[1:]:
            raise DataError(
                arg,
                f"has obs_shape {format_shape(x.shape[1:])} but {ref_arg} has obs_shape {format_shape(ref.shape[1:])}",
                "give every sequence the same observation shape",
            )
        if x.dtype != ref.dtype:
            raise DataError(arg, f"has dtype {x.dtype} but {ref_arg} has dtype {ref.dtype}", "give every sequence the same dtype")
    if finite:
        check_values_finite(x, arg)


def _check_aligned(value: Any, arg: str, steps: int, ref: Optional[torch.Tensor], ref_arg: str, *, finite: bool = True) -> None:
    """``inputs``/``targets``: a float tensor ``[time_i, *shape]`` with one row per step of ``x``."""
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        got = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
        raise DataError(arg, f"expected a float tensor [time, …], got {got}", "convert with torch.as_tensor(..., dtype=torch.float32)")
    if value.dim() == 0 or value.shape[0] != steps:
        raise DataError(arg, f"expected {steps} steps (one per step of x), got shape {format_shape(value.shape)}", "give one row per observation")
    if ref is not None and value.shape[1:] != ref.shape[1:]:
        raise DataError(
            arg,
            f"has per-step shape {format_shape(value.shape[1:])} but {ref_arg} has {format_shape(ref.shape[1:])}",
            "give every sequence rows of the same width",
        )
    if finite:
        check_values_finite(value, arg)


def stack_labels(labels: List[Any], argument: str, device: Optional[torch.device] = None) -> torch.Tensor:
    """Integer class labels (ints or one-element tensors) -> long ``[num]``.

    ``argument`` names label ``i`` through ``argument.format(i=i)`` (e.g. ``'labels[{i}]'``) in the
    DataError raised for a label that is not an integer.
    """
    out = []
    for i, lab in enumerate(labels):
        v = lab.item() if isinstance(lab, torch.Tensor) and lab.numel() == 1 else lab
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):  # numpy integers are Integral too
            raise DataError(argument.format(i=i), f"expected an integer class label, got {lab!r}", "store labels as ints")
        out.append(int(v))
    return torch.tensor(out, dtype=torch.long, device=device)


def _present(records: List[Sequence], field: str) -> bool:
    """True if every record has ``field``, False if none has; a DataError if only some have."""
    has = [getattr(r, field) is not None for r in records]
    if any(has) and not all(has):
        i = has.index(not has[0])
        state, other = ("has", "lacks") if has[i] else ("lacks", "has")
        raise DataError(
            f"items[{i}].{field}",
            f"items[{i}] {state} {field} but items[0] {other} {field}",
            f"give {field} to every sequence of the dataset or to none",
        )
    return bool(has) and has[0]


def collate(items: Iterable[Any]) -> SeqBatch:
    """Pad ragged sequences on the right with zeros into a :class:`SeqBatch`.

    ``items``: a non-empty list of :class:`Sequence` (or tensors ``[time_i, *obs_shape]``).
    Returns ``x: [B, T, *obs_shape]`` (T = longest), ``mask[b, t] = t < time_b``,
    ``lengths[b] = time_b``, and the optional fields stacked/padded the same way.

    Raises DataError for an empty list, a zero-length sequence, mixed obs shapes or dtypes
    (naming both items), NaN/inf (naming the item and index), and optional fields given to
    some items but not others.
    """
    records = [_as_record(item, i) for i, item in enumerate(items)]
    if not records:
        raise DataError("items", "the batch is empty (no sequences)", "pass at least one sequence (check the dataset is not empty)")
    for i, r in enumerate(records):
        _check_x(r.x, f"items[{i}].x", records[0].x if i else None, "items[0].x", finite=False)
    x0 = records[0].x
    lengths = torch.tensor([r.x.shape[0] for r in records], dtype=torch.long, device=x0.device)  # [B]
    x = pad_sequence([r.x for r in records], batch_first=True)  # [B, T, *obs_shape], zeros after time_b
    check_values_finite(x, "items[{i}].x", batched=True)  # one test for the batch; padding is finite
    steps = torch.arange(x.shape[1], device=x0.device)
    mask = steps[None, :] < lengths[:, None]  # [B, T]

    padded = {}
    for field in ("inputs", "targets"):
        if _present(records, field):
            ref = getattr(records[0], field)
            for i, r in enumerate(records):
                _check_aligned(getattr(r, field), f"items[{i}].{field}", r.x.shape[0], ref if i else None, f"items[0].{field}", finite=False)
            padded[field] = pad_sequence([getattr(r, field) for r in records], batch_first=True)  # [B, T, …]
            check_values_finite(padded[field], f"items[{{i}}].{field}", batched=True)
    labels = stack_labels([r.label for r in records], "items[{i}].label", x0.device) if _present(records, "label") else None
    return SeqBatch(x=x, mask=mask, lengths=lengths, labels=labels, **padded)


# ---------------------------------------------------------------------------- datasets

OBS_KINDS = ("bernoulli", "normal", "categorical", "beta", "poisson")
"""Which decoder fits a dataset: 0/1 values, real values, long tokens, values in (0, 1), counts."""

_KIND_TEST = {
    "bernoulli": ("0 or 1", lambda v: (v == 0) | (v == 1)),
    "beta": ("in the open interval (0, 1)", lambda v: (v > 0) & (v < 1)),
    "poisson": ("non-negative integer counts", lambda v: (v >= 0) & (v == v.round())),
}

Rows = Any  # a tensor [num, time, …] (every sequence full length) or a list of [time_i, …] tensors


def _as_tensor(value: Any, arg: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as e:
        raise DataError(arg, f"cannot be converted to a tensor ({e})", "pass tensors or numpy arrays") from None


def _rows(value: Any, argument: str, lengths: Optional[torch.Tensor]) -> Rows:
    """A padded tensor ``[num, time, …]`` (kept whole, or cut at ``lengths: [num]``) or a list of ``[time_i, …]``."""
    if isinstance(value, (list, tuple)):
        if lengths is not None:
            raise DataError(argument, "is a list, but lengths cut padded tensors [num, time, …]", f"pass {argument} as one padded tensor, or drop lengths")
        return [_as_tensor(v, f"{argument}[{i}]") for i, v in enumerate(value)]
    value = _as_tensor(value, argument)
    if value.dim() < 2:
        raise DataError(argument, f"expected a padded tensor [num, time, …] or a list of [time, …] tensors, got shape {format_shape(value.shape)}", "stack the sequences along a leading dim")
    if lengths is None:
        return value
    if lengths.shape != (value.shape[0],) or lengths.is_floating_point():
        raise DataError("lengths", f"expected {value.shape[0]} integer lengths (one per sequence of {argument}), got shape {format_shape(lengths.shape)} dtype {lengths.dtype}", "give one length per sequence")
    if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > value.shape[1]):
        raise DataError("lengths", f"must lie in [1, {value.shape[1]}] (got {int(lengths.min())}..{int(lengths.max())})", "drop empty sequences; a length cannot exceed the padded time")
    return [v[:n] for v, n in zip(value.unbind(0), lengths.tolist())]


def _check_rows(rows: Rows, argument: str, steps: Optional[Rows] = None) -> None:
    """Validate every sequence of ``rows`` (x when ``steps`` is None, else inputs/targets aligned to x).

    A padded tensor is checked at once (one finiteness test); a list item by item.
    """
    if isinstance(rows, torch.Tensor) and (steps is None or isinstance(steps, torch.Tensor)):
        if steps is None:
            _check_x(rows[0], f"{argument}[0]", None, "", finite=False)
        else:
            _check_aligned(rows[0], f"{argument}[0]", steps.shape[1], None, "", finite=False)
        check_values_finite(rows, f"{argument}[{{i}}]", batched=True)
        return
    for i, row in enumerate(rows):
        if steps is None:
            _check_x(row, f"{argument}[{i}]", rows[0] if i else None, f"{argument}[0]")
        else:
            _check_aligned(row, f"{argument}[{i}]", steps[i].shape[0], rows[0] if i else None, f"{argument}[0]")


class SequenceDataset(torch.utils.data.Dataset):
    """A validated in-memory dataset of variable-length sequences; items are :class:`Sequence`.

    sequences: a padded tensor ``[num, time, *obs_shape]`` (cut at ``lengths: [num]`` if given) or
               a list of ``[time_i, *obs_shape]`` tensors/arrays; float, or long tokens. A tensor
               is kept whole (items are views), so a strided view (text windows) costs no copy.
    inputs:    optional, same layout, ``[time_i, input_dim]`` floats per sequence.
    labels:    optional ``[num]`` integer class labels.
    targets:   optional, same layout, ``[time_i, *target_shape]`` floats (e.g. true latents).
    obs_kind:  one of :data:`OBS_KINDS`; inferred when None: long -> ``'categorical'``, floats all
               in {0, 1} -> ``'bernoulli'``, other floats -> ``'normal'``. The values are checked
               against it (tokens in ``[0, num_classes)``, bits in {0, 1}, Beta values in (0, 1),
               counts non-negative integers).
    num_classes: categorical only; inferred as ``max token + 1`` when None.

    Raises DataError for an empty dataset, zero-length sequences, mixed shapes or dtypes, NaN/inf,
    misaligned optional fields, and values outside ``obs_kind``'s support.
    """

    def __init__(
        self,
        sequences: Any,
        *,
        inputs: Any = None,
        labels: Any = None,
        targets: Any = None,
        lengths: Any = None,
        obs_kind: Optional[str] = None,
        num_classes: Optional[int] = None,
        name: str = "sequences",
        source: Optional[str] = None,
    ):
        self.name, self.source = name, source
        lengths = None if lengths is None else _as_tensor(lengths, "lengths")
        self._x: Rows = _rows(sequences, "sequences", lengths)
        if len(self._x) == 0:
            raise DataError("sequences", "the dataset is empty (no sequences)", "check the source holds at least one sequence")
        _check_rows(self._x, "sequences")
        self._inputs = self._aligned("inputs", inputs, lengths)
        self._targets = self._aligned("targets", targets, lengths)
        self._labels = None
        if labels is not None:
            labels = labels.tolist() if isinstance(labels, torch.Tensor) else list(labels)
            if len(labels) != len(self._x):
                raise DataError("labels", f"expected {len(self._x)} labels (one per sequence), got {len(labels)}", "give one label per sequence")
            self._labels = stack_labels(labels, "labels[{i}]")
        self.obs_kind, self.num_classes = self._check_kind(obs_kind, num_classes)

    def _aligned(self, field: str, value: Any, lengths: Optional[torch.Tensor]) -> Optional[Rows]:
        if value is None:
            return None
        rows = _rows(value, field, lengths)
        if len(rows) != len(self._x):
            raise DataError(field, f"expected {len(self._x)} sequences (one per sequence of x), got {len(rows)}", f"give {field} for every sequence")
        _check_rows(rows, field, steps=self._x)
        return rows

    def _check_kind(self, obs_kind: Optional[str], num_classes: Optional[int]):
        chunks = [self._x] if isinstance(self._x, torch.Tensor) else self._x  # reduced one by one, never concatenated
        if obs_kind is None:
            if self.dtype == torch.long:
                obs_kind = "categorical"
            else:
                obs_kind = "bernoulli" if all(bool(_KIND_TEST["bernoulli"][1](c).all()) for c in chunks) else "normal"
        if obs_kind not in OBS_KINDS:
            raise DataError("obs_kind", f"expected one of {', '.join(map(repr, OBS_KINDS))}, got {obs_kind!r}", "pick the decoder family that fits the data")
        if (obs_kind == "categorical") != (self.dtype == torch.long):
            raise DataError("obs_kind", f"{obs_kind!r} does not fit dtype {self.dtype}", "categorical data are long tokens; every other kind is float")
        if obs_kind != "categorical":
            if num_classes is not None:
                raise DataError("num_classes", f"applies to categorical data only (obs_kind is {obs_kind!r})", "drop num_classes")
            if obs_kind in _KIND_TEST:
                want, test = _KIND_TEST[obs_kind]
                for c in chunks:
                    ok = test(c)
                    if not bool(ok.all()):
                        raise DataError("sequences", f"obs_kind {obs_kind!r} needs values {want}, found {float(c[~ok][0])}", "choose the obs_kind that fits the values")
            return obs_kind, None
        lo, hi = min(int(c.min()) for c in chunks), max(int(c.max()) for c in chunks)
        if num_classes is None:
            num_classes = hi + 1
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise DataError("num_classes", f"expected an integer >= 1, got {num_classes!r}", "pass the vocabulary size")
        if lo < 0 or hi >= num_classes:
            raise DataError("sequences", f"tokens must lie in [0, {num_classes}) (got {lo}..{hi})", "pass the right num_classes or re-encode")
        return obs_kind, num_classes

    # ------------------------------------------------------------------ Dataset protocol
    def __len__(self) -> int:
        return len(self._x)

    def __getitem__(self, i: int) -> Sequence:
        return Sequence(
            x=self._x[i],
            inputs=None if self._inputs is None else self._inputs[i],
            label=None if self._labels is None else int(self._labels[i]),
            targets=None if self._targets is None else self._targets[i],
        )

    # ------------------------------------------------------------------ facts
    @property
    def obs_shape(self) -> torch.Size:
        """Shape of one step's observation (``()`` for tokens)."""
        return self._x[0].shape[1:]

    @property
    def dtype(self) -> torch.dtype:
        return self._x[0].dtype

    @property
    def lengths(self) -> torch.Tensor:
        """``[num]`` long: every sequence's number of steps."""
        if isinstance(self._x, torch.Tensor):
            return torch.full((self._x.shape[0],), self._x.shape[1], dtype=torch.long)
        return torch.tensor([x.shape[0] for x in self._x], dtype=torch.long)

    @property
    def input_dim(self) -> int:
        """Width of the given per-step inputs (0 when there are none)."""
        return 0 if self._inputs is None else int(self._inputs[0][0].numel())

    @property
    def labels(self) -> Optional[torch.Tensor]:
        """``[num]`` long class labels, or None."""
        return self._labels

    def select(self, indices: Iterable[int], *, name: Optional[str] = None) -> "SequenceDataset":
        """The sequences at ``indices`` (a list, range or long tensor), as a dataset of the same class."""
        idx = [int(i) for i in (indices.tolist() if isinstance(indices, torch.Tensor) else indices)]
        if not idx:
            raise DataError("indices", "selects no sequence, so the dataset would be empty", "select at least one sequence")

        def pick(rows: Rows) -> Rows:
            if rows is None:
                return None
            return rows[torch.tensor(idx)] if isinstance(rows, torch.Tensor) else [rows[i] for i in idx]

        out = copy.copy(self)
        out.name = self.name if name is None else name
        out._x, out._inputs, out._targets, out._labels = pick(self._x), pick(self._inputs), pick(self._targets), pick(self._labels)
        return out

    def _describe_extra(self) -> List[str]:
        """Lines a subclass adds to :meth:`describe` (vocabulary size, split, …)."""
        return []

    def describe(self) -> str:
        """A few human-readable lines: size, lengths, observation shape/kind, optional fields, source."""
        n = self.lengths
        kind = f"obs_kind {self.obs_kind!r}" + (f" ({self.num_classes} classes)" if self.num_classes else "")
        lines = [
            f"{self.name}: {len(self)} sequences, {int(n.sum())} steps (length {int(n.min())}-{int(n.max())}, mean {float(n.float().mean()):.1f})",
            f"obs_shape {format_shape(self.obs_shape)}, {kind}, dtype {self.dtype}",
        ]
        extras = []
        if self._inputs is not None:
            extras.append(f"inputs [time, {self.input_dim}]")
        if self._labels is not None:
            extras.append(f"labels {sorted(set(self._labels.tolist()))}")
        if self._targets is not None:
            extras.append("targets [time" + "".join(f", {d}" for d in self._targets[0].shape[1:]) + "]")
        if extras:
            lines.append("with " + ", ".join(extras))
        lines += self._describe_extra()
        if self.source:
            lines.append(f"source: {self.source}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {len(self)} sequences, obs_shape={format_shape(self.obs_shape)}, obs_kind={self.obs_kind!r})"
