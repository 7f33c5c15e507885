"""Resumption is exact: an interrupted and resumed run reproduces the uninterrupted one bit for bit."""

import json

import pytest
import torch
from train_fixtures import GaussianAR1, TinyLatent, TinyLocalRule, TinyPhased, ar1_batch, params_of

from seqgen import TrainConfig, TrainOps

N_STEPS, EVERY = 13, 5  # 30 sequences in batches of 8: 4 batches per epoch, so steps 5 and 10 are mid-epoch

CASES = {
    "ar1-adam-warmup-cosine-clip": (GaussianAR1, dict(lr_schedule="warmup_cosine", lr_warmup_steps=3, grad_clip=1.0)),
    "latent-adamw-kl-linear": (TinyLatent, dict(optimizer="adamw", weight_decay=0.01, kl_schedule="linear", kl_warmup_steps=6)),
    "phased-step-lr": (TinyPhased, dict(lr_schedule="step", lr_step_size=4, lr_gamma=0.5)),
    "local-sgd-momentum": (TinyLocalRule, dict(optimizer="sgd", momentum=0.9, lr=0.3)),
}


def config(out_dir, **kw):
    base = dict(max_steps=N_STEPS, batch_size=8, lr=0.05, device="cpu", progress="off", log_every=3,
                checkpoint_every=EVERY, keep_checkpoints=None, out_dir=None if out_dir is None else str(out_dir), seed=7)
    return TrainConfig(**{**base, **kw})


def data():
    return ar1_batch(n=30, ragged=True, seed=5), ar1_batch(n=10, seed=6)


def full_run(model_cls, out_dir, **kw):
    torch.manual_seed(0)
    ops = TrainOps(model_cls(), config(out_dir, **kw))
    ops.fit(*data())
    return ops


@pytest.mark.parametrize("case", list(CASES))
def test_resume_mid_epoch_reproduces_every_loss(case, tmp_path):
    model_cls, kw = CASES[case]
    full = full_run(model_cls, tmp_path / "a", **kw)
    losses = torch.tensor(full.history.losses)
    assert len(losses) == N_STEPS and torch.isfinite(losses).all()

    resumed = TrainOps.resume(tmp_path / "a" / "checkpoints" / f"step-{EVERY:08d}", model_cls())
    assert (resumed.state.step, resumed.state.epoch, resumed.state.batch_in_epoch) == (5, 1, 1)
    history = resumed.fit(*data())
    assert history.start_step == EVERY
    assert torch.equal(torch.tensor(history.losses), losses[EVERY:])  # bit-identical, not just close
    assert list(history) == list(full.history)  # evaluation records (train and valid metrics) too
    after, expected = params_of(resumed.model), params_of(full.model)
    assert all(torch.equal(after[k], expected[k]) for k in expected)


def test_resume_after_a_crash_continues_from_latest(tmp_path):
    full = full_run(TinyLatent, tmp_path / "full")
    full_events = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]

    torch.manual_seed(0)
    model = TinyLatent()
    calls = {"n": 0}
    original = model._elbo_loss

    def power_cut(batch, beta):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt("power cut")
        return original(batch, beta)

    model._elbo_loss = power_cut
    with pytest.raises(KeyboardInterrupt):
        TrainOps(model, config(tmp_path / "run")).fit(*data())
    assert (tmp_path / "run" / "latest").read_text().strip() == "checkpoints/step-00000005"

    history = TrainOps.resume(tmp_path / "run", TinyLatent()).fit(*data())
    assert torch.equal(torch.tensor(history.losses), torch.tensor(full.history.losses[EVERY:]))
    events = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    # The crashed run's events after step 5 were dropped and written again, identically.
    assert [(e["step"], e["phase"], e["metrics"]) for e in events] == [(e["step"], e["phase"], e["metrics"]) for e in full_events]


def test_train_k_save_resume_with_more_steps(tmp_path):
    torch.manual_seed(0)
    full = TrainOps(GaussianAR1(), config(None, checkpoint_every=None, eval_every=100))
    full.fit(*data())
    torch.manual_seed(0)
    first = TrainOps(GaussianAR1(), config(None, checkpoint_every=None, eval_every=100, max_steps=6))
    first.fit(*data())
    first.save(tmp_path)
    second = TrainOps.resume(tmp_path, GaussianAR1(), overrides={"max_steps": N_STEPS})
    second.fit(*data())
    assert torch.equal(torch.tensor(first.history.losses + second.history.losses), torch.tensor(full.history.losses))
