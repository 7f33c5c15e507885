"""The hypothesis strategies of ``seqgen.testing``: what they draw, and how they refuse bad arguments."""

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given
from torch.distributions import constraints

import seqgen
from seqgen.testing import batch_shapes, configs, masks, obs_shapes, sample_shapes, sequence_batches
from seqgen.testing._support import random_values
from seqgen.testing.reference import REFERENCE_AR, REFERENCE_LATENT, ReferenceConfig

SUPPORTS = [
    constraints.real,
    constraints.boolean,
    constraints.integer_interval(0, 6),
    constraints.unit_interval,
    constraints.interval(-2.0, 3.0),
    constraints.positive,
    constraints.nonnegative_integer,
    constraints.independent(constraints.real, 1),
]


@given(shape=obs_shapes(max_dims=3, max_side=4))
def test_obs_shapes_stay_within_their_bounds(shape):
    assert isinstance(shape, tuple) and len(shape) <= 3
    assert all(1 <= d <= 4 for d in shape)


@given(batch=batch_shapes(min_dims=1), sample=sample_shapes())
def test_batch_and_sample_shapes_are_torch_sizes(batch, sample):
    assert 1 <= len(batch) <= 2 and len(sample) <= 2
    assert torch.Size(sample + batch) == sample + batch
    assert all(1 <= d <= 3 for d in sample + batch)


@given(data=st.data(), batch_size=st.integers(1, 5), num_steps=st.integers(1, 7), holes=st.booleans())
def test_masks_observe_a_step_in_every_row(data, batch_size, num_steps, holes):
    mask = data.draw(masks(batch_size=batch_size, num_steps=num_steps, ragged=True, holes=holes))
    assert mask.shape == (batch_size, num_steps) and mask.dtype == torch.bool
    assert mask.any(dim=1).all()
    assert int(seqgen.lengths_from_mask(mask).max()) == num_steps  # the batch is as long as its longest row
    if not holes:  # right-padded rows: observed steps form a prefix
        lengths = mask.sum(1, keepdim=True)
        assert torch.equal(mask, torch.arange(num_steps) < lengths)


@given(mask=masks(batch_size=3, num_steps=4, ragged=False))
def test_masks_without_ragged_or_holes_observe_everything(mask):
    assert mask.all()


@pytest.mark.parametrize("support", SUPPORTS, ids=str)
@given(data=st.data())
def test_sequence_batches_fit_the_support(support, data):
    obs_shape = data.draw(obs_shapes(max_dims=2, max_side=3))
    batch = data.draw(sequence_batches(obs_shape=obs_shape, support=support, max_batch=3, max_steps=5, holes=True, input_dim=2))
    assert isinstance(batch, seqgen.SeqBatch)
    b, t = batch.mask.shape
    assert 1 <= b <= 3 and 1 <= t <= 5
    assert batch.x.shape == (b, t, *obs_shape)
    assert batch.inputs.shape == (b, t, 2) and torch.isfinite(batch.inputs).all()
    assert torch.equal(batch.lengths, seqgen.lengths_from_mask(batch.mask))
    observed = batch.x[batch.mask]
    assert support.check(observed.float()).all()
    assert (batch.x[~batch.mask] == 0).all()  # padding and holes hold zeros
    discrete_tokens = isinstance(support, (constraints._IntegerInterval, constraints._IntegerGreaterThan))
    assert batch.x.dtype == (torch.long if discrete_tokens else torch.float32)


@given(batch=sequence_batches(obs_shape=(2,), support=constraints.real, ragged=True, holes=True))
def test_sequence_batches_feed_a_model(batch):
    model = REFERENCE_LATENT.build()
    torch.manual_seed(0)
    for out in (model.log_prob(batch.x, mask=batch.mask), model.elbo(batch.x, mask=batch.mask)):
        assert out.shape == (batch.batch_size,) and torch.isfinite(out).all()


@pytest.mark.parametrize("support", SUPPORTS, ids=str)
def test_random_values_used_by_the_checks_fit_the_support(support):
    torch.manual_seed(0)
    x = random_values(support, (50, 3), dtype=torch.float64)
    assert x.shape == (50, 3)
    assert support.check(x.double()).all()


def test_configs_default_to_the_test_config():
    @given(cfg=configs(REFERENCE_AR))
    def run(cfg):  # ReferenceConfig has no seed field, so nothing varies
        assert cfg == REFERENCE_AR.make_config(**REFERENCE_AR.test_config)

    run()


@given(cfg=configs(REFERENCE_AR, vary={"hidden_dim": st.integers(1, 6)}))
def test_configs_vary_the_named_fields(cfg):
    assert isinstance(cfg, ReferenceConfig) and 1 <= cfg.hidden_dim <= 6 and cfg.obs_dim == 2


@pytest.mark.parametrize(
    "make, key",
    [
        (lambda: obs_shapes(max_dims=-1), "max_dims"),
        (lambda: obs_shapes(min_dims=3, max_dims=2), "max_dims"),
        (lambda: batch_shapes(max_side=0), "max_side"),
        (lambda: sample_shapes(min_side=True), "min_side"),
        (lambda: masks(batch_size=0, num_steps=3), "batch_size"),
        (lambda: masks(batch_size=2, num_steps=3, holes="yes"), "holes"),
        (lambda: sequence_batches(obs_shape=[3], support=constraints.real), "obs_shape"),
        (lambda: sequence_batches(obs_shape=(3,), support="real"), "support"),
        (lambda: sequence_batches(obs_shape=(3,), support=constraints.simplex), "support"),
        (lambda: sequence_batches(obs_shape=(3,), support=constraints.real, min_steps=4, max_steps=2), "max_steps"),
        (lambda: sequence_batches(obs_shape=(3,), support=constraints.real, input_dim=-1), "input_dim"),
        (lambda: configs("rnn"), "spec"),
        (lambda: configs(REFERENCE_AR, vary={"hiden_dim": st.just(3)}), "hiden_dim"),
        (lambda: configs(REFERENCE_AR, vary={"hidden_dim": 3}), "hidden_dim"),
    ],
)
def test_bad_arguments_fail_when_the_strategy_is_built(make, key):
    with pytest.raises(seqgen.ConfigError) as info:
        make()  # no draw: the error comes at once, naming the argument
    assert info.value.key == key


def test_unknown_config_key_suggests_the_closest():
    with pytest.raises(seqgen.ConfigError, match="did you mean 'hidden_dim'"):
        configs(REFERENCE_AR, vary={"hiden_dim": st.just(3)})
