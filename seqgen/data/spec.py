"""``load_data(spec)``: one string names a dataset (what the CLI's ``--data`` takes).

- ``lorenz`` or ``lorenz:linear``: :class:`LorenzDataset` with a linear-Gaussian readout
  (``num=100`` sequences of ``length=100`` steps unless given);
- ``lorenz:spiking``: :class:`LorenzDataset` with Poisson spike counts;
- ``text:PATH``: :class:`CharTextDataset` of a UTF-8 text file;
- ``pianoroll:PATH``: :class:`PianoRollDataset` of a JSON piano-roll file;
- ``mnist:DIR``: :class:`MNISTDataset` from a directory of idx files;
- ``npz:PATH``: :class:`NpzDataset`;
- ``csv:PATH``: :class:`CsvDataset` (a file, or a directory of ``*.csv``).

``split`` picks the part: text and MNIST split by position (``'train'``, ``'valid'``, ``'all'``);
piano-roll files name their splits; Lorenz data are simulated with seed ``seed`` for
``'train'``, ``seed + 1000`` for ``'valid'`` and ``seed + 2000`` for ``'test'`` (one shared
readout, ``param_seed``); ``npz``/``csv`` files hold one set, split by position with
``valid_fraction`` (default 0: ``'train'`` is the whole file). Other keyword options go to the
loader (``seq_len=``, ``digits=``, ``obs_dim=``, …); an unknown one is a DataError listing the
valid ones. For text, the validation split must share the training vocabulary:
``load_data('text:P', split='valid', vocab=train.vocab)``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

from ..errors import DataError, closest_names
from .collate import SequenceDataset, require_int
from .lorenz import LorenzDataset
from .mnist import MNISTDataset
from .pianoroll import PianoRollDataset
from .text import CharTextDataset
from .timeseries import CsvDataset, NpzDataset

__all__ = ["load_data", "DATA_SCHEMES"]

DATA_SCHEMES: Dict[str, str] = {
    "lorenz": "lorenz[:linear|:spiking]  simulated Lorenz latents with a linear or spiking readout",
    "text": "text:PATH  character windows of a UTF-8 text file",
    "pianoroll": "pianoroll:PATH  88-key piano rolls from a JSON file {split: [piece: [step: [pitch]]]}",
    "mnist": "mnist:DIR  MNIST images from a directory of idx files",
    "npz": "npz:PATH  numeric sequences from a .npz file",
    "csv": "csv:PATH  numeric sequences from a CSV file or a directory of them",
}
LORENZ_SPLIT_OFFSET = {"train": 0, "valid": 1000, "test": 2000}


def _check_options(scheme: str, loader: Callable, options: Dict[str, Any], reserved: Tuple[str, ...]) -> None:
    params = inspect.signature(loader).parameters
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    valid = sorted(n for n, p in params.items() if p.kind in named and n not in ("self", "path") + reserved)
    valid += ["valid_fraction"] if scheme in ("npz", "csv") else []
    for key in options:
        if key not in valid:
            near = closest_names(key, valid)
            hint = f"did you mean {', '.join(map(repr, near))}?" if near else f"valid options for {scheme!r}: {', '.join(valid)}"
            raise DataError(key, f"unknown option {key!r} for data scheme {scheme!r}", hint)


def _split_by_position(ds: SequenceDataset, split: str, valid_fraction: Any) -> SequenceDataset:
    """First ``1 - valid_fraction`` of the sequences (``'train'``), the rest (``'valid'``), or ``'all'``."""
    if split not in ("train", "valid", "all"):
        raise DataError("split", f"expected 'train', 'valid' or 'all', got {split!r}", "npz/csv files split by position with valid_fraction")
    if isinstance(valid_fraction, bool) or not isinstance(valid_fraction, (int, float)) or not 0 <= valid_fraction < 1:
        raise DataError("valid_fraction", f"'valid_fraction' must be in [0, 1) (got {valid_fraction!r})", "pass e.g. valid_fraction=0.1")
    if split == "all":
        return ds
    cut = len(ds) - int(round(len(ds) * valid_fraction))
    part = range(cut) if split == "train" else range(cut, len(ds))
    if not part:
        raise DataError(
            "split",
            f"{ds.source}: the {split!r} part is empty ({len(ds)} sequences, valid_fraction={valid_fraction})",
            "pass valid_fraction > 0 (e.g. 0.1) for a validation part, or give a separate validation file",
        )
    return ds.select(part, name=f"{ds.name} ({split})")


def load_data(spec: str, *, split: str = "train", **options: Any) -> SequenceDataset:
    """The dataset ``spec`` names (see the module docstring), its ``split`` part.

    Raises DataError for an unknown scheme (listing the valid ones), an unknown option, a missing
    path, a missing/unreadable/malformed file (naming the path and the problem) and an empty dataset
    (every loader builds a :class:`SequenceDataset`, which refuses to be empty).
    """
    if not isinstance(spec, str):
        raise DataError("spec", f"expected a string such as 'text:PATH', got {type(spec).__name__}", f"one of: {'; '.join(DATA_SCHEMES.values())}")
    scheme, _, rest = spec.partition(":")
    if scheme not in DATA_SCHEMES:
        near = closest_names(scheme, DATA_SCHEMES)
        hint = (f"did you mean {', '.join(map(repr, near))}? " if near else "") + "valid: " + "; ".join(DATA_SCHEMES.values())
        raise DataError("spec", f"unknown data scheme {scheme!r} in {spec!r}", hint)

    if scheme == "lorenz":
        _check_options(scheme, LorenzDataset.__init__, options, reserved=("obs",))
        if rest not in ("", "linear", "spiking"):
            raise DataError("spec", f"unknown Lorenz readout {rest!r} in {spec!r}", "write 'lorenz', 'lorenz:linear' or 'lorenz:spiking'")
        if split not in LORENZ_SPLIT_OFFSET:
            raise DataError("split", f"expected one of {', '.join(map(repr, LORENZ_SPLIT_OFFSET))} for simulated data, got {split!r}", "pass split='train' or 'valid'")
        kwargs = {"num": 100, "length": 100, **options}
        kwargs["seed"] = require_int("seed", options.get("seed", 0), minimum=0) + LORENZ_SPLIT_OFFSET[split]
        return LorenzDataset(obs=rest or "linear", **kwargs)
    if not rest:
        raise DataError("spec", f"{spec!r} names no path", f"write {DATA_SCHEMES[scheme].split()[0]}")
    path = Path(rest).expanduser()
    if not path.exists():
        raise DataError("path", f"{path}: no such file or directory", f"check the path in {spec!r}")
    if scheme in ("npz", "csv"):
        loader = NpzDataset.from_file if scheme == "npz" else CsvDataset.from_file
        _check_options(scheme, loader, options, reserved=())
        valid_fraction = options.pop("valid_fraction", 0.0)
        return _split_by_position(loader(path, **options), split, valid_fraction)
    loader = {"text": CharTextDataset.from_file, "pianoroll": PianoRollDataset.from_json, "mnist": MNISTDataset.from_dir}[scheme]
    _check_options(scheme, loader, options, reserved=("split",))
    return loader(path, split=split, **options)
