"""The conformance suite, in scikit-learn's shape (``check_estimator``, ``parametrize_with_checks``).

Every check is a plain function ``check_xxx(spec, config=None) -> None`` that raises
``AssertionError`` with a message naming the model, what was done, and what was expected; a
check that cannot apply in this environment raises ``unittest.SkipTest``. Checks are selected by
the capabilities a spec declares (never by probing for methods):

==========================================  ============================================
check                                        selected when the model declares
==========================================  ============================================
``check_capabilities_declared``              always
``check_step_shapes``                        ``generate``
``check_sequence_output_shapes``             any of ``elbo``, ``log_prob``, ``iwae``
``check_bad_input``                          always (skips when nothing takes a sequence)
``check_right_padding_invariance``           any of ``elbo``, ``log_prob``, ``iwae``, or trainable
``check_masked_values_ignored``              any of ``elbo``, ``log_prob``, ``iwae``, or trainable
``check_loss_finite``                        any of ``gradient``, ``local_rule``, ``adversarial``
``check_gradients_reach_every_parameter``    ``gradient``
``check_mixed_precision``                    any of ``gradient``, ``local_rule``, ``adversarial`` (``cuda`` too with a GPU)
``check_seed_determinism``                   always
``check_dtype_device_moves``                 always (``cuda`` too when a GPU is present)
``check_save_load_round_trip``               always
``check_sequence_distribution``              ``generate``
``check_log_prob_matches_generation``        ``log_prob`` and ``generate``, without ``latents``
``check_prior_matches_generation``           ``latents`` and ``generate``
``check_elbo_below_log_prob``                ``elbo`` and ``log_prob``
``check_iwae_non_decreasing``                ``iwae``
==========================================  ============================================

A plugin's test file::

    from seqgen.testing import check_model, parametrize_with_checks
    from seqgen_srnn import SPEC

    @parametrize_with_checks([SPEC])
    def test_conformance(spec, check):
        check(spec)
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional

from ..errors import ConfigError, closest_names
from ..spec import ModelSpec
from ._harness import REGISTRY, Check, SkipTest, default_config
from .checks_api import check_capabilities_declared, check_sequence_output_shapes, check_step_shapes
from .checks_data import check_bad_input, check_masked_values_ignored, check_right_padding_invariance
from .checks_sampling import (
    check_elbo_below_log_prob,
    check_iwae_non_decreasing,
    check_log_prob_matches_generation,
    check_prior_matches_generation,
    check_sequence_distribution,
)
from .checks_training import (
    check_dtype_device_moves,
    check_gradients_reach_every_parameter,
    check_loss_finite,
    check_mixed_precision,
    check_save_load_round_trip,
    check_seed_determinism,
)

__all__ = [
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

ALL_CHECKS: Mapping[str, Check] = {  # name -> Check, in the order of the table above
    fn.__name__: REGISTRY[fn.__name__]
    for fn in (
        check_capabilities_declared,
        check_step_shapes,
        check_sequence_output_shapes,
        check_bad_input,
        check_right_padding_invariance,
        check_masked_values_ignored,
        check_loss_finite,
        check_gradients_reach_every_parameter,
        check_mixed_precision,
        check_seed_determinism,
        check_dtype_device_moves,
        check_save_load_round_trip,
        check_sequence_distribution,
        check_log_prob_matches_generation,
        check_prior_matches_generation,
        check_elbo_below_log_prob,
        check_iwae_non_decreasing,
    )
}


def checks_for(spec: ModelSpec) -> List[Check]:
    """The checks whose capabilities ``spec`` declares, in a fixed order."""
    if not isinstance(spec, ModelSpec):
        raise ConfigError("spec", f"spec: expected a seqgen.ModelSpec, got {type(spec).__name__}", "pass the plugin's SPEC")
    return [c for c in ALL_CHECKS.values() if c.applies_to(spec.capabilities)]


def _expected(spec: ModelSpec, expected_failures: Optional[Mapping[str, str]]) -> Dict[str, str]:
    """Validate ``{check_name: reason}`` against the checks that apply to ``spec``."""
    expected = dict(expected_failures or {})
    applicable = {c.name for c in checks_for(spec)}
    for name, reason in expected.items():
        if name not in applicable:
            near = closest_names(name, applicable)
            why = "is not a check" if name not in ALL_CHECKS else f"does not apply to {spec.name!r} (capabilities {sorted(spec.capabilities)})"
            hint = f"did you mean {', '.join(map(repr, near))}?" if near else f"checks for {spec.name!r}: {', '.join(sorted(applicable))}"
            raise ConfigError("expected_failures", f"expected_failures: {name!r} {why}", hint)
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError("expected_failures", f"expected_failures[{name!r}] must be a non-empty reason (got {reason!r})", "say why it fails, e.g. 'no CUDA kernels yet'")
    return expected


def check_model(spec: ModelSpec, *, config: Any = None, expected_failures: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Run every check that applies to ``spec``; raise one AssertionError listing every failure.

    config:            the model's config (default: ``spec.make_config(**spec.test_config)``)
    expected_failures: ``{check_name: reason}`` checks known to fail; each must fail (strict, as an
                       sklearn xfail): one that passes is reported as a failure so the entry is removed.
    Returns ``{check_name: 'passed' | 'expected failure: …' | 'skipped: …'}``.
    """
    expected = _expected(spec, expected_failures)
    config = default_config(spec, config)
    results: Dict[str, str] = {}
    failures: List[str] = []
    for check in checks_for(spec):
        try:
            check(spec, config)
        except SkipTest as e:
            results[check.name] = f"skipped: {e}"
        except Exception as e:  # a check fails by raising; the report keeps the reason
            if check.name in expected:
                results[check.name] = f"expected failure: {expected[check.name]}"
            else:
                results[check.name] = "failed"
                failures.append(f"{check.name}: {type(e).__name__}: {e}")
        else:
            if check.name in expected:
                results[check.name] = "unexpectedly passed"
                failures.append(f"{check.name}: passed but is listed in expected_failures ({expected[check.name]!r}); remove the entry")
            else:
                results[check.name] = "passed"
    if failures:
        raise AssertionError(f"{spec.name} ({spec.model_cls.__name__}) fails {len(failures)} conformance check(s):\n- " + "\n- ".join(failures))
    return results


def parametrize_with_checks(specs: Iterable[ModelSpec], *, expected_failures: Optional[Mapping[str, Mapping[str, str]]] = None):
    """A ``pytest.mark.parametrize("spec, check", …)`` over every (spec, applicable check) pair.

    Test ids read ``rnn-check_gradients_reach_every_parameter``. ``check(spec)`` runs the check on
    the spec's test config. expected_failures: ``{spec_name: {check_name: reason}}``; those pairs are
    marked ``xfail(strict=True)``.
    """
    import pytest

    specs = list(specs)
    expected_failures = dict(expected_failures or {})
    names = [s.name for s in specs if isinstance(s, ModelSpec)]
    for name in expected_failures:
        if name not in names:
            raise ConfigError("expected_failures", f"expected_failures: no spec named {name!r} among {names}", "key it by spec.name")
    params = []
    for spec in specs:
        expected = _expected(spec, expected_failures.get(spec.name))
        for check in checks_for(spec):
            marks = [pytest.mark.xfail(reason=expected[check.name], strict=True)] if check.name in expected else []
            params.append(pytest.param(spec, check, id=f"{spec.name}-{check.name}", marks=marks))
    return pytest.mark.parametrize("spec, check", params)
