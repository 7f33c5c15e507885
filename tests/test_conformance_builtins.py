"""The conformance kit on the built-in models, exactly as a plugin author runs it on theirs.

Besides each spec's own ``test_config`` (Bernoulli bits), variants cover the other paths the kit
reaches: integer tokens (Categorical, ``obs_shape == ()``) with a 2-layer LSTM, real vectors
(Normal) with given per-step inputs, and values in (0, 1) (Beta).
"""

import attrs

from seqgen.models.iseq import SPEC as ISEQ
from seqgen.models.rnn import SPEC as RNN
from seqgen.testing import parametrize_with_checks


def variant(spec, name, **overrides):
    return attrs.evolve(spec, name=name, test_config={**spec.test_config, **overrides})


SPECS = [
    RNN,
    variant(RNN, "rnn_tokens_lstm", obs="categorical", obs_dim=5, cell="lstm", num_layers=2),
    variant(RNN, "rnn_normal_inputs", obs="normal", input_dim=2),
    variant(RNN, "rnn_beta", obs="beta"),
    ISEQ,
    variant(ISEQ, "iseq_tokens", obs="categorical", obs_dim=5),
    variant(ISEQ, "iseq_normal_inputs", obs="normal", input_dim=2),
]


@parametrize_with_checks(SPECS)
def test_builtin_conformance(spec, check):
    check(spec)
