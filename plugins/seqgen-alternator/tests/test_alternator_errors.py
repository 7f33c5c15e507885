"""Bad input raises seqgen's errors, naming the argument, what was expected and what arrived."""

from __future__ import annotations

import pytest
import torch

from seqgen import MLP, ConfigError, SeqBatch, ShapeError
from seqgen_alternator import Alternator, AlternatorConfig


def _model(**overrides):
    torch.manual_seed(0)
    cfg = dict(obs_dim=3, z_dim=2, hidden=(8,))
    cfg.update(overrides)
    return Alternator(AlternatorConfig(**cfg))


@pytest.mark.parametrize(
    "overrides, words",
    [
        (dict(alpha=0.97, sigma_z=0.2), "sigma_z²"),
        (dict(alpha=(0.3, 0.97), sigma_z=0.2), "alpha[1]"),
        (dict(sigma_x=0.0), "sigma_x"),
        (dict(sigma_x=1.0), "sigma_x"),
        (dict(sigma_z=1.5), "sigma_z"),
        (dict(sigma_z=-0.1), "sigma_z"),
        (dict(alpha=0.0), "alpha"),
        (dict(alpha=()), "at least one step"),
        (dict(alpha=(0.3, "a")), "alpha[1]"),
        (dict(feature_weight=-1.0), "feature_weight"),
        (dict(hidden=(0,)), "hidden"),
        (dict(activation="swish"), "activation"),
    ],
)
def test_bad_config(overrides, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        AlternatorConfig(**{"obs_dim": 3, **overrides})


def test_list_schedule_round_trips():
    cfg = AlternatorConfig(obs_dim=3, alpha=[0.2, 0.3])
    assert cfg.alpha == (0.2, 0.3) and AlternatorConfig.from_dict(cfg.to_dict()) == cfg


def test_schedule_too_short_for_the_sequence():
    model = _model(alpha=(0.2, 0.3, 0.4))
    model.iwae(torch.randn(2, 3, 3), 1)  # as long as the schedule: fine
    with pytest.raises(ShapeError, match="alpha schedule"):
        model.iwae(torch.randn(2, 4, 3), 1)
    with pytest.raises(ShapeError, match="alpha schedule"):
        model.distribution(4).sample()
    with pytest.raises(ShapeError, match="alpha schedule"):
        model.forecast(torch.randn(2, 2, 3), 2)


def test_mask_of_the_wrong_shape():
    with pytest.raises(ShapeError, match=r"mask: expected \[batch=2, time=5\], got \(2, 4\)"):
        _model().iwae(torch.randn(2, 5, 3), 1, mask=torch.ones(2, 4, dtype=torch.bool))


def test_targets_of_the_wrong_dimension():
    model = _model()
    x = torch.randn(2, 5, 3)
    with pytest.raises(ShapeError, match=r"batch.targets: expected \[batch=2, time=5, z_dim=2\], got \(2, 5, 3\); build the model with z_dim=3"):
        model.objective().loss_fn(SeqBatch.from_tensor(x, targets=torch.randn(2, 5, 3)), 1.0)
    with pytest.raises(ShapeError, match="batch.targets"):
        model.objective().loss_fn(SeqBatch.from_tensor(x, targets=torch.randn(2, 4, 2)), 1.0)
    ignoring = _model(feature_weight=0.0)  # weight 0: the targets are not read at all
    ignoring.objective().loss_fn(SeqBatch.from_tensor(x, targets=torch.randn(2, 5, 3)), 1.0)


def test_wrong_observations():
    model = _model()
    with pytest.raises(ShapeError, match="obs_dim=3|3\\]"):
        model.iwae(torch.randn(2, 5, 4), 1)
    state = model.initial_state(2)
    with pytest.raises(ShapeError, match=r"x_t: expected \[batch=2, obs_dim=3\]"):
        model.observe(state, torch.randn(2, 4))
    with pytest.raises(ShapeError, match="context_t"):
        model.prior_step(state, torch.randn(2, 1))
    with pytest.raises(ShapeError, match=r"z: expected \[batch=2, time=5, z_dim=2\]"):
        model.prior_log_prob(torch.randn(2, 5, 3), torch.randn(2, 5, 3))


def test_components_that_do_not_fit():
    cfg = AlternatorConfig(obs_dim=3, z_dim=2)
    with pytest.raises(ShapeError, match="observation_net: expected in_dim=2"):
        Alternator(cfg, observation_net=MLP(3, 3))
    with pytest.raises(ShapeError, match="feature_net: expected out_dim=2"):
        Alternator(cfg, feature_net=MLP(3, 4))
    with pytest.raises(ShapeError, match="feature_net"):
        Alternator(cfg, feature_net=torch.nn.Linear(5, 2))  # no declared widths: the probe call fails
    with pytest.raises(ConfigError, match="observation_net: expected a torch.nn.Module"):
        Alternator(cfg, observation_net="mlp")
    Alternator(cfg, observation_net=torch.nn.Linear(2, 3), feature_net=MLP(3, 2, hidden=(5,)))  # any fitting module
