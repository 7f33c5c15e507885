"""load_data: every scheme, split handling, shared vocabularies, and the errors for bad specs and files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seqgen import DataError, load_data
from seqgen.data import CharTextDataset, CsvDataset, LorenzDataset, MNISTDataset, NpzDataset, PianoRollDataset

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def test_lorenz_specs_and_splits():
    train = load_data("lorenz", num=3, length=12)
    assert isinstance(train, LorenzDataset) and train.obs == "linear" and len(train) == 3 and train[0].x.shape == (12, 10)
    spikes = load_data("lorenz:spiking", num=2, length=8, obs_dim=5)
    assert spikes.obs_kind == "poisson" and spikes.obs_shape == (5,)
    valid = load_data("lorenz", split="valid", num=3, length=12)
    assert valid.seed == 1000 and not torch.equal(valid[0].targets, train[0].targets)
    assert torch.equal(valid.params["loading"], train.params["loading"])  # one readout for both splits
    with pytest.raises(DataError, match="unknown Lorenz readout 'poisson'"):
        load_data("lorenz:poisson")
    with pytest.raises(DataError, match=r"unknown option 'nmu'.*did you mean 'num'"):
        load_data("lorenz", nmu=3)
    with pytest.raises(DataError, match="split"):
        load_data("lorenz", split="all")


def test_unknown_scheme_lists_the_valid_ones():
    with pytest.raises(DataError, match=r"unknown data scheme 'midi'.*lorenz.*text:PATH.*pianoroll:PATH.*mnist:DIR.*npz:PATH.*csv:PATH"):
        load_data("midi:song.mid")
    with pytest.raises(DataError, match="did you mean 'text'"):
        load_data("txt:a.txt")
    with pytest.raises(DataError, match="names no path"):
        load_data("text:")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(DataError, match=r"nothere.txt: no such file or directory"):
        load_data(f"text:{tmp_path / 'nothere.txt'}")
    (tmp_path / "m.json").write_text("[1, 2")
    with pytest.raises(DataError, match=r"m.json: not valid JSON"):
        load_data(f"pianoroll:{tmp_path / 'm.json'}")
    (tmp_path / "m.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"m.npz: not a readable"):
        load_data(f"npz:{tmp_path / 'm.npz'}")
    with pytest.raises(DataError, match="not a directory"):
        load_data(f"mnist:{tmp_path / 'm.npz'}")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="no data rows"):
        load_data(f"csv:{tmp_path / 'empty.csv'}")
    (tmp_path / "empty.json").write_text(json.dumps({"train": []}))
    with pytest.raises(DataError, match="holds no pieces"):
        load_data(f"pianoroll:{tmp_path / 'empty.json'}")
    with pytest.raises(DataError, match=r"unknown option 'seqlen'.*did you mean 'seq_len'"):
        load_data(f"text:{tmp_path / 'empty.csv'}", seqlen=3)


def test_text_valid_split_shares_the_train_vocabulary(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcd" * 45 + "zzzzzzzzzzzzzzzzzzzz", encoding="utf-8")  # 200 chars; 'z' only in the last 10 %
    train = load_data(f"text:{path}", seq_len=10)
    valid = load_data(f"text:{path}", split="valid", seq_len=10, vocab=train.vocab)
    assert isinstance(valid, CharTextDataset) and valid.vocab == train.vocab
    assert (len(train), len(valid), valid.num_unknown) == (18, 2, 20)


def test_npz_and_csv_split_by_position(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.arange(10 * 3 * 1, dtype=np.float64).reshape(10, 3, 1))
    whole = load_data(f"npz:{tmp_path / 'd.npz'}")
    assert isinstance(whole, NpzDataset) and len(whole) == 10  # valid_fraction defaults to 0: all of it trains
    train = load_data(f"npz:{tmp_path / 'd.npz'}", valid_fraction=0.2)
    valid = load_data(f"npz:{tmp_path / 'd.npz'}", split="valid", valid_fraction=0.2)
    assert (len(train), len(valid)) == (8, 2) and float(valid[0].x[0, 0]) == 8 * 3
    with pytest.raises(DataError, match=r"the 'valid' part is empty.*pass valid_fraction > 0"):
        load_data(f"npz:{tmp_path / 'd.npz'}", split="valid")
    (tmp_path / "c.csv").write_text("sequence_id,v\n" + "".join(f"{i},{i}\n" for i in range(4)))
    csv_valid = load_data(f"csv:{tmp_path / 'c.csv'}", split="valid", valid_fraction=0.25)
    assert isinstance(csv_valid, CsvDataset) and csv_valid.sequence_ids == ["3"]


@pytest.mark.skipif(not (DATA / "jsb_chorales_quarter_trainvalid.json").exists(), reason=f"shared data absent: {DATA}")
def test_real_files_through_specs():
    jsb = load_data(f"pianoroll:{DATA / 'jsb_chorales_quarter_trainvalid.json'}", split="valid")
    assert isinstance(jsb, PianoRollDataset) and len(jsb) == 76
    with pytest.raises(DataError, match=r"no split 'test'; available: 'train', 'valid'"):
        load_data(f"pianoroll:{DATA / 'jsb_chorales_quarter_trainvalid.json'}", split="test")
    digits = load_data(f"mnist:{DATA}", split="valid", digits=[0], as_sequence="rows")
    assert isinstance(digits, MNISTDataset) and set(digits.labels.tolist()) == {0} and digits.obs_shape == (28,)
    text = load_data(f"text:{DATA / 'tinyshakespeare.txt'}", seq_len=64, max_chars=20_000)
    assert text.num_chars == 18_000 and text.obs_kind == "categorical"
