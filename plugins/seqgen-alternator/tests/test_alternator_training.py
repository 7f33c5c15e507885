"""The objective: the K-path bound, the supervised features term, and training through TrainOps."""

from __future__ import annotations

import math

import torch

from seqgen import LorenzDataset, SeqBatch, TrainConfig, TrainOps
from seqgen_alternator import Alternator, AlternatorConfig


def _model(**overrides):
    torch.manual_seed(0)
    return Alternator(AlternatorConfig(**{"obs_dim": 3, "z_dim": 2, "hidden": (8,), "sigma_x": 0.3, "sigma_z": 0.2, **overrides}))


def test_loss_is_the_k_path_estimate_per_observed_step():
    model = _model(num_paths=4)
    x = torch.randn(2, 6, 3)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    torch.manual_seed(1)
    out = model.objective().loss_fn(SeqBatch.from_tensor(x, mask), 1.0)
    torch.manual_seed(1)
    want = -model.iwae(x, 4, mask=mask).sum() / mask.sum()
    assert torch.allclose(out.loss, want) and set(out.metrics) == {"nll_bound"}


def test_supervised_term_uses_the_crossed_noise_scales_by_default():
    """λ = 1 / (2 σ_z²): the paper's loss σ_z²‖x − μ_x‖² + σ_x²‖z* − z‖², divided by 2 σ_x² σ_z²."""
    model = _model()
    x, targets = torch.randn(2, 6, 3), torch.randn(2, 6, 2)
    out = model.objective().loss_fn(SeqBatch.from_tensor(x, targets=targets), 1.0)
    weight = 1 / (2 * 0.2**2)
    assert math.isclose(float(out.loss.detach()), float(out.metrics["nll_bound"] + weight * out.metrics["features_sq_err"]), rel_tol=1e-5)
    assert torch.allclose(out.terms["features"], weight * out.metrics["features_sq_err"])
    custom = _model(feature_weight=3.0).objective().loss_fn(SeqBatch.from_tensor(x, targets=targets), 1.0)
    assert math.isclose(float(custom.loss.detach() - custom.metrics["nll_bound"]), 3.0 * float(custom.metrics["features_sq_err"]), rel_tol=1e-5)


def test_evaluation_uses_more_paths_and_no_gradient():
    model = _model(eval_paths=8)
    out = model.objective().evaluate(SeqBatch.from_tensor(torch.randn(2, 5, 3)))
    assert not out.loss.requires_grad and "nll_bound" in out.metrics


def test_trainops_fits_lorenz_with_targets():
    """A few Adam steps on tiny linear-readout Lorenz data lower the training loss (seeded)."""
    data = LorenzDataset(8, 30, obs="linear", obs_dim=4, seed=0, burn_in=50)
    model = Alternator(AlternatorConfig(obs_dim=4, z_dim=3, hidden=(16,)))
    ops = TrainOps(model, TrainConfig(max_steps=40, epochs=None, batch_size=4, lr=1e-2, seed=0, progress="off", log_every=10))
    history = ops.fit(data)
    losses = history.losses
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-5:]) < sum(losses[:5])
