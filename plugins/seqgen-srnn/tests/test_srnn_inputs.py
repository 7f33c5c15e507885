"""Bad input to the SRNN gets a seqgen error naming the argument, what was expected and a fix;
ragged batches, unknown characters and out-of-range pitches are handled as the issue asks."""

import pytest
import torch

import seqgen
from seqgen.data import CharTextDataset, PianoRollDataset, Vocabulary, collate, pitches_to_pianoroll
from seqgen_srnn import SPEC

TINY = dict(obs_dim=5, z_dim=3, d_dim=6, a_dim=6, mlp_hidden=7, decoder_hidden=(5,))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SPEC.build(**TINY)


def test_wrong_shape(model):
    with pytest.raises(seqgen.ShapeError, match=r"x: expected \[batch, time, 5\], got \(2, 4, 4\)"):
        model.elbo(torch.zeros(2, 4, 4))
    with pytest.raises(seqgen.ShapeError, match="mask"):
        model.elbo(torch.zeros(2, 4, 5), mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(seqgen.ShapeError, match="context"):
        model.elbo(torch.zeros(2, 4, 5), context=torch.zeros(2, 4, 1))
    with pytest.raises(seqgen.ShapeError, match="z"):
        model.prior_log_prob(torch.zeros(2, 4, 5), torch.zeros(2, 4, 2))


def test_wrong_values_and_dtypes(model):
    with pytest.raises(seqgen.DataError, match="bits"):
        model.elbo(torch.full((2, 4, 5), 0.5))
    bad = torch.zeros(2, 4, 5)
    bad[1, 2, 3] = float("nan")
    with pytest.raises(seqgen.DataError, match=r"NaN or inf \(first at index \(1, 2, 3\)\)"):
        model.iwae(bad, 2)
    with pytest.raises(seqgen.DataError, match="no observed step"):
        model.elbo(torch.zeros(2, 4, 5), mask=torch.tensor([[True] * 4, [False] * 4]))
    with pytest.raises(seqgen.ConfigError, match="num_particles"):
        model.iwae(torch.zeros(2, 4, 5), 0)
    normal = SPEC.build(**{**TINY, "obs": "normal"})
    with pytest.raises(seqgen.DataError, match="floating-point"):
        normal.elbo(torch.zeros(2, 4, 5, dtype=torch.long))


def test_tokens_outside_the_vocabulary():
    torch.manual_seed(0)
    text = SPEC.build(**{**TINY, "obs": "categorical", "obs_dim": 4})
    with pytest.raises(seqgen.DataError, match=r"vocabulary \[0, 4\)"):
        text.elbo(torch.tensor([[0, 1, 4]]))
    with pytest.raises(seqgen.DataError, match="integer"):
        text.elbo(torch.tensor([[0.0, 1.5, 2.0]]))


def test_ragged_batch_matches_each_sequence_alone(model):
    """Padding never reaches the deterministic layer, the backward inference GRU or the prior:
    ``d``, ``a`` and ``log p(z_t | …)`` of a sequence are the same alone and padded in a batch."""
    torch.manual_seed(2)
    seqs = [(torch.rand(n, 5) < 0.4).float() for n in (3, 7, 5)]
    batch = collate(seqs)  # x: [3, 7, 5], mask/lengths from the lengths
    together = model.infer(batch.x, mask=batch.mask)
    z = torch.randn(3, 7, 3)
    lp_together = model.prior_log_prob(batch.x, z, mask=batch.mask)
    for i, s in enumerate(seqs):
        n = s.shape[0]
        alone = model.infer(s[None])
        torch.testing.assert_close(together["d"][i, :n], alone["d"][0], rtol=1e-5, atol=1e-6)  # float32
        torch.testing.assert_close(together["a"][i, :n], alone["a"][0], rtol=1e-5, atol=1e-6)
        lp_alone = model.prior_log_prob(s[None], z[i : i + 1, :n])
        torch.testing.assert_close(lp_together[i, :n], lp_alone[0], rtol=1e-5, atol=1e-5)


def test_unknown_characters_map_to_unk_and_are_counted():
    vocab = Vocabulary.from_text("to be or not to be")
    data = CharTextDataset("to be, or not? ZZ", seq_len=4, vocab=vocab)
    assert data.num_unknown == 4  # ',', '?', 'Z', 'Z'
    torch.manual_seed(0)
    model = SPEC.build(**{**TINY, "obs": "categorical", "obs_dim": data.num_classes})
    batch = collate([data[i] for i in range(len(data))])
    assert bool((batch.x == vocab.unk_id).any())
    assert torch.isfinite(model.elbo(batch.x, mask=batch.mask)).all()


def test_pitches_outside_the_piano_are_refused():
    with pytest.raises(seqgen.DataError, match="outside the piano's range 21-108"):
        pitches_to_pianoroll([[60, 64], [110]], piece=3)
    with pytest.raises(seqgen.DataError, match="chorale 1"):
        PianoRollDataset([[[60]], [[60], [20]]])
