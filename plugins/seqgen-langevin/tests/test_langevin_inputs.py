"""Bad input gets a clear seqgen error; the data map and its inverse."""

import math

import pytest
import torch

import seqgen
from seqgen.components import ConstantAgent
from seqgen_langevin import SPEC, LangevinConfig, LangevinMachine, images_to_states, states_dataset, states_to_images


@pytest.mark.parametrize("field", ["temperature", "dt"])
@pytest.mark.parametrize("value", [0.0, -0.5])
def test_temperature_and_step_must_be_positive(field, value):
    with pytest.raises(seqgen.ConfigError, match=f"'{field}' must be > 0"):
        LangevinConfig(**{field: value})


def test_other_config_values_are_checked():
    with pytest.raises(seqgen.ConfigError, match="data_map"):
        LangevinConfig(data_map="sigmoid")
    with pytest.raises(seqgen.ConfigError, match="data_clip"):
        LangevinConfig(data_clip=1.0)
    with pytest.raises(seqgen.ConfigError, match="num_model_chains"):
        LangevinConfig(num_model_chains=0)
    with pytest.raises(seqgen.ConfigError, match=r"'chain_restart' must be in \[0.0, 1.0\]"):
        LangevinConfig(chain_restart=1.5)


def test_images_outside_unit_interval_are_rejected():
    with pytest.raises(seqgen.DataError, match=r"\[0, 1\].*divide uint8"):
        images_to_states(torch.full((2, 4), 255.0), num_neurons=4)
    with pytest.raises(seqgen.DataError, match="dtype torch.uint8"):
        images_to_states(torch.zeros(2, 2, 2, dtype=torch.uint8), num_neurons=4)
    with pytest.raises(seqgen.DataError, match="finite"):
        images_to_states(torch.tensor([[0.5, float("nan")]]), num_neurons=2)


def test_images_of_the_wrong_size_are_rejected():
    with pytest.raises(seqgen.ShapeError, match=r"num_neurons = 784.*got \(3, 27, 27\).*num_neurons=729"):
        images_to_states(torch.rand(3, 27, 27), num_neurons=784)
    with pytest.raises(seqgen.ShapeError):
        states_dataset(torch.rand(3, 10), config=LangevinConfig(num_neurons=9))


def test_data_maps_and_their_inverses():
    p = torch.tensor([[0.0, 0.25, 0.5, 1.0]])
    x = images_to_states(p, num_neurons=4)  # atanh(clip(2p − 1, ±0.97))
    torch.testing.assert_close(x, torch.atanh(torch.tensor([[-0.97, -0.5, 0.0, 0.97]])))
    torch.testing.assert_close(states_to_images(x), torch.tensor([[0.015, 0.25, 0.5, 0.985]]))
    lin = images_to_states(p, num_neurons=4, data_map="linear")
    torch.testing.assert_close(lin, 2 * p - 1)
    torch.testing.assert_close(states_to_images(lin, data_map="linear"), p)


def test_data_of_the_wrong_width_is_rejected_naming_num_neurons():
    model = SPEC.build(**SPEC.test_config)  # N = 6
    batch = seqgen.SeqBatch.from_tensor(torch.randn(4, 1, 5))
    with pytest.raises(seqgen.ShapeError, match=r"num_neurons=6.*got \(4, 1, 5\).*num_neurons=5"):
        model.learning_statistics(batch)
    with pytest.raises(seqgen.ShapeError):
        model.log_prob(torch.randn(2, 3, 5))
    with pytest.raises(seqgen.ShapeError, match="x0"):
        model.state_from(torch.randn(2, 5))


def test_nan_data_is_rejected():
    model = SPEC.build(**SPEC.test_config)
    x = torch.randn(4, 1, 6)
    x[2, 0, 3] = float("nan")
    with pytest.raises(seqgen.DataError, match="NaN"):
        model.learning_statistics(seqgen.SeqBatch.from_tensor(x))


def test_diverging_chains_raise_training_error():
    # Δt = 50: the linear part of the drift multiplies x by (1 − Δt) = −49 per step, overflowing in 40 steps
    torch.manual_seed(0)
    model = LangevinMachine(LangevinConfig(num_neurons=6, dt=50.0, langevin_steps=40, num_model_chains=8))
    with pytest.raises(seqgen.TrainingError, match=r"model chains.*NaN/inf.*lower dt"):
        model.learning_statistics(seqgen.SeqBatch.from_tensor(torch.randn(4, 1, 6)))


def test_a_hole_is_read_as_zero_and_not_scored():
    torch.manual_seed(0)
    model = SPEC.build(**SPEC.test_config).double()
    x = torch.randn(1, 3, 6, dtype=torch.float64)
    mask = torch.tensor([[True, False, True]])
    filled = x.clone()
    filled[:, 1] = 0.0  # seqgen's zero-fill of a masked step
    with torch.no_grad():
        steps = model.step_log_probs(filled)  # [1, 3]
        torch.testing.assert_close(model.log_prob(x, mask=mask), steps[:, 0] + steps[:, 2])


def test_an_agent_with_context_is_rejected():
    with pytest.raises(seqgen.ShapeError, match="ConstantAgent"):
        LangevinMachine(LangevinConfig(num_neurons=4, num_model_chains=2), agent=ConstantAgent(3))


def test_record_steps_must_lie_in_the_run():
    model = SPEC.build(**SPEC.test_config)
    with pytest.raises(seqgen.ConfigError, match="record_at"):
        model.sample_chains(2, 5, record_at=(0, 6))
    with pytest.raises(seqgen.ConfigError, match="'num_chains' must be an integer >= 1"):
        model.sample_chains(0, 5)
    with pytest.raises(seqgen.ConfigError, match="'temperature' must be >= 0"):
        model.sample_chains(2, 5, temperature=-1.0)
    with pytest.raises(seqgen.ShapeError, match=r"x0: expected \[batch=2"):
        model.sample_chains(2, 5, x0=torch.zeros(3, 6))
    x, snaps, traces = model.sample_chains(2, 5, record_at=(5,), trace_neurons=torch.tensor([0]))
    assert torch.equal(snaps[0], x) and traces.shape == (6, 2, 1) and math.isfinite(float(x.sum()))
