"""TrainConfig validation and round trips; KL-annealing and LR schedules."""

import json
import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqgen import ConfigError, TrainConfig
from seqgen.train.schedules import LRHorizon, kl_weight, lr_factor, make_lr_scheduler

# ------------------------------------------------------------------ configs


@st.composite
def train_configs(draw):
    epochs = draw(st.none() | st.integers(1, 50))
    max_steps = draw(st.integers(1, 10_000)) if epochs is None else draw(st.none() | st.integers(1, 10_000))
    kl_schedule = draw(st.sampled_from(["none", "linear", "sigmoid", "cyclic"]))
    kl_cycles = draw(st.integers(1, 5))
    kl_warmup = draw(st.integers(kl_cycles, 500)) if kl_schedule != "none" else draw(st.integers(0, 500))
    lr_schedule = draw(st.sampled_from(["constant", "cosine", "step", "warmup_cosine"]))
    lr_warmup = draw(st.integers(1, 100)) if lr_schedule == "warmup_cosine" else draw(st.integers(0, 100))
    optimizer = draw(st.sampled_from(["adam", "adamw", "sgd"]))
    unit = st.floats(0.0, 0.999, allow_nan=False)
    return TrainConfig(
        lr=draw(st.floats(1e-6, 1.0)),
        optimizer=optimizer,
        weight_decay=draw(st.floats(0.0, 0.1)),
        betas=(draw(unit), draw(unit)),
        momentum=draw(unit) if optimizer == "sgd" else 0.0,
        grad_clip=draw(st.none() | st.floats(0.0, 10.0)),
        epochs=epochs,
        max_steps=max_steps,
        batch_size=draw(st.integers(1, 512)),
        kl_schedule=kl_schedule,
        kl_warmup_steps=kl_warmup,
        kl_floor=draw(st.floats(0.0, 1.0)),
        kl_cycles=kl_cycles,
        lr_schedule=lr_schedule,
        lr_warmup_steps=lr_warmup,
        seed=draw(st.integers(0, 2**31)),
        device=draw(st.sampled_from(["auto", "cpu", "cuda", "cuda:1"])),
        precision=draw(st.sampled_from(["fp32", "bf16", "fp16"])),
        num_threads=draw(st.none() | st.integers(1, 8)),
        out_dir=draw(st.none() | st.just("runs/a")),
        checkpoint_every=draw(st.none() | st.integers(1, 100)),
        eval_every=draw(st.none() | st.integers(1, 100)),
        early_stopping_patience=draw(st.none() | st.integers(1, 10)),
        early_stopping_metric=draw(st.none() | st.just("nll")),
        on_nonfinite=draw(st.sampled_from(["raise", "skip"])),
        progress=draw(st.sampled_from(["auto", "on", "off"])),
        tensorboard=draw(st.booleans()),
    )


@settings(max_examples=20, deadline=None)
@given(train_configs())
def test_dict_and_json_round_trips(cfg):
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@settings(max_examples=20, deadline=None)
@given(train_configs(), st.sampled_from([("lr", 0.0), ("batch_size", 0), ("device", "gpu"), ("kl_floor", 1.5), ("betas", (0.9, 1.0)), ("optimizer", "lbfgs")]))
def test_evolve_revalidates(cfg, change):
    key, bad = change
    with pytest.raises(ConfigError) as e:
        cfg.evolve(**{key: bad})
    assert e.value.key == key and repr(bad) in str(e.value)


