"""A seeded check that training improves the ELBO on a tiny real dataset (JSB chorales), with
TrainOps' KL annealing, and that a trained model's checkpoint round-trips through TrainOps."""

from pathlib import Path

import pytest
import torch

import seqgen
from seqgen_srnn import SPEC

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "jsb_chorales_quarter_trainvalid.json"


@pytest.fixture(scope="module")
def chorales():
    if not DATA.exists():
        pytest.skip(f"JSB chorales not found at {DATA} (the shared data directory is absent)")
    train = seqgen.load_data(f"pianoroll:{DATA}", split="train")
    pieces = [train[i].x[:24] for i in range(12)]  # 12 chorales, first 24 quarter notes: [24, 88]
    return seqgen.SequenceDataset(pieces, obs_kind="bernoulli")


def test_elbo_improves_on_tiny_chorales(chorales, tmp_path):
    torch.manual_seed(0)
    model = SPEC.build(obs_dim=88, z_dim=4, d_dim=24, a_dim=24, mlp_hidden=24, decoder_hidden=(24,))
    config = seqgen.TrainConfig(
        max_steps=60, epochs=None, batch_size=6, lr=0.01, seed=0, kl_schedule="linear", kl_warmup_steps=20,
        device="cpu", progress="off", log_every=10, out_dir=str(tmp_path / "run"),
    )
    ops = seqgen.TrainOps(model, config, model_name="srnn")
    before = ops.evaluate(chorales)["neg_elbo_bound"]
    ops.fit(chorales)
    after = ops.evaluate(chorales)["neg_elbo_bound"]
    # Seeded. An untrained model scores ~61 nats/step (88 coin flips); 60 steps reach ~11, so a
    # margin of 20 nats is far outside the single-sample noise of the bound (< 1 nat/step here).
    assert after < before - 20, (before, after)
    reloaded = seqgen.TrainOps.load_model(tmp_path / "run", SPEC.build(model.config))
    x = chorales[0].x[None]
    torch.manual_seed(1)
    a = model.elbo(x)
    torch.manual_seed(1)
    torch.testing.assert_close(reloaded.elbo(x), a)


def test_bf16_training_on_the_cpu_tracks_fp32(chorales):
    # TrainConfig(precision='bf16'): the GRUs' whole-sequence products and the MLPs run in bf16, the
    # recurrences and the loss in float32. Same seed, same 30 steps: the validation bound lands
    # within 1 % of the fp32 run's (bf16 keeps 8 significant bits; seeded, so the noise is the same).
    scores = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = SPEC.build(obs_dim=88, z_dim=4, d_dim=24, a_dim=24, mlp_hidden=24, decoder_hidden=(24,))
        config = seqgen.TrainConfig(max_steps=30, epochs=None, batch_size=6, lr=0.01, seed=0, device="cpu", progress="off", precision=precision)
        ops = seqgen.TrainOps(model, config)
        ops.fit(chorales)
        assert all(p.dtype == torch.float32 for p in model.parameters())
        scores[precision] = ops.evaluate(chorales)["neg_elbo_bound"]
    assert scores["fp32"] != scores["bf16"]
    assert abs(scores["bf16"] - scores["fp32"]) <= 0.01 * scores["fp32"], scores
