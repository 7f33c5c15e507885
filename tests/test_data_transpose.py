"""Transposition of piano rolls (data augmentation): ``transpose_roll``, ``transpose_range``, ``RandomTranspose``."""

from pathlib import Path

import pytest
import torch

from seqgen import DataError
from seqgen.data import NUM_KEYS, PianoRollDataset, pianoroll_to_pitches, pitches_to_pianoroll
from seqgen.data.collate import Sequence
from seqgen.data.pianoroll import RandomTranspose, transpose_range, transpose_roll

JSB = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "jsb_chorales_quarter_trainvalid.json"
STEPS = [[60, 64, 67], [], [48, 72]]  # lowest 48, highest 72


def test_shift_moves_every_pitch_and_keeps_shape():
    roll = pitches_to_pianoroll(STEPS)
    for k in (-5, -1, 1, 7):
        out = transpose_roll(roll, k)
        assert out.shape == roll.shape and out.dtype == roll.dtype
        assert pianoroll_to_pitches(out) == [[p + k for p in step] for step in STEPS]


def test_shift_zero_is_a_copy():
    roll = pitches_to_pianoroll(STEPS)
    out = transpose_roll(roll, 0)
    assert torch.equal(out, roll) and out.data_ptr() != roll.data_ptr()


def test_batched_rolls_move_along_the_key_axis():
    rolls = torch.stack([pitches_to_pianoroll(STEPS), pitches_to_pianoroll([[50], [51], [52]])])  # [2, 3, 88]
    out = transpose_roll(rolls, 3)
    assert torch.equal(out[1], transpose_roll(rolls[1], 3)) and torch.equal(out[0], transpose_roll(rolls[0], 3))


def test_range_reaches_both_ends_of_the_keyboard():
    roll = pitches_to_pianoroll(STEPS)
    assert transpose_range(roll) == (21 - 48, 108 - 72)
    assert pianoroll_to_pitches(transpose_roll(roll, 21 - 48))[2] == [21, 45]
    assert pianoroll_to_pitches(transpose_roll(roll, 108 - 72))[2] == [84, 108]
    assert transpose_range(torch.zeros(4, NUM_KEYS)) == (-87, 87)  # silence moves anywhere


def test_shifts_off_the_keyboard_are_refused_with_the_allowed_range():
    roll = pitches_to_pianoroll(STEPS)
    with pytest.raises(DataError, match=r"shift: shift 37 moves its highest pitch 72 to 109, off the keyboard 21-108; use a shift in \[-27, 36\]"):
        transpose_roll(roll, 37)
    with pytest.raises(DataError, match=r"shift -28 moves its lowest pitch 48 to 20"):
        transpose_roll(roll, -28)
    with pytest.raises(DataError, match="expected an integer number of semitones"):
        transpose_roll(roll, 1.5)
    with pytest.raises(DataError, match=r"roll: expected a tensor \[\.\.\., 88\]"):
        transpose_roll(torch.zeros(3, 12), 1)


def test_random_transpose_draws_allowed_shifts_of_each_piece():
    # piece 0 may go down 6 but only up 2 (its top note is 106); piece 1 is a Sequence record
    data = PianoRollDataset([[[60, 106]], [[50], [55]]])
    view = RandomTranspose(data, low=-6, high=5)
    assert len(view) == 2 and view.obs_shape == data.obs_shape and view.obs_kind == "bernoulli"
    torch.manual_seed(0)
    seen = set()
    for _ in range(200):
        item = view[0]
        assert isinstance(item, Sequence) and item.x.shape == (1, NUM_KEYS)
        low, high = pianoroll_to_pitches(item.x)[0]
        assert high - low == 46  # the chord keeps its shape
        seen.add(low - 60)
    # 200 uniform draws over 9 shifts: each is seen except with probability < 9 * (8/9)**200 < 1e-9
    assert seen == set(range(-6, 3))
    torch.manual_seed(1)
    first = [pianoroll_to_pitches(view[1].x) for _ in range(5)]
    torch.manual_seed(1)
    assert first == [pianoroll_to_pitches(view[1].x) for _ in range(5)]  # seeded: repeatable


def test_random_transpose_checks_its_range_and_keeps_tensors():
    with pytest.raises(DataError, match=r"low: expected low <= 0 <= high, got low=1, high=5"):
        RandomTranspose([torch.zeros(2, NUM_KEYS)], low=1, high=5)
    with pytest.raises(DataError, match="high: expected an integer"):
        RandomTranspose([torch.zeros(2, NUM_KEYS)], low=-1, high=2.0)
    view = RandomTranspose([pitches_to_pianoroll([[60]])], low=0, high=0)
    assert torch.equal(view[0], pitches_to_pianoroll([[60]]))  # a bare tensor item stays a tensor


@pytest.mark.skipif(not JSB.exists(), reason="needs ../shared/data/jsb_chorales_quarter_trainvalid.json")
def test_jsb_chorales_stay_on_the_keyboard():
    data = PianoRollDataset.from_json(JSB, split="train")
    view = RandomTranspose(data, low=-6, high=5)
    torch.manual_seed(0)
    for i in range(len(data)):
        x = view[i].x
        assert x.shape == data[i].x.shape and float(x.sum()) == float(data[i].x.sum())  # no note lost
