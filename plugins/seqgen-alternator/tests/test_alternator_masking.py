"""Masked steps: filled by the model's own samples, and the data they hide are never read."""

from __future__ import annotations

import torch

from seqgen import SeqBatch
from seqgen_alternator import Alternator, AlternatorConfig
from seqgen_alternator.paths import PathNoise, observed_log_lik, sample_paths


def _model():
    torch.manual_seed(0)
    return Alternator(AlternatorConfig(obs_dim=3, z_dim=2, hidden=(8,), sigma_x=0.3, sigma_z=0.2, infer_paths=3))


def _data(n=3, steps=8):
    torch.manual_seed(1)
    x = torch.randn(n, steps, 3)
    mask = torch.ones(n, steps, dtype=torch.bool)
    mask[0, 2:5] = False  # a hole
    mask[1, 0] = False  # a missing first step
    mask[2, 6:] = False  # right padding
    return x, mask


def test_paths_never_read_hidden_values_nor_their_gradient():
    model = _model().double()
    x, mask = _data()
    x = x.double()
    valid = torch.arange(8) < torch.tensor([8, 8, 6])[:, None]
    fill = ~mask & valid
    noise = PathNoise.draw(x, 3, 8, 2, 3, with_x=True)
    garbage = torch.where(mask[..., None], x, torch.full_like(x, 1e6)).requires_grad_(True)  # huge values where hidden
    zeroed = torch.where(mask[..., None], x, torch.zeros_like(x))
    a = sample_paths(model, garbage, mask, fill, noise)
    b = sample_paths(model, zeroed, mask, fill, noise)
    assert torch.equal(a.z, b.z) and torch.equal(a.obs_loc, b.obs_loc)
    total = observed_log_lik(a, garbage, mask, 0.3).sum() + a.z.sum() + a.x.sum()
    (grad,) = torch.autograd.grad(total, garbage)
    assert torch.all(grad[~mask] == 0), "a hidden value (inside a sequence or in its padding) reached an output"
    assert torch.any(grad[mask] != 0)
    assert not torch.equal(a.x[fill], garbage[fill].detach()), "hidden steps must hold the path's own samples"


def test_public_results_ignore_hidden_values():
    """Same seed, different values at hidden steps: identical estimates, latents, losses and imputations."""
    model = _model()
    x, mask = _data()
    other = torch.where(mask[..., None], x, torch.randn_like(x) * 50)
    batch = lambda v: SeqBatch.from_tensor(v, mask, targets=torch.randn(3, 8, 2))
    for fn in (
        lambda v: model.iwae(v, 3, mask=mask),
        lambda v: model.infer(v, mask=mask)["z_loc"],
        lambda v: model.impute(v, mask),
        lambda v: model.objective().loss_fn(batch(v), 1.0).loss,
    ):
        torch.manual_seed(7)
        first = fn(x)
        torch.manual_seed(7)
        assert torch.equal(first, fn(other))


def test_impute_keeps_observed_steps_and_fills_every_hidden_one():
    model = _model()
    x, mask = _data()
    torch.manual_seed(3)
    filled = model.impute(x, mask)
    assert torch.equal(filled[mask], x[mask])
    assert torch.isfinite(filled).all()
    assert torch.all(filled[~mask] != 0)  # trailing steps are filled too (zero-filled input otherwise)


def test_condition_stops_at_each_sequence_own_length():
    model = _model()
    x, mask = _data()
    torch.manual_seed(4)
    state = model.condition(x, mask=mask)
    assert state.step.tolist() == [8, 8, 6]
    assert state.z_next.shape == (3, 2) and torch.isfinite(state.z_next_log_prob).all()
    torch.manual_seed(4)
    out = model.forecast(x, 5)
    assert out.shape == (3, 5, 3) and torch.isfinite(out).all()


def test_infer_reports_mean_and_spread_of_paths():
    model = _model()
    x, mask = _data()
    torch.manual_seed(5)
    out = model.infer(x, mask=mask)
    assert out["z_loc"].shape == (3, 8, 2) and out["z_scale"].shape == (3, 8, 2)
    assert torch.all(out["z_scale"] > 0)  # several noisy paths differ
