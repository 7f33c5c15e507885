"""NpzDataset and CsvDataset: layouts, lengths, grouping by sequence id, and the errors on bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqgen import DataError
from seqgen.data import CsvDataset, NpzDataset, collate


def test_npz_padded_with_lengths_inputs_targets_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 2))
    np.savez(
        tmp_path / "d.npz", x=x, lengths=np.array([5, 2, 4]), u=rng.standard_normal((3, 5, 1)),
        z=rng.standard_normal((3, 5, 3)), y=np.array([0, 2, 1]),
    )
    ds = NpzDataset.from_file(tmp_path / "d.npz", key="x", inputs_key="u", targets_key="z", labels_key="y")
    assert len(ds) == 3 and ds.lengths.tolist() == [5, 2, 4] and ds.obs_shape == (2,) and ds.obs_kind == "normal"
    assert ds[1].x.dtype == torch.float32 and torch.allclose(ds[1].x, torch.from_numpy(x[1, :2]).float())
    assert ds[2].inputs.shape == (4, 1) and ds[2].targets.shape == (4, 3) and ds[2].label == 1
    batch = collate([ds[i] for i in range(3)])
    assert batch.mask.sum(1).tolist() == [5, 2, 4] and batch.inputs.shape == (3, 5, 1)
    only = NpzDataset.from_file(tmp_path / "d.npz", key="x")  # other arrays ignored when not named
    assert only.input_dim == 0


def test_npz_list_of_arrays_and_tokens(tmp_path):
    np.savez(tmp_path / "l.npz", np.ones((4, 2)), np.zeros((7, 2)), np.ones((1, 2)))  # arr_0, arr_1, arr_2
    ds = NpzDataset.from_file(tmp_path / "l.npz")
    assert ds.lengths.tolist() == [4, 7, 1] and ds.obs_kind == "bernoulli"  # only 0/1 values
    np.savez(tmp_path / "s.npz", a=np.arange(3.0), b=np.arange(5.0))  # 1-D arrays: dim 1
    assert NpzDataset.from_file(tmp_path / "s.npz").obs_shape == (1,)
    np.savez(tmp_path / "t.npz", tokens=np.array([[[1], [2]], [[0], [3]]]))
    tokens = NpzDataset.from_file(tmp_path / "t.npz", obs_kind="categorical")
    assert tokens.dtype == torch.long and tokens.num_classes == 4


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 3, 1)), b=np.zeros((2, 3, 1)))
    with pytest.raises(DataError, match=r"expected one sequence \[time, dim\]"):
        NpzDataset.from_file(tmp_path / "two.npz")
    with pytest.raises(DataError, match=r"has no array 'c'; it holds 'a', 'b'"):
        NpzDataset.from_file(tmp_path / "two.npz", key="c")
    np.savez(tmp_path / "flat.npz", x=np.zeros((4, 3)))
    with pytest.raises(DataError, match=r"save one sequence \[time, dim\] as x\[None\]"):
        NpzDataset.from_file(tmp_path / "flat.npz")
    np.savez(tmp_path / "nan.npz", x=np.array([[[0.0], [1.0]], [[np.nan], [0.0]]]))
    with pytest.raises(DataError, match=r"sequences\[1\]: contains NaN or inf \(first at index \(0, 0\)\)"):
        NpzDataset.from_file(tmp_path / "nan.npz")
    np.savez(tmp_path / "len.npz", x=np.zeros((2, 3, 1)), lengths=np.array([3, 0]))
    with pytest.raises(DataError, match="lengths"):
        NpzDataset.from_file(tmp_path / "len.npz")
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 3, 1)))
    with pytest.raises(DataError, match="empty"):
        NpzDataset.from_file(tmp_path / "empty.npz")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="obj.npy: not a readable .npz/.npy file"):
        NpzDataset.from_file(tmp_path / "obj.npy")  # never unpickled
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(DataError, match="junk.npz: not a readable"):
        NpzDataset.from_file(tmp_path / "junk.npz")
    with pytest.raises(DataError, match="no such file"):
        NpzDataset.from_file(tmp_path / "missing.npz")


def test_csv_one_sequence_grouped_and_directory(tmp_path):
    (tmp_path / "one.csv").write_text("a,b\n1,2\n3,4\n\n5,6\n")  # a blank line is skipped
    one = CsvDataset.from_file(tmp_path / "one.csv")
    assert len(one) == 1 and one[0].x.tolist() == [[1, 2], [3, 4], [5, 6]]
    (tmp_path / "g.csv").write_text("sequence_id,t,v,u\nb,0,1.5,0\na,0,2.5,1\nb,1,3.5,0\n")
    grouped = CsvDataset.from_file(tmp_path / "g.csv", columns=["v"], input_columns=["u"])
    assert grouped.sequence_ids == ["b", "a"] and grouped.lengths.tolist() == [2, 1]
    assert grouped[0].x.tolist() == [[1.5], [3.5]] and grouped[1].inputs.tolist() == [[1.0]]
    default = CsvDataset.from_file(tmp_path / "g.csv")  # every column but the id
    assert default.obs_shape == (3,)
    sub = grouped.select([1])
    assert sub.sequence_ids == ["a"] and sub[0].x.tolist() == [[2.5]]
    (tmp_path / "dir").mkdir()
    for name, rows in (("s2.csv", "x\n1\n2\n"), ("s1.csv", "x\n3\n")):
        (tmp_path / "dir" / name).write_text(rows)
    folder = CsvDataset.from_file(tmp_path / "dir")
    assert folder.sequence_ids == ["s1.csv:0", "s2.csv:0"] and folder.lengths.tolist() == [1, 2]


def test_csv_errors_name_file_line_and_column(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,oops\n")
    with pytest.raises(DataError, match=r"bad.csv, line 3, column 'b': 'oops' is not a number"):
        CsvDataset.from_file(tmp_path / "bad.csv")
    (tmp_path / "nan.csv").write_text("a\n1\nnan\n")
    with pytest.raises(DataError, match=r"nan.csv, line 3, column 'a': value 'nan' is NaN or inf"):
        CsvDataset.from_file(tmp_path / "nan.csv")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataError, match="line 3: 1 fields, the header has 2"):
        CsvDataset.from_file(tmp_path / "ragged.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="no data rows"):
        CsvDataset.from_file(tmp_path / "header.csv")
    with pytest.raises(DataError, match=r"has no column 'c'; it has 'a', 'b'"):
        CsvDataset.from_file(tmp_path / "bad.csv", columns=["c"])
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match=r"holds no \*.csv file"):
        CsvDataset.from_file(tmp_path / "empty_dir")
