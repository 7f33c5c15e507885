"""``seqgen.testing``: the kit a plugin author runs (DESIGN §5).

- Hypothesis strategies for sequence data (:mod:`seqgen.testing.strategies`): ``obs_shapes``,
  ``batch_shapes``, ``sample_shapes``, ``masks``, ``sequence_batches``, ``configs``.
- The conformance suite (:mod:`seqgen.testing.checks`): plain ``check_xxx(spec, config=None)``
  functions selected by capability, ``check_model(spec, expected_failures={...})`` and
  ``parametrize_with_checks([SPEC])`` for pytest.
- Two small correct models the kit is proven on (:mod:`seqgen.testing.reference`) and, built from
  them, deliberately broken ones proving each check can fail (:mod:`seqgen.testing.broken`); import
  those modules by name, they are not re-exported here.

Importing this package needs hypothesis (a dependency of seqgen); pytest is imported only by
``parametrize_with_checks``.
"""

from .checks import (
    ALL_CHECKS,
    Check,
    check_bad_input,
    check_capabilities_declared,
    check_dtype_device_moves,
    check_elbo_below_log_prob,
    check_gradients_reach_every_parameter,
    check_iwae_non_decreasing,
    check_log_prob_matches_generation,
    check_loss_finite,
    check_masked_values_ignored,
    check_mixed_precision,
    check_model,
    check_prior_matches_generation,
    check_right_padding_invariance,
    check_save_load_round_trip,
    check_seed_determinism,
    check_sequence_distribution,
    check_sequence_output_shapes,
    check_step_shapes,
    checks_for,
    parametrize_with_checks,
)
from .strategies import batch_shapes, configs, masks, obs_shapes, sample_shapes, sequence_batches

__all__ = [
    "obs_shapes",
    "batch_shapes",
    "sample_shapes",
    "masks",
    "sequence_batches",
    "configs",
    "Check",
    "ALL_CHECKS",
    "checks_for",
    "check_model",
    "parametrize_with_checks",
    "check_capabilities_declared",
    "check_step_shapes",
    "check_sequence_output_shapes",
    "check_bad_input",
    "check_right_padding_invariance",
    "check_masked_values_ignored",
    "check_loss_finite",
    "check_gradients_reach_every_parameter",
    "check_mixed_precision",
    "check_seed_determinism",
    "check_dtype_device_moves",
    "check_save_load_round_trip",
    "check_sequence_distribution",
    "check_log_prob_matches_generation",
    "check_prior_matches_generation",
    "check_elbo_below_log_prob",
    "check_iwae_non_decreasing",
]
