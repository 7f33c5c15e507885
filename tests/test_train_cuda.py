"""TrainOps on a CUDA GPU: device moves, bf16/fp16 autocast, GradScaler checkpoints, the deferred NaN check."""

import math

import pytest
import torch
from train_fixtures import GaussianAR1, TinyLatent, ar1_batch, params_of

from seqgen import ConfigError, TrainConfig, TrainingError, TrainOps

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"),
]


def cfg(**kw):
    base = dict(max_steps=6, batch_size=8, lr=0.05, device="cuda", progress="off", log_every=2)
    return TrainConfig(**{**base, **kw})


def test_fit_moves_the_model_and_matches_cpu_evaluation():
    torch.manual_seed(0)
    model = GaussianAR1()
    ops = TrainOps(model, cfg())
    history = ops.fit(ar1_batch(), ar1_batch(seed=1))
    assert ops.device.type == "cuda" and model.coef.device.type == "cuda"
    assert all(math.isfinite(v) for v in history.losses)
    on_gpu = ops.evaluate(ar1_batch(seed=1))["nll"]
    cpu = TrainOps(model.cpu(), cfg(device="cpu")).evaluate(ar1_batch(seed=1))["nll"]
    assert on_gpu == pytest.approx(cpu, rel=1e-5)  # float32 on both; reduction order differs


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains(precision):
    torch.manual_seed(0)
    ops = TrainOps(TinyLatent(), cfg(precision=precision))
    history = ops.fit(ar1_batch())
    assert all(math.isfinite(v) for v in history.losses)
    assert (ops.slots["main"].scaler is not None) == (precision == "fp16")


def test_fp16_scaler_state_survives_resume(tmp_path):
    torch.manual_seed(0)
    full = TrainOps(GaussianAR1(), cfg(precision="fp16", max_steps=8, checkpoint_every=3, keep_checkpoints=None, out_dir=str(tmp_path)))
    full.fit(ar1_batch())
    resumed = TrainOps.resume(tmp_path / "checkpoints" / "step-00000003", GaussianAR1())
    resumed.fit(ar1_batch())
    assert resumed.slots["main"].scaler.get_scale() == full.slots["main"].scaler.get_scale()
    assert torch.equal(torch.tensor(resumed.history.losses), torch.tensor(full.history.losses[3:]))


def test_deferred_nonfinite_check_still_names_the_step(tmp_path):
    torch.manual_seed(0)
    model = GaussianAR1()
    model.poison_calls = {3}
    with pytest.raises(TrainingError, match=r"step 3: loss term 'nll' is nan"):
        TrainOps(model, cfg(out_dir=str(tmp_path), checkpoint_every=1, log_every=100)).fit(ar1_batch())
    assert (tmp_path / "latest").read_text().strip().endswith("step-00000002")
    weights = TrainOps.load_model(tmp_path, GaussianAR1())  # CUDA checkpoint, loaded on the CPU
    assert all(torch.isfinite(v).all() and v.device.type == "cpu" for v in params_of(weights).values())


def test_missing_device_index_is_a_config_error():
    n = torch.cuda.device_count()
    with pytest.raises(ConfigError, match=f"this machine has {n} CUDA device"):
        TrainOps(GaussianAR1(), cfg(device=f"cuda:{n}")).fit(ar1_batch())
