"""Checkpoints: layout and contents, no pickle, atomic writes, corruption, fallback, identity checks."""

import json
import os
import pickle

import pytest
import safetensors.torch
import torch
from train_fixtures import GaussianAR1, ObsConfig, TinyLatent, TinyPhased, ar1_batch, params_of

import seqgen
from seqgen import CheckpointError, ModelSpec, TrainConfig, TrainOps
from seqgen.train.checkpoint import flatten, load_run, read_checkpoint, unflatten


def cfg(**kw):
    base = dict(max_steps=4, batch_size=8, lr=0.05, device="cpu", progress="off", log_every=2)
    return TrainConfig(**{**base, **kw})


def trained(tmp_path, model=None, **kw):
    torch.manual_seed(0)
    ops = TrainOps(model or GaussianAR1(), cfg(out_dir=str(tmp_path), **kw), model_name="test-ar1", model_version="1.0")
    ops.fit(ar1_batch())
    return ops


def test_flatten_round_trips_optimizer_state():
    p = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.Adam([p], lr=0.1, betas=(0.8, 0.9))
    p.grad = torch.ones(3)
    opt.step()
    tensors = {}
    tree = flatten(opt.state_dict(), "optim/main", tensors)
    assert json.loads(json.dumps(tree)) == tree and set(tensors) == {"optim/main/state/0/step", "optim/main/state/0/exp_avg", "optim/main/state/0/exp_avg_sq"}
    back = unflatten(json.loads(json.dumps(tree)), tensors)
    assert back["param_groups"] == opt.state_dict()["param_groups"]  # betas come back as a tuple
    assert isinstance(back["param_groups"][0]["betas"], tuple) and 0 in back["state"]


def test_layout_and_contents(tmp_path):
    ops = trained(tmp_path, checkpoint_every=2)
    assert (tmp_path / "latest").read_text() == "checkpoints/step-00000004\n"
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["step-00000002", "step-00000004"]
    ckpt = tmp_path / "checkpoints" / "step-00000004"
    assert sorted(os.listdir(ckpt)) == ["state.json", "tensors.safetensors"]  # no temporary files left
    meta = json.loads((ckpt / "state.json").read_text())
    assert meta["model"] == {"name": "test-ar1", "version": "1.0", "class": "train_fixtures.GaussianAR1", "config": {"obs_dim": 2}}
    assert meta["seqgen_version"] == seqgen.__version__ and meta["run"]["step"] == 4 and meta["run"]["epoch"] == 1
    assert TrainConfig.from_dict(meta["train_config"]) == ops.config
    assert set(meta["rng"]["0"]) == {"numpy", "python"}
    tensors = safetensors.torch.load_file(ckpt / "tensors.safetensors")
    assert tensors["rng/0/torch_cpu"].dtype == torch.uint8
    assert torch.equal(tensors["model/coef"], ops.model.coef.detach())
    assert any(k.startswith("optim/main/state/") for k in tensors) and meta["sched"]["main"]["last_epoch"] == 4


def test_loading_never_unpickles(tmp_path, monkeypatch):
    trained(tmp_path)

    def refuse(*a, **k):
        raise AssertionError("unpickling during load")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    ops = TrainOps.resume(tmp_path, GaussianAR1())
    assert ops.state.step == 4
    TrainOps.load_model(tmp_path, GaussianAR1())


def test_crash_mid_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    ops = trained(tmp_path)
    good = params_of(ops.model)
    ops.fit(ar1_batch())  # nothing to do: already at max_steps
    ops.config = ops.config.evolve(max_steps=6)
    real_replace = os.replace

    def crash(src, dst):
        if str(dst).endswith("state.json"):  # tensors written, state.json not yet
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(CheckpointError, match=r"step-00000006: could not be written \(OSError.*previous checkpoint .*step-00000004 is intact"):
        ops.fit(ar1_batch())
    monkeypatch.setattr(os, "replace", real_replace)
    assert (tmp_path / "latest").read_text().strip() == "checkpoints/step-00000004"
    assert not [f for f in os.listdir(tmp_path / "checkpoints" / "step-00000006") if f.endswith(".tmp")]
    resumed = TrainOps.resume(tmp_path, GaussianAR1())  # `latest` never named the half-written step 6
    assert resumed.state.step == 4
    assert all(torch.equal(good[k], v) for k, v in params_of(resumed.model).items())


def test_truncated_file_is_reported_and_resume_falls_back(tmp_path):
    trained(tmp_path, checkpoint_every=2)
    newest = tmp_path / "checkpoints" / "step-00000004" / "tensors.safetensors"
    newest.write_bytes(newest.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"step-00000004/tensors.safetensors: does not match the checksum.*delete this checkpoint"):
        read_checkpoint(newest.parent)
    with pytest.warns(UserWarning, match="falling back to .*step-00000002"):
        ops = TrainOps.resume(tmp_path, GaussianAR1())
    assert ops.state.step == 2


