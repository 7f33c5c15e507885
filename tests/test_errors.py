"""seqgen errors: fields, messages, survival through Pyro's re-raise and through pickling."""

import pickle

import pyro
import pytest
import torch
from gencore_fixtures import GaussianAR

from seqgen import CapabilityError, CheckpointError, ConfigError, DataError, PluginError, SeqgenError, ShapeError, TrainingError

CASES = [
    ShapeError("x", "[batch, time, obs_dim=3]", (8, 50, 4), "build the decoder with obs_dim=4"),
    DataError("x", "contains NaN", "clean it"),
    ConfigError("lr", "'lr' must be > 0 (got 0.0)"),
    PluginError("srnn", "import failed", distribution="seqgen-srnn"),
    CapabilityError("RNNModel", "elbo", ["log_prob"]),
    CheckpointError("/tmp/c", "truncated", "resume from the previous one"),
    TrainingError(12, "kl", float("inf")),
]


def test_shape_message_reads_argument_expected_actual_fix():
    assert str(CASES[0]) == "x: expected [batch, time, obs_dim=3], got (8, 50, 4); build the decoder with obs_dim=4"
    assert CASES[0].actual == (8, 50, 4)


@pytest.mark.parametrize("err", CASES, ids=lambda e: type(e).__name__)
def test_pickle_round_trip_keeps_message_and_fields(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err) and back.__dict__ == err.__dict__


@pytest.mark.parametrize("err", CASES, ids=lambda e: type(e).__name__)
def test_message_only_construction(err):
    again = type(err)(str(err))
    assert str(again) == str(err) and isinstance(again, SeqgenError)


def test_errors_survive_pyro_trace():
    """Pyro's trace re-raises an error from the traced program as ``type(e)(message + shapes)``."""
    m = GaussianAR()
    bad = torch.full((2, 3, 2), float("nan"))

    def program():
        pyro.sample("z", pyro.distributions.Normal(0.0, 1.0))
        return m.log_prob(bad)

    with pytest.raises(DataError, match="NaN"):
        pyro.poutine.trace(program).get_trace()

    def needs_elbo():
        return m.elbo(torch.zeros(2, 3, 2))

    with pytest.raises(CapabilityError, match="elbo"):
        pyro.poutine.trace(needs_elbo).get_trace()
