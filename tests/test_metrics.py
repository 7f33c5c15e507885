"""Known-answer tests for seqgen.metrics (seeded; tolerances stated per test)."""

import math

import pytest
import torch

from seqgen import DataError, ShapeError
from seqgen.metrics import (
    adversarial_accuracy,
    affine_latent_fit,
    mmd,
    parzen_log_likelihood,
    per_step,
    select_parzen_bandwidth,
)


def test_per_step_divides_by_observed_steps():
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    assert per_step(torch.tensor([-3.0, -3.0]), mask) == pytest.approx(-2.0)


def test_mmd_near_zero_for_same_distribution_and_large_for_shifted():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 3, generator=g), torch.randn(300, 3, generator=g)
    c = torch.randn(300, 3, generator=g) + 2.0
    assert abs(mmd(a, b)) < 0.02  # unbiased estimate of 0; seed 0 gives ~1e-3
    assert mmd(a, c) > 0.3


def test_adversarial_accuracy_half_for_same_and_one_for_disjoint():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 2, generator=g), torch.randn(400, 2, generator=g)
    same = adversarial_accuracy(a, b)
    assert same["error"] < 0.01  # accuracies ~0.5 ± 0.05 at n = 400
    far = adversarial_accuracy(a, b + 100.0)
    assert far["acc_real"] == 1.0 and far["acc_fake"] == 1.0 and far["error"] == pytest.approx(0.25)


def test_parzen_matches_gaussian_density_for_one_sample():
    s = torch.zeros(1, 2)
    y = torch.tensor([[1.0, 0.0]])
    lp = parzen_log_likelihood(s, y, 0.5)
    exact = -1.0 / (2 * 0.25) - math.log(2 * math.pi * 0.25)
    assert float(lp) == pytest.approx(exact, abs=1e-9)
    g = torch.Generator().manual_seed(1)
    samples, valid = torch.randn(500, 2, generator=g), torch.randn(200, 2, generator=g)
    assert select_parzen_bandwidth(samples, valid, [0.01, 0.3, 10.0]) == 0.3


def test_affine_fit_recovers_an_affine_map_exactly():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, 50, 3, generator=g)
    true = z @ torch.randn(3, 3, generator=g) + 1.5
    fit = affine_latent_fit(true, z)
    assert torch.allclose(fit["corr"], torch.ones(3, dtype=torch.float64), atol=1e-9)
    assert float(fit["mse"].max()) < 1e-10
    assert fit["fitted"].shape == true.shape


def test_bad_inputs():
    with pytest.raises(ShapeError):
        mmd(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(DataError):
        adversarial_accuracy(torch.zeros(1, 2), torch.zeros(5, 2))
    with pytest.raises(ShapeError):
        affine_latent_fit(torch.zeros(5, 3), torch.zeros(4, 3))
