"""seqgen's conformance kit on the adversarial autoencoder (checks chosen by its capabilities).

The AAE declares ``reconstruct``, ``generate``, ``latents``, ``adversarial`` and ``gradient``, so
the kit's likelihood checks (``elbo``/``log_prob``/``iwae``: output shapes, ELBO below log p,
IWAE ordering, log-prob of generated sequences) are not selected: an AAE has no likelihood.
``check_model`` on a second configuration covers the other decoder, encoder and prior paths.
"""


import pytest

from seqgen.testing import check_model, parametrize_with_checks

from seqgen_aae import SPEC


@parametrize_with_checks([SPEC])
def test_aae_conformance(check, spec):
    check(spec)


def test_aae_likelihood_checks_not_selected():
    from seqgen.testing import checks_for

    names = {c.name for c in checks_for(SPEC)}
    assert "check_elbo_below_log_prob" not in names and "check_sequence_output_shapes" not in names
    assert {"check_prior_matches_generation", "check_gradients_reach_every_parameter", "check_loss_finite"} <= names


@pytest.mark.parametrize(
    "overrides",
    [
        {"obs": "bernoulli", "encoder": "universal", "prior": "mixture", "num_components": 3, "context": "none"},
        {"obs": "beta", "encoder": "deterministic", "prior": "swiss_roll", "num_components": 4},
        {"obs": "bernoulli", "prior": "uniform", "input_dim": 2, "encoder": "gaussian"},
        {"obs": "normal", "prior": "categorical", "z_dim": 3},
    ],
    ids=["bernoulli-universal-mixture", "beta-swissroll", "inputs-uniform", "categorical"],
)
def test_aae_other_configurations_conform(overrides):
    config = SPEC.make_config(**{**SPEC.test_config, **overrides})
    results = check_model(SPEC, config=config)
    assert all(r == "passed" or r.startswith("skipped") for r in results.values()), results
