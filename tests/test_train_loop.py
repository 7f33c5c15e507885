"""TrainOps.fit/evaluate on the three objective kinds: updates, metrics, guards, logs and errors."""

import json
import math
import os

import pytest
import torch
from train_fixtures import GaussianAR1, TinyLatent, TinyLocalRule, TinyPhased, ar1_batch, stack_collate

from seqgen import ConfigError, DataError, SeqBatch, ShapeError, TrainConfig, TrainingError, TrainOps
from seqgen.train.runlog import progress_enabled
from seqgen.train.schedules import kl_weight, lr_factor


def cfg(**kw):
    base = dict(max_steps=6, batch_size=8, lr=0.05, device="cpu", progress="off", log_every=2)
    return TrainConfig(**{**base, **kw})


def test_fit_lowers_the_exact_nll_and_records_history():
    torch.manual_seed(0)
    train, valid = ar1_batch(n=32), ar1_batch(n=16, seed=1)
    ops = TrainOps(GaussianAR1(), cfg(max_steps=None, epochs=6))
    before = ops.evaluate(valid)["nll"]
    history = ops.fit(train, valid)
    assert len(history.losses) == 24 and ops.state.step == 24 and ops.state.epoch == 6
    assert [r["step"] for r in history] == [4, 8, 12, 16, 20, 24]  # one evaluation per epoch
    assert set(history[0]) == {"step", "epoch", "train/nll", "valid/nll"}
    assert history[-1]["valid/nll"] < before - 0.5  # deterministic data and seed; margin is ~1 nat


def test_evaluate_weights_batches_by_observed_steps():
    torch.manual_seed(0)
    data = ar1_batch(n=13, time=9, ragged=True, seed=3)
    model = GaussianAR1()
    ops = TrainOps(model, cfg(batch_size=5))  # batches of 5, 5, 3 with different observed counts
    exact = -model.log_prob(data.x, mask=data.mask).detach().sum() / data.mask.sum()
    assert ops.evaluate(data)["nll"] == pytest.approx(float(exact), rel=1e-6)  # float32 sums


def test_same_seed_same_losses_and_other_seed_differs():
    def run(seed):
        torch.manual_seed(0)
        return TrainOps(TinyLatent(), cfg(seed=seed)).fit(ar1_batch()).losses

    a, b, c = run(1), run(1), run(2)
    assert torch.equal(torch.tensor(a), torch.tensor(b))
    assert a != c


def test_kl_weight_from_the_schedule_reaches_the_loss():
    torch.manual_seed(0)
    model = TinyLatent()
    seen = []
    original = model._elbo_loss

    def spy(batch, beta):
        seen.append(beta)
        return original(batch, beta)

    model._elbo_loss = spy
    config = cfg(kl_schedule="linear", kl_warmup_steps=4, kl_floor=0.1)
    TrainOps(model, config).fit(ar1_batch())
    assert seen == [kl_weight(config, t) for t in range(6)]
    assert seen[:2] == pytest.approx([0.1, 0.325])


def test_gradient_is_clipped_to_the_global_norm():
    torch.manual_seed(0)
    model = GaussianAR1()
    before = torch.cat([p.detach().clone().reshape(-1) for p in model.parameters()])
    TrainOps(model, cfg(max_steps=1, optimizer="sgd", lr=1.0, grad_clip=1e-3)).fit(ar1_batch())
    after = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    assert (after - before).norm() == pytest.approx(1e-3, rel=1e-4)  # SGD, lr 1: the step is the clipped gradient


def test_lr_schedule_is_applied_per_step():
    torch.manual_seed(0)
    config = cfg(max_steps=5, lr_schedule="warmup_cosine", lr_warmup_steps=2, lr_min_factor=0.2)
    ops = TrainOps(GaussianAR1(), config)
    ops.fit(ar1_batch())
    assert ops.slots["main"].optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * lr_factor(config, 5, 5))


def test_phased_steps_each_group_with_its_own_optimizer():
    torch.manual_seed(0)
    data = ar1_batch(n=8)
    model = TinyPhased()
    ops = TrainOps(model, cfg(max_steps=2, batch_size=8, shuffle=False))
    ref = TinyPhased()
    ref.load_state_dict(model.state_dict())
    sgd = torch.optim.SGD([ref.mu], lr=TinyPhased.mean_lr)
    adam = torch.optim.Adam([ref.log_sigma], lr=TinyPhased.scale_lr, betas=TinyPhased.scale_betas)
    for _ in range(2):
        for opt in (sgd, adam):  # every loss reaches both groups; only the phase's group is stepped
            ref.zero_grad()
            ref._phase_loss(data).loss.backward()
            opt.step()
    history = ops.fit(data)
    assert torch.allclose(model.mu, ref.mu, atol=1e-6) and torch.allclose(model.log_sigma, ref.log_sigma, atol=1e-6)
    assert set(history.phase_losses) == {"mean", "scale"} and len(history.phase_losses["mean"]) == 2
    assert {"train/mean/nll", "train/scale/nll", "step", "epoch"} == set(history[0])


