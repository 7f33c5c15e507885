"""Piano rolls: pitch <-> key mapping, JSON splits, range errors, the real JSB chorales, MIDI output."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from seqgen import DataError
from seqgen.data import NUM_KEYS, PianoRollDataset, pianoroll_to_pitches, pitches_to_pianoroll, write_midi

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
JSB = DATA / "jsb_chorales_quarter_trainvalid.json"
HAS_PRETTY_MIDI = importlib.util.find_spec("pretty_midi") is not None


def test_pitches_round_trip():
    steps = [[60, 64, 67], [], [21, 108], [72]]
    roll = pitches_to_pianoroll(steps)
    assert roll.shape == (4, NUM_KEYS) and roll.dtype == torch.float32
    assert roll[0, 60 - 21] == 1 and roll[2, 0] == 1 and roll[2, 87] == 1 and float(roll[1].sum()) == 0
    assert float(roll.sum()) == 6
    assert pianoroll_to_pitches(roll) == steps


def test_pitch_out_of_range_names_chorale_step_and_pitch():
    with pytest.raises(DataError, match=r"chorale 1, step 2: pitch 109 is outside the piano's range 21-108"):
        PianoRollDataset([[[60]], [[60], [62], [64, 109]]])
    with pytest.raises(DataError, match=r"chorale 0, step 0: pitch 20"):
        pitches_to_pianoroll([[20]])
    with pytest.raises(DataError, match=r"chorale 0, step 1: expected integer MIDI pitches, got 60.5"):
        pitches_to_pianoroll([[60], [60.5]])
    with pytest.raises(DataError, match="non-empty list of steps"):
        PianoRollDataset([[]])
    with pytest.raises(DataError, match=r"roll: expected shape \[time, 88\]"):
        pianoroll_to_pitches(torch.zeros(3, 12))


def test_from_json_splits(tmp_path):
    path = tmp_path / "music.json"
    path.write_text(json.dumps({"train": [[[60], [62]], [[64]]], "test": [[[65, 69]]]}))
    train = PianoRollDataset.from_json(path)
    assert len(train) == 2 and train.obs_shape == (88,) and train.obs_kind == "bernoulli"
    assert train.lengths.tolist() == [2, 1]
    assert len(PianoRollDataset.from_json(path, split="all")) == 3
    with pytest.raises(DataError, match=r"has no split 'valid'; available: 'train', 'test'"):
        PianoRollDataset.from_json(path, split="valid")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="bad.json: not valid JSON"):
        PianoRollDataset.from_json(tmp_path / "bad.json")
    with pytest.raises(DataError, match="no such file"):
        PianoRollDataset.from_json(tmp_path / "missing.json")


@pytest.mark.skipif(not JSB.exists(), reason=f"shared data absent: {JSB}")
def test_real_jsb_chorales():
    train = PianoRollDataset.from_json(JSB, split="train")
    valid = PianoRollDataset.from_json(JSB, split="valid")
    assert (len(train), len(valid)) == (229, 76)
    keys = torch.cat([train[i].x for i in range(len(train))] + [valid[i].x for i in range(len(valid))]).nonzero()[:, 1]
    assert int(keys.min()) + 21 == 43 and int(keys.max()) + 21 == 96  # the README's pitch range
    raw = json.loads(JSB.read_text())
    assert pianoroll_to_pitches(train[0].x) == [sorted(step) for step in raw["train"][0]]


@pytest.mark.skipif(HAS_PRETTY_MIDI, reason="pretty_midi is installed; the missing-package message cannot be shown")
def test_write_midi_without_pretty_midi_says_how_to_install(tmp_path):
    with pytest.raises(ImportError, match="pip install pretty-midi"):
        write_midi(pitches_to_pianoroll([[60], [60], [64]]), tmp_path / "x.mid")


@pytest.mark.skipif(not HAS_PRETTY_MIDI, reason="pretty_midi not installed (optional)")
def test_write_midi_merges_held_notes(tmp_path):
    import pretty_midi

    write_midi(pitches_to_pianoroll([[60], [60, 64], [64]]), tmp_path / "x.mid", step_seconds=0.5)
    notes = sorted((n.pitch, n.start, n.end) for n in pretty_midi.PrettyMIDI(str(tmp_path / "x.mid")).instruments[0].notes)
    assert notes == [(60, 0.0, 1.0), (64, 0.5, 1.5)]
