"""Lorenz data: RK4 accuracy, burn-in, normalisation, readouts, seeds, and argument errors."""

from __future__ import annotations

import math

import pytest
import torch

from seqgen import DataError
from seqgen.data import LorenzDataset, collate, linear_observations, lorenz_trajectories, spiking_observations


def test_shape_and_normalisation():
    z = lorenz_trajectories(4, 60, seed=1)
    assert z.shape == (4, 60, 3) and z.dtype == torch.float32
    flat = z.reshape(-1, 3).double()
    assert torch.allclose(flat.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-5)  # float32 rounding
    assert torch.allclose(flat.std(0, unbiased=False), torch.ones(3, dtype=torch.float64), atol=1e-5)


def test_raw_states_lie_on_the_attractor_and_burn_in_is_a_prefix():
    raw = lorenz_trajectories(3, 200, seed=2, normalize=False)  # after 500 burn-in steps
    assert raw[..., 0].abs().max() < 25 and raw[..., 1].abs().max() < 30  # the attractor's known extent
    assert 0 < raw[..., 2].min() and raw[..., 2].max() < 55
    early = lorenz_trajectories(3, 30, seed=2, burn_in=0, normalize=False)
    late = lorenz_trajectories(3, 20, seed=2, burn_in=10, normalize=False)
    assert torch.allclose(early[:, 10:], late)  # burn-in drops exactly the first steps


def test_rk4_is_fourth_order():
    # Over 0.5 time units from the same start, halving dt cuts the error about 16-fold (RK4's order 4).
    ref = lorenz_trajectories(2, 401, dt=0.00125, burn_in=0, seed=3, normalize=False).double()[:, -1]
    err = []
    for dt, n in ((0.01, 51), (0.005, 101)):
        z = lorenz_trajectories(2, n, dt=dt, burn_in=0, seed=3, normalize=False).double()[:, -1]
        err.append(float((z - ref).abs().max()))
    assert 10 < err[0] / err[1] < 22, err  # the ratio of a 4th-order method is 2**4 = 16


def test_same_seed_same_data_and_shared_readout():
    a = LorenzDataset(3, 20, obs="spiking", obs_dim=6, seed=5)
    b = LorenzDataset(3, 20, obs="spiking", obs_dim=6, seed=5)
    assert torch.equal(a[1].x, b[1].x) and torch.equal(a[1].targets, b[1].targets)
    c = LorenzDataset(3, 20, obs="spiking", obs_dim=6, seed=6)
    assert not torch.equal(a[1].targets, c[1].targets)
    assert torch.equal(a.params["centres"], c.params["centres"])  # one observation model across splits
    d = LorenzDataset(3, 20, obs="spiking", obs_dim=6, seed=5, param_seed=1)
    assert not torch.equal(a.params["centres"], d.params["centres"])


def test_linear_readout_noise_level():
    z = lorenz_trajectories(8, 50, seed=0)
    x, params = linear_observations(z, 10, noise=0.1, seed=4, return_params=True)
    assert x.shape == (8, 50, 10) and params["loading"].shape == (10, 3)
    resid = x - z @ params["loading"].T
    # 4,000 residuals: the std estimate's relative error is about 1/sqrt(8000) ≈ 1.1 %; allow 5 %.
    assert abs(float(resid.std()) - 0.1) < 0.005
    assert torch.allclose(linear_observations(z, 10, noise=0.0), z @ params["loading"].T, atol=1e-5)  # float64 inside


def test_spiking_readout_follows_the_tuning_curves():
    z = lorenz_trajectories(8, 50, seed=0)
    y, params = spiking_observations(z, 12, seed=1, width=1.5, max_rate=3.0, base_rate=0.1, return_params=True)
    assert y.shape == (8, 50, 12) and bool((y >= 0).all()) and torch.equal(y, y.round())
    sq = ((z[..., None, :] - params["centres"]) ** 2).sum(-1)  # [8, 50, 12]
    assert torch.allclose(params["rates"], 0.1 + 3.0 * torch.exp(-sq / (2 * 1.5**2)), atol=1e-5)
    # Poisson: the total count has variance equal to its mean; |z-score| < 5 fails with prob < 1e-6.
    total, expected = float(y.sum()), float(params["rates"].sum())
    assert abs(total - expected) < 5 * math.sqrt(expected)


def test_dataset_items_and_batches():
    ds = LorenzDataset(5, 30, obs="linear", obs_dim=4)
    assert ds.obs_shape == (4,) and ds.obs_kind == "normal" and ds[0].targets.shape == (30, 3)
    spikes = LorenzDataset(5, 30, obs="spiking", obs_dim=7)
    assert spikes.obs_kind == "poisson" and spikes.obs_shape == (7,)
    batch = collate([spikes[i] for i in range(5)])
    assert batch.x.shape == (5, 30, 7) and batch.targets.shape == (5, 30, 3)
    assert "Lorenz latents" in spikes.describe()


def test_argument_errors():
    with pytest.raises(DataError, match="obs"):
        LorenzDataset(2, 10, obs="gaussian")
    with pytest.raises(DataError, match=r"'dt' must be a finite number > 0 \(got 0\)"):
        lorenz_trajectories(2, 10, dt=0)
    with pytest.raises(DataError, match=r"'num' must be an integer >= 1"):
        lorenz_trajectories(0, 10)
    with pytest.raises(DataError, match=r"z: expected a float tensor \[..., 3\]"):
        spiking_observations(torch.zeros(4, 2), 3)
    with pytest.raises(DataError, match="'noise' must be a finite number >= 0"):
        linear_observations(torch.zeros(4, 3), 3, noise=-1.0)
