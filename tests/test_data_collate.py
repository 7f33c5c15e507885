"""collate and SequenceDataset: padding, masks, lengths, optional fields, validation, DataLoader use."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqgen import DataError, SeqBatch
from seqgen.data import Sequence, SequenceDataset, collate


@settings(max_examples=20, deadline=None)
@given(lengths=st.lists(st.integers(1, 9), min_size=1, max_size=6), obs=st.sampled_from([(), (2,), (2, 3)]))
def test_mask_and_lengths_for_any_lengths(lengths, obs):
    items = [torch.full((n, *obs), float(i + 1)) for i, n in enumerate(lengths)]  # item i holds i+1
    batch = collate(items)
    T = max(lengths)
    assert batch.x.shape == (len(lengths), T, *obs)
    assert batch.lengths.tolist() == lengths
    assert batch.mask.dtype == torch.bool
    for b, n in enumerate(lengths):
        assert batch.mask[b].tolist() == [t < n for t in range(T)]
        assert bool((batch.x[b, :n] == b + 1).all()) and bool((batch.x[b, n:] == 0).all())  # right-padded zeros
    assert int(batch.num_observed) == sum(lengths)


def test_optional_fields_are_padded_and_stacked():
    items = [
        Sequence(x=torch.ones(3, 2), inputs=torch.ones(3, 4), label=1, targets=torch.ones(3, 3)),
        Sequence(x=torch.ones(5, 2), inputs=torch.ones(5, 4), label=torch.tensor(7), targets=torch.ones(5, 3)),
    ]
    batch = collate(items)
    assert isinstance(batch, SeqBatch)
    assert batch.inputs.shape == (2, 5, 4) and batch.targets.shape == (2, 5, 3)
    assert batch.labels.tolist() == [1, 7] and batch.labels.dtype == torch.long
    assert float(batch.inputs[0, 3:].abs().sum()) == 0.0 and float(batch.targets[0, 3:].abs().sum()) == 0.0


def test_long_tokens_keep_dtype():
    batch = collate([torch.tensor([1, 2, 3]), torch.tensor([4])])
    assert batch.x.dtype == torch.long and batch.x.tolist() == [[1, 2, 3], [4, 0, 0]]


def test_errors_name_the_problem():
    with pytest.raises(DataError, match="empty"):
        collate([])
    with pytest.raises(DataError, match=r"items\[1\].x.*\(3,\).*items\[0\].x.*\(2,\)"):
        collate([torch.zeros(2, 2), torch.zeros(2, 3)])
    with pytest.raises(DataError, match=r"items\[1\].x: contains NaN or inf \(first at index \(1, 0\)\)"):
        collate([torch.zeros(2, 2), torch.tensor([[0.0, 0.0], [float("inf"), 0.0]])])
    with pytest.raises(DataError, match=r"items\[0\].x: is a zero-length sequence"):
        collate([torch.zeros(0, 2), torch.zeros(2, 2)])
    with pytest.raises(DataError, match="dtype"):
        collate([torch.zeros(2), torch.zeros(2, dtype=torch.long)])
    with pytest.raises(DataError, match=r"items\[1\] lacks inputs but items\[0\] has inputs"):
        collate([Sequence(x=torch.zeros(2), inputs=torch.zeros(2, 1)), Sequence(x=torch.zeros(2))])
    with pytest.raises(DataError, match=r"items\[0\].inputs: expected 2 steps"):
        collate([Sequence(x=torch.zeros(2), inputs=torch.zeros(3, 1))])
    with pytest.raises(DataError, match=r"items\[0\].label"):
        collate([Sequence(x=torch.zeros(2), label=1.5)])
    with pytest.raises(DataError, match=r"items\[0\]: expected a seqgen.data.Sequence"):
        collate([[1.0, 2.0]])


def test_dataset_from_padded_tensor_with_lengths():
    x = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)  # [num, time, dim]
    ds = SequenceDataset(x, lengths=[2, 4], targets=torch.zeros(2, 4, 1), labels=[0, 1])
    assert len(ds) == 2 and ds.obs_shape == (3,) and ds.lengths.tolist() == [2, 4]
    assert ds[0].x.shape == (2, 3) and ds[0].targets.shape == (2, 1) and ds[1].label == 1
    assert ds.obs_kind == "normal" and ds.num_classes is None


def test_dataset_infers_and_checks_obs_kind():
    assert SequenceDataset([torch.tensor([0.0, 1.0])]).obs_kind == "bernoulli"
    tokens = SequenceDataset([torch.tensor([0, 4, 2])])
    assert (tokens.obs_kind, tokens.num_classes, tokens.obs_shape) == ("categorical", 5, torch.Size([]))
    assert SequenceDataset([torch.tensor([0.2, 0.7])], obs_kind="beta").obs_kind == "beta"
    with pytest.raises(DataError, match=r"'beta' needs values in the open interval \(0, 1\), found 1.0"):
        SequenceDataset([torch.tensor([0.2, 1.0])], obs_kind="beta")
    with pytest.raises(DataError, match="non-negative integer counts"):
        SequenceDataset([torch.tensor([1.0, 2.5])], obs_kind="poisson")
    with pytest.raises(DataError, match=r"tokens must lie in \[0, 3\)"):
        SequenceDataset([torch.tensor([0, 3])], num_classes=3)
    with pytest.raises(DataError, match="does not fit dtype"):
        SequenceDataset([torch.tensor([0.0, 1.0])], obs_kind="categorical")
    with pytest.raises(DataError, match="expected one of"):
        SequenceDataset([torch.tensor([0.0])], obs_kind="gaussian")


def test_dataset_validation():
    with pytest.raises(DataError, match="empty"):
        SequenceDataset([])
    with pytest.raises(DataError, match=r"sequences\[1\]: contains NaN"):
        SequenceDataset(torch.tensor([[[0.0]], [[float("nan")]]]))  # padded form: one check names the item
    with pytest.raises(DataError, match=r"sequences\[1\]: has obs_shape"):
        SequenceDataset([torch.zeros(2, 2), torch.zeros(2, 3)])
    with pytest.raises(DataError, match=r"labels: expected 2 labels"):
        SequenceDataset([torch.zeros(2), torch.zeros(3)], labels=[1])
    with pytest.raises(DataError, match=r"targets\[1\]: expected 3 steps"):
        SequenceDataset([torch.zeros(2), torch.zeros(3)], targets=[torch.zeros(2, 1), torch.zeros(2, 1)])
    with pytest.raises(DataError, match=r"lengths: must lie in \[1, 4\]"):
        SequenceDataset(torch.zeros(2, 4, 1), lengths=[0, 4])


def test_select_describe_and_dataloader():
    ds = SequenceDataset([torch.ones(n, 2) for n in (1, 2, 3, 4)], labels=[0, 1, 0, 1], name="toy")
    sub = ds.select([3, 1])
    assert type(sub) is SequenceDataset and sub.lengths.tolist() == [4, 2] and sub.labels.tolist() == [1, 1]
    assert len(ds) == 4  # select does not touch the original
    text = ds.describe()
    assert "toy: 4 sequences, 10 steps (length 1-4, mean 2.5)" in text and "obs_shape (2,)" in text and "labels [0, 1]" in text
    loader = torch.utils.data.DataLoader(ds, batch_size=3, collate_fn=collate)
    batches = list(loader)
    assert [b.batch_size for b in batches] == [3, 1] and batches[0].lengths.tolist() == [1, 2, 3]
    with pytest.raises(DataError, match="selects no sequence"):
        ds.select([])