def test_local_rule_writes_directions_and_leaves_others():
    torch.manual_seed(0)
    data = ar1_batch(n=8)
    model = TinyLocalRule()
    TrainOps(model, cfg(max_steps=1, optimizer="sgd", lr=1.0)).fit(data)
    mean = data.x.reshape(-1, 2).mean(0)
    assert torch.allclose(model.mu.detach(), mean, atol=1e-6)  # μ ← μ - 1·(μ - x̄)
    assert torch.equal(model.frozen.detach(), torch.ones(2)) and model.frozen.grad is None


def test_local_rule_rejects_unknown_names_and_shapes():
    model = TinyLocalRule()
    model.extra_grads = {"muu": torch.zeros(2)}
    with pytest.raises(TrainingError, match="'muu'.*did you mean|'muu'.*e.g. 'mu'"):
        TrainOps(model, cfg()).fit(ar1_batch())
    model.extra_grads = {"frozen": torch.zeros(3)}
    with pytest.raises(ShapeError, match=r"grads\['frozen'\]: expected \(2,\), got \(3,\)"):
        TrainOps(model, cfg()).fit(ar1_batch())


def test_nonfinite_loss_raises_naming_step_and_term(tmp_path):
    torch.manual_seed(0)
    model = GaussianAR1()
    model.poison_calls = {3}
    ops = TrainOps(model, cfg(out_dir=str(tmp_path), checkpoint_every=1))
    with pytest.raises(TrainingError, match=r"step 3: loss term 'nll' is nan") as e:
        ops.fit(ar1_batch())
    assert e.value.step == 3
    assert (tmp_path / "latest").read_text().strip().endswith("step-00000002")  # the last good one
    assert not (tmp_path / "checkpoints" / "step-00000003").exists()


def test_nonfinite_skip_counts_and_goes_on():
    torch.manual_seed(0)
    model = GaussianAR1()
    model.poison_calls = {2}
    history = TrainOps(model, cfg(on_nonfinite="skip")).fit(ar1_batch())
    assert history.skipped == 1 and math.isnan(history.losses[1]) and len(history.losses) == 6
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert math.isfinite(history[-1]["train/nll"])  # the skipped batch is not averaged in


def test_device_and_precision_errors_at_fit_time():
    if not torch.cuda.is_available():
        ops = TrainOps(GaussianAR1(), cfg(device="cuda"))  # building is fine: configs travel
        with pytest.raises(ConfigError, match="no CUDA GPU is present"):
            ops.fit(ar1_batch())
    with pytest.raises(ConfigError, match="precision='fp16' needs a cuda device, but training runs on cpu.*use precision='bf16'"):
        TrainOps(GaussianAR1(), cfg(precision="fp16", device="cpu")).fit(ar1_batch())


def test_bf16_on_the_cpu_trains_under_autocast():
    # TinyLatent's linear layers run under torch.autocast('cpu', bfloat16); parameters and gradients
    # stay float32, and the run follows the fp32 one to bf16's precision (8 significant bits: the
    # stated tolerance is 2 % of the loss after 6 steps).
    class Recording(TinyLatent):
        def _elbo_terms(self, x, context, mask, lengths):
            self.autocast_seen.append(torch.is_autocast_enabled("cpu"))
            return super()._elbo_terms(x, context, mask, lengths)

    runs = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = Recording()
        model.autocast_seen = []
        runs[precision] = TrainOps(model, cfg(precision=precision)).fit(ar1_batch())
        assert model.autocast_seen and set(model.autocast_seen) == {precision == "bf16"}
        assert all(p.dtype == torch.float32 for p in model.parameters())
    a, b = runs["fp32"].losses[-1], runs["bf16"].losses[-1]
    assert a != b and abs(a - b) <= 0.02 * (1 + abs(a))


