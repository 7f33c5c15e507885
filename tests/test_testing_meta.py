"""Meta-tests of the conformance kit: every check fails on its broken fixture and passes on the
reference models, checks are selected by capability, and ``check_model`` /
``parametrize_with_checks`` keep their promises (strict expected failures, readable ids).
"""

import pytest
import torch

import seqgen
from seqgen.testing import (
    ALL_CHECKS,
    check_model,
    check_step_shapes,
    checks_for,
    parametrize_with_checks,
)
from seqgen.testing._harness import assert_mean_at_most, assert_same_result
from seqgen.testing.broken import BROKEN
from seqgen.testing.reference import REFERENCE_AR, REFERENCE_LATENT

REFERENCES = [REFERENCE_AR, REFERENCE_LATENT]


def test_every_check_has_a_broken_fixture_and_a_reference_that_runs_it():
    assert set(BROKEN) == set(ALL_CHECKS)
    assert {c.name for spec in REFERENCES for c in checks_for(spec)} == set(ALL_CHECKS)


@pytest.mark.parametrize("name", list(ALL_CHECKS))
def test_check_fails_on_its_broken_fixture(name):
    spec, check = BROKEN[name], ALL_CHECKS[name]
    assert check.applies_to(spec.capabilities), f"{name} would not even run on {spec.name}"
    with pytest.raises(AssertionError):
        check(spec)


@parametrize_with_checks(REFERENCES)
def test_reference_models_pass_every_check(spec, check):
    check(spec)


def test_checks_are_selected_by_declared_capabilities():
    ar = {c.name for c in checks_for(REFERENCE_AR)}
    latent = {c.name for c in checks_for(REFERENCE_LATENT)}
    assert "check_log_prob_matches_generation" in ar - latent  # exact per-step sums need a model without latents
    assert {"check_prior_matches_generation", "check_elbo_below_log_prob", "check_iwae_non_decreasing"} <= latent - ar
    assert {"check_capabilities_declared", "check_seed_determinism", "check_save_load_round_trip"} <= ar & latent


def test_check_model_returns_a_report_for_a_conforming_model():
    report = check_model(REFERENCE_AR)
    assert list(report) == [c.name for c in checks_for(REFERENCE_AR)]
    assert set(report.values()) == {"passed"}


def test_check_model_lists_the_failures():
    with pytest.raises(AssertionError, match=r"(?s)broken_PaddingLeak \(PaddingLeak\) fails 1 conformance check\(s\):\n- check_right_padding_invariance: "):
        check_model(BROKEN["check_right_padding_invariance"])


def test_expected_failures_are_tolerated_only_while_they_fail():
    spec = BROKEN["check_right_padding_invariance"]
    report = check_model(spec, expected_failures={"check_right_padding_invariance": "sums padded steps"})
    assert report["check_right_padding_invariance"] == "expected failure: sums padded steps"
    with pytest.raises(AssertionError, match="passed but is listed in expected_failures"):
        check_model(REFERENCE_AR, expected_failures={"check_step_shapes": "stale entry"})


@pytest.mark.parametrize(
    "expected, message",
    [
        ({"check_step_shape": "typo"}, "did you mean 'check_step_shapes'"),
        ({"check_iwae_non_decreasing": "no iwae"}, "does not apply to 'reference_ar'"),
        ({"check_step_shapes": ""}, "non-empty reason"),
    ],
)
def test_bad_expected_failures_are_config_errors(expected, message):
    with pytest.raises(seqgen.ConfigError, match=message):
        check_model(REFERENCE_AR, expected_failures=expected)


def test_parametrize_with_checks_ids_and_strict_xfail():
    mark = parametrize_with_checks([REFERENCE_AR], expected_failures={"reference_ar": {"check_step_shapes": "why"}})
    params = mark.args[1]
    assert [p.id for p in params] == [f"reference_ar-{c.name}" for c in checks_for(REFERENCE_AR)]
    xfails = {p.id: p.marks for p in params if p.marks}
    assert list(xfails) == ["reference_ar-check_step_shapes"]
    (xfail,) = xfails["reference_ar-check_step_shapes"]
    assert xfail.name == "xfail" and xfail.kwargs == {"reason": "why", "strict": True}
    with pytest.raises(seqgen.ConfigError, match="no spec named 'rnn'"):
        parametrize_with_checks([REFERENCE_AR], expected_failures={"rnn": {}})


def test_a_check_refuses_what_is_not_a_spec_and_keeps_the_global_rng():
    with pytest.raises(seqgen.ConfigError, match="ModelSpec"):
        check_step_shapes("reference_ar")
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    check_step_shapes(REFERENCE_AR)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_a_check_takes_an_explicit_config():
    check_step_shapes(REFERENCE_AR, REFERENCE_AR.make_config(obs_dim=3, hidden_dim=2))


def test_same_result_compares_stochastic_estimates_by_their_mean():
    # Paired seeded draws over 32 seeds: x and -x (x ~ N(0, 1)) differ path by path but agree in mean,
    # and pass (a false failure at Z = 6 has probability below 1e-6); x and x + 3 fail.
    noise = lambda shift: (lambda: torch.randn(4) + shift)
    assert_same_result(noise(0.0), lambda: -torch.randn(4), "mirrored")
    with pytest.raises(AssertionError, match="mean moved"):
        assert_same_result(noise(0.0), noise(3.0), "shifted")
    with pytest.raises(AssertionError, match="values differ"):  # deterministic and different
        assert_same_result(lambda: torch.ones(2), lambda: torch.zeros(2), "constant")


def test_mean_at_most_allows_noise_but_not_a_clear_excess():
    torch.manual_seed(0)
    low, high = torch.randn(64, 3), torch.randn(64, 3)  # equal means: within 6 standard errors
    assert_mean_at_most(low, high, "equal")
    with pytest.raises(AssertionError, match="exceeds"):
        assert_mean_at_most(low + 2.0, high, "shifted")  # 2 / sqrt(2/64) ~ 11 standard errors
