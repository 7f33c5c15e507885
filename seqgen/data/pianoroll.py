"""Polyphonic music as piano rolls (Boulanger-Lewandowski, Bengio & Vincent, ICML 2012).

A piece is a list of steps, each the set of MIDI pitches sounding at that step. Its piano roll
is ``x: [time, 88]`` float with ``x[t, k] = 1`` iff pitch ``k + 21`` sounds at step ``t``
(the 88 keys of a piano, A0 = 21 … C8 = 108); empty steps (rests) are all-zero rows. The
datasets (JSB chorales, Nottingham, MuseData, Piano-midi.de) are stored as JSON
``{split: [piece: [step: [pitch, …]]]}``; models fit a Bernoulli decoder over the 88 keys
and report nats per step (DESIGN "Units").

Transposition (data augmentation, standard for polyphonic music since the key of a piece says
little about its voice leading): ``transpose_roll(roll, k)`` moves every note ``k`` semitones,
``roll'[t, i + k] = roll[t, i]``, and refuses a shift that would push a sounding note off the
keyboard. :class:`RandomTranspose` wraps a dataset of rolls and shifts each item it returns by a
fresh draw from the shifts that keep that piece on the keyboard.
"""

from __future__ import annotations

import json
import os
from typing import Any, List, Optional, Sequence as Seq, Union

import attrs
import numpy as np
import torch

from ..errors import DataError, format_shape
from .collate import Sequence, SequenceDataset

__all__ = [
    "NUM_KEYS", "LOWEST_PITCH", "PianoRollDataset", "RandomTranspose", "pitches_to_pianoroll", "pianoroll_to_pitches",
    "transpose_roll", "transpose_range", "write_midi",
]

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


def _check_keys(roll: Any, argument: str) -> torch.Tensor:
    if not isinstance(roll, torch.Tensor) or roll.dim() < 1 or roll.shape[-1] != NUM_KEYS:
        got = format_shape(roll.shape) if isinstance(roll, torch.Tensor) else type(roll).__name__
        raise DataError(argument, f"expected a tensor [..., {NUM_KEYS}] (one column per key), got {got}", "pass a piano roll [time, 88]")
    return roll


def transpose_range(roll: torch.Tensor) -> tuple:
    """``(lo, hi)``: the shifts ``k`` with ``lo <= k <= hi`` keep every sounding note of ``roll``
    (``[..., 88]``, nonzero = sounding) on the keyboard; ``(-87, 87)`` for a silent roll."""
    keys = _check_keys(roll, "roll").reshape(-1, NUM_KEYS).ne(0).any(0).nonzero()  # [n, 1] sounding keys
    if keys.numel() == 0:
        return -(NUM_KEYS - 1), NUM_KEYS - 1
    return -int(keys.min()), NUM_KEYS - 1 - int(keys.max())


def transpose_roll(roll: torch.Tensor, shift: int) -> torch.Tensor:
    """``roll: [..., 88]`` moved ``shift`` semitones (up if positive): ``out[..., i + shift] = roll[..., i]``.

    Raises DataError if a sounding note would leave the keyboard (21–108), naming the lowest or
    highest pitch and the shifts that are allowed. ``shift = 0`` returns a copy.
    """
    _check_keys(roll, "roll")
    if isinstance(shift, bool) or not isinstance(shift, int):
        raise DataError("shift", f"expected an integer number of semitones, got {shift!r}", "pass e.g. shift=-2")
    lo, hi = transpose_range(roll)
    if not lo <= shift <= hi:
        low, high = LOWEST_PITCH - lo, HIGHEST_PITCH - hi  # the roll's lowest and highest sounding pitches
        moved = f"its lowest pitch {low} to {low + shift}" if shift < lo else f"its highest pitch {high} to {high + shift}"
        raise DataError(
            "shift",
            f"shift {shift} moves {moved}, off the keyboard {LOWEST_PITCH}-{HIGHEST_PITCH}",
            f"use a shift in [{lo}, {hi}] for this roll",
        )
    return _move(roll, shift)


def _move(roll: torch.Tensor, shift: int) -> torch.Tensor:
    """``out[..., i + shift] = roll[..., i]`` for a shift already known to keep every note on the keyboard."""
    out = torch.zeros_like(roll)
    if shift >= 0:
        out[..., shift:] = roll[..., : NUM_KEYS - shift]
    else:
        out[..., :shift] = roll[..., -shift:]
    return out


class RandomTranspose(torch.utils.data.Dataset):
    """A training view of ``dataset`` whose item ``i`` is piece ``i`` transposed by a random shift.

    ``RandomTranspose(dataset, low=-6, high=5)``: each ``dataset[i]`` (a tensor ``[time, 88]`` or a
    :class:`~seqgen.data.collate.Sequence` whose ``x`` is one) is moved by ``k`` semitones, ``k``
    uniform over the integers of ``[low, high]`` that keep every note of that piece on the keyboard
    (0 always qualifies), drawn afresh on every access from torch's global generator — so a seeded
    run repeats, and DataLoader workers (each seeded apart by torch) draw apart. ``len``,
    ``obs_shape`` and ``obs_kind`` are the wrapped dataset's. Evaluate on the unwrapped dataset.
    """

    def __init__(self, dataset, *, low: int = -6, high: int = 5):
        for name, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise DataError(name, f"expected an integer number of semitones, got {v!r}", f"pass e.g. {name}={-6 if name == 'low' else 5}")
        if not low <= 0 <= high:
            raise DataError("low", f"expected low <= 0 <= high, got low={low}, high={high}", "pass a range holding 0, e.g. low=-6, high=5")
        self.dataset, self.low, self.high = dataset, low, high
        self.obs_shape = getattr(dataset, "obs_shape", torch.Size([NUM_KEYS]))
        self.obs_kind = getattr(dataset, "obs_kind", "bernoulli")

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        item = self.dataset[i]
        roll = item.x if isinstance(item, Sequence) else item
        lo, hi = transpose_range(roll)
        lo, hi = max(lo, self.low), min(hi, self.high)
        moved = _move(roll, int(torch.randint(lo, hi + 1, ())))  # the range already keeps it on the keyboard
        return attrs.evolve(item, x=moved) if isinstance(item, Sequence) else moved


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
