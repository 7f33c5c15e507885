"""Issue #2's "done when": both built-ins' SequenceDistribution inside pyro.plate and under
Predictive(parallel=True); exact log_prob for rnn, a CapabilityError (never an ELBO) for iseq."""

import pyro
import pytest
import torch
from pyro.infer import Predictive

from seqgen import CapabilityError, load_model

BUILTINS = {
    "rnn": dict(obs_dim=5, obs="bernoulli", hidden=8, embed_dim=4),
    "iseq": dict(obs_dim=5, obs="bernoulli", hidden=8, embed_dim=4, z_dim=3),
}


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_distribution_in_plate_and_predictive(name):
    torch.manual_seed(0)
    model = load_model(name, **BUILTINS[name])

    def program():
        with pyro.plate("sequences", 3):
            return pyro.sample("x", model.distribution(6))

    tr = pyro.poutine.trace(program).get_trace()
    assert tr.nodes["x"]["value"].shape == (3, 6, 5)
    out = Predictive(program, num_samples=4, parallel=True)()
    assert out["x"].shape == (4, 3, 6, 5)
    assert set(out["x"].unique().tolist()) <= {0.0, 1.0}


def test_log_prob_exact_for_rnn_and_refused_for_iseq():
    torch.manual_seed(0)
    x = (torch.rand(2, 6, 5) < 0.3).float()
    rnn = load_model("rnn", **BUILTINS["rnn"])
    assert torch.allclose(rnn.distribution(6).log_prob(x), rnn.log_prob(x))
    assert torch.allclose(rnn.elbo(x), rnn.log_prob(x))  # no latents: the bound is tight
    iseq = load_model("iseq", **BUILTINS["iseq"])
    d = iseq.distribution(6)
    with pytest.raises(CapabilityError, match="log_prob"):
        d.log_prob(x)
    est = d.iwae_log_prob(x, num_particles=8)  # an estimate, asked for by name
    assert est.shape == (2,) and torch.isfinite(est).all()