def test_message_names_value_and_range():
    with pytest.raises(ConfigError, match=r"'lr' must be > 0 \(got 0.0\)"):
        TrainConfig(lr=0.0)
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        TrainConfig.from_dict({"batchsize": 3})


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"], ids=lambda d: f"device={d}")  # conftest skips ids named "cuda"
def test_device_pattern_accepts(device):
    assert TrainConfig(device=device).device == device


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "CPU", "mps", " cpu"])
def test_device_pattern_rejects(device):
    with pytest.raises(ConfigError, match="'device' must be"):
        TrainConfig(device=device)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"epochs": None, "max_steps": None}, "epochs"),
        ({"epochs": None, "max_minutes": 1.0, "lr_schedule": "cosine"}, "lr_schedule"),
        ({"max_minutes": 0.0}, "max_minutes"),
        ({"kl_schedule": "linear", "kl_warmup_steps": 0}, "kl_warmup_steps"),
        ({"kl_schedule": "cyclic", "kl_warmup_steps": 3, "kl_cycles": 4}, "kl_cycles"),
        ({"lr_schedule": "warmup_cosine", "lr_warmup_steps": 0}, "lr_warmup_steps"),
        ({"optimizer": "adam", "momentum": 0.9}, "momentum"),
        ({"grad_clip": -1.0}, "grad_clip"),
        ({"shuffle": 1}, "shuffle"),
        ({"out_dir": ""}, "out_dir"),
    ],
)
def test_cross_field_and_type_rules(kwargs, key):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**kwargs)
    assert e.value.key == key


def test_overrides_and_paths():
    cfg = TrainConfig().with_overrides(["lr=0.01", "grad_clip=None", "betas=[0.8, 0.9]", "out_dir=runs/x", "max_steps=7"])
    assert (cfg.lr, cfg.grad_clip, cfg.betas, cfg.out_dir, cfg.max_steps) == (0.01, None, (0.8, 0.9), "runs/x", 7)
    assert TrainConfig(out_dir=Path("a") / "b").out_dir == str(Path("a") / "b")
    assert TrainConfig(grad_clip=0.0).clip_norm is None and TrainConfig(grad_clip=2.0).clip_norm == 2.0


# ------------------------------------------------------------------ KL annealing


def test_kl_linear_with_floor():
    cfg = TrainConfig(kl_schedule="linear", kl_warmup_steps=10, kl_floor=0.2)
    assert [kl_weight(cfg, t) for t in (0, 5, 10, 50)] == pytest.approx([0.2, 0.6, 1.0, 1.0])
    assert kl_weight(TrainConfig(), 0) == 1.0


def test_kl_sigmoid_starts_at_floor_and_rises_to_one():
    cfg = TrainConfig(kl_schedule="sigmoid", kl_warmup_steps=100, kl_floor=0.1)
    w = [kl_weight(cfg, t) for t in range(0, 101)]
    assert w[0] == pytest.approx(0.1) and w[-1] == 1.0 and w[50] == pytest.approx(0.55)
    assert all(a < b for a, b in zip(w, w[1:]))


def test_kl_cyclic_follows_fu_et_al():
    # T = 40 steps, M = 4 cycles of L = 10, R = 0.5: rises over 5 steps, holds 1 for 5, repeats; 1 after T.
    cfg = TrainConfig(kl_schedule="cyclic", kl_warmup_steps=40, kl_cycles=4, kl_cycle_ratio=0.5)
    w = [kl_weight(cfg, t) for t in range(45)]
    cycle = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert w[:40] == pytest.approx(cycle * 4)
    assert w[40:] == [1.0] * 5


# ------------------------------------------------------------------ LR schedules


def test_lr_factor_shapes():
    warm = TrainConfig(lr_schedule="warmup_cosine", lr_warmup_steps=4, lr_min_factor=0.1)
    assert [lr_factor(warm, t, 14) for t in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lr_factor(warm, 9, 14) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(warm, 14, 14) == pytest.approx(0.1) and lr_factor(warm, 99, 14) == pytest.approx(0.1)
    step = TrainConfig(lr_schedule="step", lr_step_size=3, lr_gamma=0.5)
    assert [lr_factor(step, t, None) for t in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    assert lr_factor(TrainConfig(lr_schedule="cosine"), 5, None) == 1.0  # horizon unknown yet


def test_lambda_lr_applies_factor_and_state_is_json():
    cfg = TrainConfig(lr=0.2, lr_schedule="cosine", lr_warmup_steps=2)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=cfg.lr)
    horizon = LRHorizon(10)
    sched = make_lr_scheduler(opt, cfg, horizon)
    seen = []
    for t in range(10):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.2 * lr_factor(cfg, t, 10) for t in range(10)])
    json.dumps(sched.state_dict())  # numbers only: no pickled callables