def test_data_errors():
    ops = TrainOps(GaussianAR1(), cfg(), collate_fn=lambda items: torch.stack(items))
    with pytest.raises(DataError, match="train: expected a map-style dataset"):
        ops.fit(x for x in range(3))
    with pytest.raises(DataError, match="train: is empty"):
        ops.fit([])
    with pytest.raises(DataError, match="collate_fn: expected it to return a seqgen.SeqBatch, got Tensor"):
        ops.fit([torch.zeros(4, 2)] * 4)
    with pytest.raises(ConfigError, match="model: expected a seqgen.SequenceModel"):
        TrainOps(torch.nn.Linear(2, 2))


def test_datasets_of_items_with_given_and_default_collate():
    torch.manual_seed(0)
    items = list(ar1_batch(n=12).x)  # 12 tensors [time, obs_dim]
    a = TrainOps(GaussianAR1(), cfg(), collate_fn=stack_collate).fit(items).losses
    torch.manual_seed(0)
    b = TrainOps(GaussianAR1(), cfg()).fit(items).losses  # seqgen.data.collate.collate
    torch.manual_seed(0)
    c = TrainOps(GaussianAR1(), cfg()).fit(SeqBatch.from_tensor(torch.stack(items))).losses
    assert a == b == c


def test_worker_processes_give_the_same_losses():
    torch.manual_seed(0)
    a = TrainOps(GaussianAR1(), cfg(max_steps=4)).fit(ar1_batch()).losses
    torch.manual_seed(0)
    b = TrainOps(GaussianAR1(), cfg(max_steps=4, num_workers=1)).fit(ar1_batch()).losses
    assert a == b


def test_metrics_jsonl_events(tmp_path):
    torch.manual_seed(0)
    TrainOps(TinyLatent(), cfg(out_dir=str(tmp_path), kl_schedule="linear", kl_warmup_steps=4)).fit(ar1_batch(), ar1_batch(seed=1))
    events = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [e for e in events if e["phase"] == "train"]
    assert [e["step"] for e in train] == [2, 4, 6]
    assert set(train[0]) == {"step", "epoch", "phase", "metrics", "lr", "kl_weight", "time"}
    assert set(train[0]["metrics"]) == {"neg_elbo_bound", "rec", "kl"} and train[0]["kl_weight"] == 0.25
    assert [e["step"] for e in events if e["phase"] == "valid"] == [4, 6]  # epoch end, then the final one


def test_no_out_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    TrainOps(GaussianAR1(), cfg()).fit(ar1_batch())
    assert os.listdir(tmp_path) == []


def test_progress_and_tensorboard_switches(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("CI", "1")
    assert progress_enabled("auto") is False and progress_enabled("on") is True and progress_enabled("off") is False
    TrainOps(GaussianAR1(), cfg(progress="on", max_steps=3)).fit(ar1_batch())
    assert "3/3" in capsys.readouterr().err
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.warns(UserWarning, match="TensorBoard is not importable"):
            TrainOps(GaussianAR1(), cfg(tensorboard=True, out_dir=str(tmp_path))).fit(ar1_batch())
        assert (tmp_path / "metrics.jsonl").exists()


def test_max_minutes_stops_after_the_step_that_crosses_the_budget(monkeypatch, tmp_path):
    import seqgen.train.trainops as trainops_module

    config = cfg(max_steps=None, epochs=None, max_minutes=2.0, eval_every=1000, out_dir=str(tmp_path))
    ops = TrainOps(GaussianAR1(), config)
    # a fake clock where each step takes 30 s: fit starts at 0 s, step 4 is the first at 120 s
    monkeypatch.setattr(trainops_module.time, "perf_counter", lambda: 30.0 * ops.state.step)
    history = ops.fit(ar1_batch(), ar1_batch(seed=1))
    assert ops.state.step == 4 and [r["step"] for r in history] == [4]  # evaluated at the end
    assert (tmp_path / "checkpoints" / "step-00000004").is_dir()  # checkpointed at the end
    assert TrainConfig(epochs=None, max_minutes=1.0, lr_schedule="step").max_steps is None


def test_early_stopping_and_eval_every():
    torch.manual_seed(0)
    config = cfg(max_steps=40, lr=1e-9, eval_every=3, early_stopping_patience=2)
    ops = TrainOps(GaussianAR1(), config)
    history = ops.fit(ar1_batch(), ar1_batch(seed=1))  # lr ~ 0: the metric never improves
    assert [r["step"] for r in history] == [3, 6, 9] and ops.state.step == 9 and ops.state.best_step == 3
    with pytest.raises(ConfigError, match="'early_stopping_metric' 'acc' is not an evaluation metric"):
        TrainOps(GaussianAR1(), cfg(early_stopping_metric="acc", eval_every=2)).fit(ar1_batch(), ar1_batch(seed=1))
