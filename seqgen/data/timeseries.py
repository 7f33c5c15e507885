"""Numeric time series from files: ``.npz`` arrays and ``.csv`` tables.

Both give a :class:`~seqgen.data.SequenceDataset` of float sequences ``x: [time_i, dim]``
(``obs_kind`` inferred — 0/1 values ``'bernoulli'``, else ``'normal'`` — unless given), with
optional given inputs ``[time_i, input_dim]`` and targets ``[time_i, target_dim]`` read beside
them. Nothing is unpickled: ``.npz`` files are opened with ``allow_pickle=False``.
"""

from __future__ import annotations

import csv
import math
import os
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np
import torch

from ..errors import DataError
from .collate import SequenceDataset

__all__ = ["NpzDataset", "CsvDataset"]

PathLike = Union[str, os.PathLike]


def _to_tensor(a: np.ndarray, arg: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A numeric array -> float32 values, or long tokens (``dtype=torch.long``, integer arrays only)."""
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise DataError(arg, f"expected a numeric array, got dtype {a.dtype}", "store numbers (floats or ints)")
    if dtype == torch.long and not np.issubdtype(a.dtype, np.integer):
        raise DataError(arg, f"categorical tokens must be integers, got dtype {a.dtype}", "store tokens as an integer array")
    return torch.from_numpy(np.ascontiguousarray(a)).to(dtype)


def _load_arrays(path: PathLike) -> Dict[str, np.ndarray]:
    """Every array of an ``.npz`` (or the one array of an ``.npy``, under key ``'x'``)."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return {"x": loaded}
        with loaded as npz:
            return {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise DataError("path", f"{path}: no such file", "check the path to the .npz file") from None
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise DataError("path", f"{path}: not a readable .npz/.npy file ({e})", "save it with numpy.savez (object arrays are not read)") from None
    except OSError as e:
        raise DataError("path", f"{path}: cannot be read ({e.strerror or e})", "check the file exists and is readable") from None


class NpzDataset(SequenceDataset):
    """Sequences read from a ``.npz`` file with :meth:`from_file`."""

    @classmethod
    def from_file(
        cls,
        path: PathLike,
        *,
        key: Optional[str] = None,
        lengths_key: str = "lengths",
        inputs_key: Optional[str] = None,
        targets_key: Optional[str] = None,
        labels_key: Optional[str] = None,
        obs_kind: Optional[str] = None,
    ) -> "NpzDataset":
        """Read sequences from ``path``, in one of two layouts.

        - padded: one array ``[num_seq, time, *obs_shape]`` (under ``key``, or the file's only data
          array), cut at the ``[num_seq]`` integer array ``lengths_key`` when the file has one;
          ``inputs_key``/``targets_key`` name arrays ``[num_seq, time, d]`` aligned with it,
          ``labels_key`` an integer array ``[num_seq]``;
        - a list: several arrays ``[time_i, dim]`` (or ``[time_i]``, read as ``dim = 1``), one sequence
          each, in the file's order (``numpy.savez(path, *arrays)`` writes ``arr_0, arr_1, …``).

        Values become float32 (long tokens when ``obs_kind='categorical'``).
        """
        arrays = _load_arrays(path)
        named = [k for k in (inputs_key, targets_key, labels_key) if k is not None]
        for k in named + ([key] if key is not None else []):
            if k not in arrays:
                raise DataError("key", f"{path} has no array {k!r}; it holds {', '.join(map(repr, arrays))}", "pass one of the stored names")
        data_keys = [key] if key is not None else [k for k in arrays if k != lengths_key and k not in named]
        if not data_keys:
            raise DataError("path", f"{path}: holds no data array (keys: {', '.join(map(repr, arrays)) or 'none'})", "save the sequences with numpy.savez")
        x_dtype = torch.long if obs_kind == "categorical" else torch.float32
        extra: Dict[str, Any] = {}
        if len(data_keys) == 1:
            x = arrays[data_keys[0]]
            if x.ndim < 3:
                raise DataError(
                    f"{path}[{data_keys[0]!r}]",
                    f"expected a padded array [num_seq, time, dim], got shape {x.shape}",
                    "save one sequence [time, dim] as x[None], scalar series [num_seq, time] as x[..., None]",
                )
            seqs: Any = _to_tensor(x, data_keys[0], x_dtype)
            if lengths_key in arrays:
                lengths = arrays[lengths_key]
                if not np.issubdtype(lengths.dtype, np.integer):
                    raise DataError(lengths_key, f"expected integer lengths, got dtype {lengths.dtype}", "store lengths as ints")
                extra["lengths"] = torch.from_numpy(lengths.astype(np.int64))
            for field, k in (("inputs", inputs_key), ("targets", targets_key)):
                if k is not None:
                    extra[field] = _to_tensor(arrays[k], k)
        else:
            if any(k in arrays for k in (lengths_key, inputs_key, targets_key, labels_key) if k):
                raise DataError("path", f"{path}: lengths/inputs/targets/labels apply to one padded array, but it holds several data arrays {data_keys}", "save one padded array [num_seq, time, dim], or drop the extra arrays")
            seqs = []
            for k in data_keys:
                a = arrays[k]
                if a.ndim not in (1, 2):
                    raise DataError(f"{path}[{k!r}]", f"expected one sequence [time, dim] or [time], got shape {a.shape}", "store one sequence per array, or pass key= to read a padded array")
                seqs.append(_to_tensor(a.reshape(a.shape[0], -1), k, x_dtype))  # [time, dim]
        if labels_key is not None:
            extra["labels"] = torch.from_numpy(arrays[labels_key]) if np.issubdtype(arrays[labels_key].dtype, np.integer) else arrays[labels_key].tolist()
        return cls(seqs, obs_kind=obs_kind, name=f"npz {Path(path).name}", source=str(path), **extra)


def _parse_csv(path: Path, delimiter: str) -> Tuple[List[str], List[Tuple[int, List[str]]]]:
    """``(header, [(line number, fields)])`` of one CSV file; blank lines skipped."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [(n, r) for n, r in enumerate(csv.reader(f, delimiter=delimiter), start=1) if r and any(c.strip() for c in r)]
    except FileNotFoundError:
        raise DataError("path", f"{path}: no such file", "check the path to the .csv file") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError("path", f"{path}: not a readable CSV file ({e})", "save it as UTF-8 CSV with a header row") from None
    except OSError as e:
        raise DataError("path", f"{path}: cannot be read ({e.strerror or e})", "check the file exists and is readable") from None
    if len(rows) < 2:
        raise DataError("path", f"{path}: no data rows (expected a header row and at least one row of values)", "check the file is not empty")
    header = [h.strip() for h in rows[0][1]]
    if len(set(header)) != len(header):
        raise DataError("path", f"{path}: the header repeats a column name ({header})", "give every column a distinct name")
    return header, rows[1:]


def _columns(path: Path, header: List[str], wanted: Optional[Seq[str]], default: List[str], what: str) -> List[int]:
    names = default if wanted is None else list(wanted)
    missing = [c for c in names if c not in header]
    if missing:
        raise DataError(what, f"{path} has no column {missing[0]!r}; it has {', '.join(map(repr, header))}", "pass column names from the header")
    return [header.index(c) for c in names]


class CsvDataset(SequenceDataset):
    """Sequences read from CSV files with :meth:`from_file`; ``sequence_ids`` names each sequence."""

    def __init__(self, sequences: Any, *, sequence_ids: Optional[Seq[str]] = None, **kwargs: Any):
        super().__init__(sequences, **kwargs)
        self.sequence_ids = [str(i) for i in range(len(self))] if sequence_ids is None else [str(i) for i in sequence_ids]
        if len(self.sequence_ids) != len(self):
            raise DataError("sequence_ids", f"expected {len(self)} ids (one per sequence), got {len(self.sequence_ids)}", "name every sequence once")

    @classmethod
    def from_file(
        cls,
        path: PathLike,
        *,
        sequence_column: str = "sequence_id",
        columns: Optional[Seq[str]] = None,
        input_columns: Optional[Seq[str]] = None,
        target_columns: Optional[Seq[str]] = None,
        obs_kind: Optional[str] = None,
        delimiter: str = ",",
    ) -> "CsvDataset":
        """Read a CSV file (or every ``*.csv`` of a directory, in name order) with a header row.

        Each row is one time step. A file with a ``sequence_column`` holds several sequences: rows
        are grouped by its value, in order of first appearance, keeping the file's row order within a
        sequence; a file without it is one sequence. ``columns`` are the observation's dims
        (default: every column but the sequence, input and target columns), ``input_columns`` /
        ``target_columns`` the given inputs / targets. Every value must parse as a finite float;
        otherwise a DataError names the file, line and column.
        """
        root = Path(path)
        files = sorted(root.glob("*.csv")) if root.is_dir() else [root]
        if not files:
            raise DataError("path", f"{path}: the directory holds no *.csv file", "point to a CSV file or a directory of them")
        seqs: List[torch.Tensor] = []
        inputs: List[torch.Tensor] = []
        targets: List[torch.Tensor] = []
        ids: List[str] = []
        for file in files:
            header, rows = _parse_csv(file, delimiter)
            side = [c for group in (input_columns, target_columns) if group for c in group]
            default = [h for h in header if h != sequence_column and h not in side]
            cols = {
                "x": _columns(file, header, columns, default, "columns"),
                "inputs": _columns(file, header, input_columns, [], "input_columns"),
                "targets": _columns(file, header, target_columns, [], "target_columns"),
            }
            if not cols["x"]:
                raise DataError("columns", f"{file}: no observation column (header {header})", "add value columns or pass columns=")
            groups: Dict[str, List[Tuple[int, List[str]]]] = {}
            sid = header.index(sequence_column) if sequence_column in header else None
            for line, row in rows:
                if len(row) != len(header):
                    raise DataError("path", f"{file}, line {line}: {len(row)} fields, the header has {len(header)}", "give every row one value per column")
                groups.setdefault(row[sid].strip() if sid is not None else "0", []).append((line, row))
            for name, group in groups.items():
                table = {f: _values(file, group, header, c) for f, c in cols.items()}  # [time, n_cols] each
                seqs.append(table["x"])
                inputs.append(table["inputs"])
                targets.append(table["targets"])
                ids.append(f"{file.name}:{name}" if len(files) > 1 else name)
        if obs_kind == "categorical":
            for s, name in zip(seqs, ids):
                if not torch.equal(s, s.round()):
                    raise DataError("columns", f"{path}: sequence {name!r} has non-integer values, but categorical tokens are integers", "pass another obs_kind or store token ids")
            seqs = [s.long() for s in seqs]
        return cls(
            seqs,
            sequence_ids=ids,
            inputs=inputs if input_columns else None,
            targets=targets if target_columns else None,
            obs_kind=obs_kind,
            name=f"csv {root.name}",
            source=str(path),
        )

    def select(self, indices, *, name=None) -> "CsvDataset":
        idx = [int(i) for i in (indices.tolist() if isinstance(indices, torch.Tensor) else indices)]
        out = super().select(idx, name=name)
        out.sequence_ids = [self.sequence_ids[i] for i in idx]
        return out


def _values(file: Path, group: List[Tuple[int, List[str]]], header: List[str], cols: List[int]) -> torch.Tensor:
    """The ``cols`` of ``group``'s rows as float32 ``[time, len(cols)]``; DataError on a bad value."""
    out = []
    for line, row in group:
        vals = []
        for c in cols:
            try:
                v = float(row[c])
            except ValueError:
                raise DataError("path", f"{file}, line {line}, column {header[c]!r}: {row[c]!r} is not a number", "clean the value or drop the column") from None
            if not math.isfinite(v):
                raise DataError("path", f"{file}, line {line}, column {header[c]!r}: value {row[c]!r} is NaN or inf", "clean or impute the value")
            vals.append(v)
        out.append(vals)
    return torch.tensor(out, dtype=torch.float32).reshape(len(group), len(cols))
