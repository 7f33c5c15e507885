"""Polyphonic music as piano rolls (Boulanger-Lewandowski, Bengio & Vincent, ICML 2012).

A piece is a list of steps, each the set of MIDI pitches sounding at that step. Its piano roll
is ``x: [time, 88]`` float with ``x[t, k] = 1`` iff pitch ``k + 21`` sounds at step ``t``
(the 88 keys of a piano, A0 = 21 … C8 = 108); empty steps (rests) are all-zero rows. The
datasets (JSB chorales, Nottingham, MuseData, Piano-midi.de) are stored as JSON
``{split: [piece: [step: [pitch, …]]]}``; models fit a Bernoulli decoder over the 88 keys
and report nats per step (DESIGN "Units").
"""

from __future__ import annotations

import json
import os
from typing import Any, List, Optional, Sequence as Seq, Union

import numpy as np
import torch

from ..errors import DataError, format_shape
from .collate import SequenceDataset

__all__ = ["NUM_KEYS", "LOWEST_PITCH", "PianoRollDataset", "pitches_to_pianoroll", "pianoroll_to_pitches", "write_midi"]

NUM_KEYS = 88
LOWEST_PITCH = 21  # A0, the piano's lowest key; the highest is LOWEST_PITCH + NUM_KEYS - 1 = 108 (C8)
HIGHEST_PITCH = LOWEST_PITCH + NUM_KEYS - 1


def pitches_to_pianoroll(steps: Seq[Seq[int]], *, piece: Union[int, str] = 0) -> torch.Tensor:
    """``steps`` (a list of lists of MIDI pitches) -> roll ``[time, 88]`` float32 of 0/1.

    Raises DataError naming ``piece``, the step and the pitch for a pitch outside 21–108 or a value
    that is not an integer, and for a piece with no steps.
    """
    if not isinstance(steps, (list, tuple)) or not steps:
        raise DataError(f"chorale {piece}", f"expected a non-empty list of steps, got {steps!r:.60}", "store each piece as a list of steps")
    rows: List[int] = []
    keys: List[int] = []
    for t, step in enumerate(steps):
        if not isinstance(step, (list, tuple)):
            raise DataError(f"chorale {piece}, step {t}", f"expected a list of MIDI pitches, got {step!r:.60}", "store each step as a list of pitches")
        for p in step:
            if isinstance(p, bool) or not isinstance(p, (int, float)) or int(p) != p:
                raise DataError(f"chorale {piece}, step {t}", f"expected integer MIDI pitches, got {p!r}", "store pitches as integers")
            if not LOWEST_PITCH <= p <= HIGHEST_PITCH:
                raise DataError(
                    f"chorale {piece}, step {t}",
                    f"pitch {int(p)} is outside the piano's range {LOWEST_PITCH}-{HIGHEST_PITCH}",
                    "transpose or drop the note; the 88-key roll covers A0 (21) to C8 (108)",
                )
            rows.append(t)
            keys.append(int(p) - LOWEST_PITCH)
    roll = torch.zeros(len(steps), NUM_KEYS)
    roll[torch.tensor(rows, dtype=torch.long), torch.tensor(keys, dtype=torch.long)] = 1.0  # [time, 88]
    return roll


def _check_roll(roll: Any) -> np.ndarray:
    arr = roll.detach().cpu().numpy() if isinstance(roll, torch.Tensor) else np.asarray(roll)
    if arr.ndim != 2 or arr.shape[1] != NUM_KEYS:
        raise DataError("roll", f"expected shape [time, {NUM_KEYS}], got {format_shape(arr.shape)}", "pass one piece's piano roll (index a batch first)")
    if not np.isin(arr, (0, 1)).all():
        raise DataError("roll", "expected 0/1 values", "threshold or sample probabilities first (e.g. roll > 0.5)")
    return arr.astype(bool)


def pianoroll_to_pitches(roll: Any) -> List[List[int]]:
    """Inverse of :func:`pitches_to_pianoroll`: ``[time, 88]`` 0/1 -> per step, the ascending MIDI pitches."""
    on = _check_roll(roll)
    return [(np.flatnonzero(row) + LOWEST_PITCH).tolist() for row in on]


