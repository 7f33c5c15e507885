"""``SRNNConfig.dropout``: dropout on the deterministic states ``d_t``, active in training mode only.

Every bound a user reads is computed in eval mode, so there the model must be exactly the
dropout-free model with the same weights."""

import pytest
import torch

from seqgen import ConfigError
from seqgen_srnn import SPEC

TINY = dict(obs_dim=5, z_dim=3, d_dim=7, a_dim=6, mlp_hidden=9, decoder_hidden=(8,))


def _pair(p: float):
    """A model with ``dropout=p`` and a ``dropout=0`` model holding the same weights."""
    torch.manual_seed(0)
    dropped = SPEC.build(**TINY, dropout=p).double()
    plain = SPEC.build(**TINY).double()
    plain.load_state_dict(dropped.state_dict())
    return dropped, plain


def _data():
    g = torch.Generator().manual_seed(1)
    return (torch.rand(4, 12, 5, generator=g) < 0.3).double()  # [batch, time, 5]


def test_default_is_off_and_bad_rates_are_refused():
    assert SPEC.build(**TINY).config.dropout == 0.0
    for bad in (1.0, -0.1, True, "0.5"):
        with pytest.raises(ConfigError, match="dropout"):
            SPEC.build(**TINY, dropout=bad)


def test_eval_mode_bounds_equal_the_dropout_free_model():
    dropped, plain = _pair(0.5)
    dropped.eval(), plain.eval()
    x = _data()
    runs = []
    for model in (dropped, dropped, plain):
        torch.manual_seed(7)
        runs.append((model.elbo(x), model.iwae(x, 4)))
    for elbo, iwae in runs[1:]:  # same seed: identical draws, so exact equality (no tolerance)
        assert torch.equal(elbo, runs[0][0]) and torch.equal(iwae, runs[0][1])


def test_training_mode_drops_units_of_d():
    dropped, plain = _pair(0.5)
    x = _data()
    dropped.train(), plain.train()
    torch.manual_seed(3)
    d_train = dropped.deterministic(x, None)  # [time, batch, d_dim]
    d_plain = plain.deterministic(x, None)
    zeros = d_train == 0
    # 336 units dropped independently with p = 0.5: the zero fraction lies in (0.3, 0.7) except
    # with probability < 1e-13 (Hoeffding), and the kept units are scaled by 1 / (1 - p) = 2.
    assert 0.3 < float(zeros.double().mean()) < 0.7
    assert torch.allclose(d_train[~zeros], 2 * d_plain[~zeros])
    dropped.eval()
    assert torch.equal(dropped.deterministic(x, None), d_plain)  # eval mode: untouched


def test_dropout_zero_draws_no_random_numbers():
    """``dropout=0`` consumes no RNG in training mode, so seeded runs match the model before the field existed."""
    _, plain = _pair(0.5)
    plain.train()
    before = torch.get_rng_state()
    plain.deterministic(_data(), None)
    assert torch.equal(torch.get_rng_state(), before)
