"""Vocabulary and CharTextDataset: encoding, unknown characters, checkpoints, windows, splits, real text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seqgen import DataError
from seqgen.data import CharTextDataset, Vocabulary, collate

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SHAKESPEARE = DATA / "tinyshakespeare.txt"


def test_vocabulary_round_trip_and_unknowns():
    vocab = Vocabulary.from_text("hello world")
    assert vocab.chars == tuple(sorted(set("hello world"))) and len(vocab) == len(vocab.chars) + 1
    ids = vocab.encode("hold")
    assert ids.dtype == torch.long and vocab.decode(ids) == "hold"
    assert int(ids.min()) >= 1  # 0 is reserved for <unk>
    ids, unknown = vocab.encode("hi, zoë", return_unknown=True)
    assert unknown == 4  # 'i', ',', 'z', 'ë' are not in "hello world"
    assert vocab.decode(ids) == "h\ufffd\ufffd \ufffdo\ufffd" and vocab.decode(ids, unknown="?") == "h?? ?o?"
    assert vocab.tokens[0] == "<unk>"


def test_vocabulary_checkpoint_dict():
    vocab = Vocabulary.from_text("abcab\n")
    data = json.loads(json.dumps(vocab.to_dict()))  # survives JSON
    again = Vocabulary.from_dict(data)
    assert again == vocab and torch.equal(again.encode("cab\n"), vocab.encode("cab\n"))
    scrambled = Vocabulary(["c", "a", "b"])  # ids follow the given order, not code points
    assert scrambled.encode("abc").tolist() == [2, 3, 1]
    with pytest.raises(DataError, match="kind 'char'"):
        Vocabulary.from_dict({"chars": "abc"})
    with pytest.raises(DataError, match="appears twice"):
        Vocabulary(["a", "a"])
    with pytest.raises(DataError, match=r"must lie in \[0, 4\) \(found 5\)"):
        scrambled.decode([5])


def test_windows_and_stride():
    text = "abcdefghij"  # 10 characters
    ds = CharTextDataset(text, seq_len=4)
    assert len(ds) == 2 and ds.num_dropped == 2 and ds.obs_shape == () and ds.num_classes == 11
    assert ds.vocab.decode(ds[1].x) == "efgh"
    overlapping = CharTextDataset(text, seq_len=4, stride=3)
    assert [overlapping.vocab.decode(overlapping[i].x) for i in range(len(overlapping))] == ["abcd", "defg", "ghij"]
    batch = collate([ds[0], ds[1]])
    assert batch.x.shape == (2, 4) and batch.x.dtype == torch.long
    with pytest.raises(DataError, match="fewer than seq_len=20"):
        CharTextDataset(text, seq_len=20)
    with pytest.raises(DataError, match="'seq_len' must be an integer >= 1"):
        CharTextDataset(text, seq_len=0)


def test_from_file_splits_share_the_training_vocabulary(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("aaaabbbbcc" * 9 + "xyzxyzxyzx", encoding="utf-8")  # 100 chars; 'xyz' only at the end
    train = CharTextDataset.from_file(path, seq_len=5)
    valid = CharTextDataset.from_file(path, split="valid", seq_len=5)
    assert train.num_chars == 90 and valid.num_chars == 10
    assert valid.vocab == train.vocab and valid.num_unknown == 10  # every 'x', 'y', 'z' is unknown
    assert int(valid[0].x.max()) == 0
    explicit = CharTextDataset.from_file(path, split="valid", seq_len=5, vocab=train.vocab.to_dict())
    assert explicit.vocab == train.vocab
    assert CharTextDataset.from_file(path, split="all", seq_len=5).num_unknown == 0
    assert "unknown" in valid.describe()
    with pytest.raises(DataError, match="expected one of 'train', 'valid', 'all'"):
        CharTextDataset.from_file(path, split="test")
    with pytest.raises(DataError, match="no such file"):
        CharTextDataset.from_file(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_bytes(b"ok \xff\xfe bad")
    with pytest.raises(DataError, match="not UTF-8"):
        CharTextDataset.from_file(tmp_path / "bad.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="empty"):
        CharTextDataset.from_file(tmp_path / "empty.txt")


@pytest.mark.skipif(not SHAKESPEARE.exists(), reason=f"shared data absent: {SHAKESPEARE}")
def test_tiny_shakespeare_first_50k_characters():
    train = CharTextDataset.from_file(SHAKESPEARE, seq_len=100, max_chars=50_000)
    valid = CharTextDataset.from_file(SHAKESPEARE, split="valid", seq_len=100, vocab=train.vocab, max_chars=50_000)
    assert train.num_chars == 45_000 and valid.num_chars == 5_000
    assert len(train) == 450 and len(valid) == 50
    assert train.vocab.decode(train[0].x).startswith("First Citizen:")
    assert 40 <= len(train.vocab) <= 70 and valid.num_unknown < 50  # a character corpus, a few rare symbols