def write_midi(
    roll: Any,
    path: Union[str, os.PathLike],
    *,
    step_seconds: float = 0.5,
    velocity: int = 100,
    program: int = 0,
) -> None:
    """Write a roll ``[time, 88]`` (0/1) as a one-instrument MIDI file (needs ``pretty_midi``).

    A key sounding over consecutive steps ``t0 … t1 - 1`` becomes one note from ``t0·Δ`` to
    ``t1·Δ`` seconds (``Δ = step_seconds``; 0.5 s is a quarter note at 120 bpm). ``program`` is
    the General MIDI instrument (0: acoustic grand piano).
    """
    on = _check_roll(roll)
    try:
        import pretty_midi
    except ImportError:
        raise ImportError("write_midi needs the optional package pretty_midi; install it with `pip install pretty-midi`") from None
    if not step_seconds > 0:
        raise DataError("step_seconds", f"expected > 0, got {step_seconds!r}", "pass e.g. step_seconds=0.5")
    padded = np.pad(on, ((1, 1), (0, 0))).astype(np.int8)  # [time + 2, 88]: silence before and after
    edges = np.diff(padded, axis=0)  # [time + 1, 88]: +1 where a note starts, -1 where it ends
    instrument = pretty_midi.Instrument(program=program)
    for key in range(NUM_KEYS):
        starts, ends = np.flatnonzero(edges[:, key] == 1), np.flatnonzero(edges[:, key] == -1)
        for t0, t1 in zip(starts, ends):
            instrument.notes.append(
                pretty_midi.Note(velocity=velocity, pitch=key + LOWEST_PITCH, start=t0 * step_seconds, end=t1 * step_seconds)
            )
    midi = pretty_midi.PrettyMIDI()
    midi.instruments.append(instrument)
    midi.write(str(path))


def read_json(path: Union[str, os.PathLike]) -> Any:
    """Parse a JSON file; DataError naming the path when missing, unreadable or malformed."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError("path", f"{path}: no such file", "check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError("path", f"{path}: not valid JSON ({e})", "pass a JSON file {split: [piece: [step: [pitch]]]}") from None
    except OSError as e:
        raise DataError("path", f"{path}: cannot be read ({e.strerror or e})", "check the file exists and is readable") from None


class PianoRollDataset(SequenceDataset):
    """Piano rolls ``[time_i, 88]`` float 0/1 (``obs_shape (88,)``, ``obs_kind 'bernoulli'``).

    ``PianoRollDataset(pieces)`` takes a list of pieces (each a list of steps of MIDI pitches);
    :meth:`from_json` reads one split of a JSON file.
    """

    def __init__(self, pieces: Seq[Seq[Seq[int]]], *, name: str = "piano rolls", source: Optional[str] = None):
        if not isinstance(pieces, (list, tuple)):
            raise DataError("pieces", f"expected a list of pieces, got {type(pieces).__name__}", "pass [piece: [step: [pitch]]]")
        rolls = [pitches_to_pianoroll(steps, piece=i) for i, steps in enumerate(pieces)]
        super().__init__(rolls, obs_kind="bernoulli", name=name, source=source)

    @classmethod
    def from_json(cls, path: Union[str, os.PathLike], *, split: str = "train") -> "PianoRollDataset":
        """One split (``'train'``, ``'valid'``, ``'test'``, … as the file has them, or ``'all'`` for every
        split in file order) of a JSON file ``{split: [piece: [step: [pitch]]]}``."""
        data = read_json(path)
        if not isinstance(data, dict) or not data:
            raise DataError("path", f"{path}: expected a JSON object {{split: [pieces]}}, got {type(data).__name__}", "store the splits as a JSON object")
        if split == "all":
            pieces = [p for part in data.values() if isinstance(part, list) for p in part]
        elif split in data:
            pieces = data[split]
        else:
            raise DataError("split", f"{path} has no split {split!r}; available: {', '.join(map(repr, data))} (or 'all')", "pass one of the available splits")
        if not pieces:
            raise DataError("split", f"{path}: split {split!r} holds no pieces", "pick a non-empty split")
        return cls(pieces, name=f"piano rolls ({split})", source=str(path))
