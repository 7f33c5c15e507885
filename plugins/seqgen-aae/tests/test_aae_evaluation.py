"""The discriminative score (a GRU classifier of real vs generated sequences) and the data helpers."""

import pytest
import torch

import seqgen
from seqgen import DataError, ShapeError
from seqgen_aae import discriminative_score, windows


def test_score_tells_different_sets_apart_and_not_equal_ones():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(100, 4, 2, generator=g)
    same = torch.randn(100, 4, 2, generator=g)
    shifted = torch.randn(100, 4, 2, generator=g) + 1.5
    far = discriminative_score(real, shifted, epochs=15)
    near = discriminative_score(real, same, epochs=15)
    # shifted by 1.5 std in every one of 8 values: the mean alone separates the sets (~99.99 %)
    assert far["accuracy"] > 0.9 and far["score"] > 0.4
    # same distribution: 100 held-out sequences, chance accuracy has std 0.05; allow 4 of them
    assert abs(near["accuracy"] - 0.5) < 0.2


def test_score_leaves_the_callers_rng_alone_and_checks_shapes():
    a, b = torch.randn(8, 3, 1), torch.randn(8, 3, 1)
    before = torch.random.get_rng_state()
    discriminative_score(a, b, epochs=1)
    assert torch.equal(before, torch.random.get_rng_state())
    with pytest.raises(ShapeError, match="like real"):
        discriminative_score(torch.randn(8, 3, 1), torch.randn(8, 4, 1))
    with pytest.raises(DataError, match="at least 4"):
        discriminative_score(torch.randn(2, 3, 1), torch.randn(8, 3, 1))


def test_windows_cut_fixed_length_pieces():
    ds = seqgen.SequenceDataset([torch.zeros(7, 2), torch.ones(3, 2), torch.full((4, 2), 2.0)])
    w = windows(ds, 3)
    assert len(w) == 2 + 1 + 1 and w.obs_shape == (2,) and set(w.lengths.tolist()) == {3}
    assert len(windows(ds, 3, limit=2)) == 2
    with pytest.raises(DataError, match="longest has 7"):
        windows(ds, 8)
