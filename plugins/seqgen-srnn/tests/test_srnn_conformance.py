"""The conformance kit on the SRNN, as a third-party plugin author runs it.

Besides ``SPEC.test_config`` (Bernoulli piano-roll bits, smoothing inference, Resq), variants cover
tokens (Categorical, ``obs_shape == ()``) with an embedding, real vectors (Normal) with given
per-step inputs, values in (0, 1) (Beta), dependent bits (MADE), and the filtering posterior
without Resq.
"""

import attrs

from seqgen.testing import parametrize_with_checks
from seqgen_srnn import SPEC


def variant(name, **overrides):
    return attrs.evolve(SPEC, name=name, test_config={**SPEC.test_config, **overrides})


SPECS = [
    SPEC,
    variant("srnn_tokens", obs="categorical", obs_dim=5, embed_dim=4),
    variant("srnn_normal_inputs", obs="normal", input_dim=2),
    variant("srnn_beta", obs="beta"),
    variant("srnn_made", obs="made"),
    variant("srnn_filter_no_resq", inference="filter", resq=False),
]


@parametrize_with_checks(SPECS)
def test_srnn_conformance(spec, check):
    check(spec)