def test_unreadable_state_and_empty_runs(tmp_path):
    trained(tmp_path)
    state = tmp_path / "checkpoints" / "step-00000004" / "state.json"
    state.write_text("{not json")
    with pytest.raises(CheckpointError, match="state.json: is not readable JSON"):
        read_checkpoint(state.parent)
    with pytest.raises(CheckpointError, match="holds no readable checkpoint"):
        load_run(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        TrainOps.resume(tmp_path / "empty", GaussianAR1())
    with pytest.raises(CheckpointError, match="does not exist"):
        TrainOps.load_model(tmp_path / "nope", GaussianAR1())


def test_failed_start_does_not_look_like_a_run(tmp_path):
    model = GaussianAR1()
    model.poison_calls = {1}
    with pytest.raises(seqgen.TrainingError, match="step 1"):
        TrainOps(model, cfg(out_dir=str(tmp_path), checkpoint_every=1)).fit(ar1_batch())
    assert not (tmp_path / "latest").exists() and not (tmp_path / "checkpoints").exists()


def test_keep_checkpoints_prunes_old_ones(tmp_path):
    trained(tmp_path, checkpoint_every=1, keep_checkpoints=2)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["step-00000003", "step-00000004"]


def test_identity_checks(tmp_path):
    trained(tmp_path)
    with pytest.raises(CheckpointError, match="written by model name 'test-ar1', not 'other'"):
        TrainOps.resume(tmp_path, GaussianAR1(), model_name="other")
    with pytest.raises(CheckpointError, match="written by model version '1.0', not '2.0'"):
        TrainOps.resume(tmp_path, GaussianAR1(), model_version="2.0")
    with pytest.raises(CheckpointError, match="holds a train_fixtures.GaussianAR1, not a train_fixtures.TinyPhased"):
        TrainOps.resume(tmp_path, TinyPhased())
    with pytest.raises(CheckpointError, match="another model config .*obs_dim: saved 2, given 3"):
        TrainOps.resume(tmp_path, GaussianAR1(ObsConfig(obs_dim=3)))


def test_registry_rebuilds_the_model(tmp_path):
    ops = trained(tmp_path)
    spec = ModelSpec(name="test-ar1", model_cls=GaussianAR1, config_cls=ObsConfig, capabilities=GaussianAR1.capabilities, version="1.0")
    seqgen.registry.register(spec, replace=True)
    try:
        resumed = TrainOps.resume(tmp_path)
        assert isinstance(resumed.model, GaussianAR1) and resumed.state.step == 4
        model = TrainOps.load_model(tmp_path)
        assert not model.training
        assert all(torch.equal(v, params_of(ops.model)[k]) for k, v in params_of(model).items())
        newer = ModelSpec(name="test-ar1", model_cls=GaussianAR1, config_cls=ObsConfig, capabilities=GaussianAR1.capabilities, version="2.0")
        seqgen.registry.register(newer, replace=True)
        with pytest.raises(CheckpointError, match="version '1.0', but version '2.0' is installed"):
            TrainOps.resume(tmp_path)
    finally:
        seqgen.registry.unregister("test-ar1")


def test_unnamed_model_needs_model_argument(tmp_path):
    torch.manual_seed(0)
    ops = TrainOps(GaussianAR1(), cfg())
    ops.fit(ar1_batch())
    path = ops.save(tmp_path)
    assert path == tmp_path / "checkpoints" / "step-00000004"
    with pytest.raises(CheckpointError, match="does not name a registered model"):
        TrainOps.load_model(tmp_path)


def test_tied_weights_and_phased_optimizers_save(tmp_path):
    torch.manual_seed(0)
    model = TinyLatent()
    model.dec.weight = model.enc.weight  # tied: safetensors refuses shared storage unless copied
    ops = TrainOps(model, cfg())
    ops.fit(ar1_batch())
    ops.save(tmp_path)
    again = TinyLatent()
    again.dec.weight = again.enc.weight
    assert torch.equal(TrainOps.load_model(tmp_path, again).enc.weight, model.enc.weight)
    phased = TrainOps(TinyPhased(), cfg())
    phased.fit(ar1_batch())
    phased.save(tmp_path / "p")
    resumed = TrainOps.resume(tmp_path / "p", TinyPhased())
    for name in ("mean", "scale"):
        assert resumed.slots[name].optimizer.state_dict()["param_groups"] == phased.slots[name].optimizer.state_dict()["param_groups"]
