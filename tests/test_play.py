"""The agents-in-the-loop workflow of ``examples/play_cartpole.py`` on the toy ``Balance`` environment.

No plugin and no gymnasium are needed (the built-in ``rnn`` model stands in for the default SRNN),
except by the smoke run of the example itself, which is skipped without gymnasium.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import seqgen
from seqgen import EnvCore, with_policy
from test_envs import Balance  # the toy environment (tests/ is on sys.path under pytest)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "play_cartpole.py"
HORIZON = 20  # Balance's episodes are capped here: a random policy earns about 10, the best 19


@pytest.fixture(scope="module")
def play():
    spec = importlib.util.spec_from_file_location("play_cartpole", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mean_return(core, policy, play, n=128):
    return float(play.evaluate(core, policy, n, HORIZON).mean())


def test_policy_gradient_improves_return_on_the_toy_task(play):
    seqgen.seed_everything(0)
    core = EnvCore(Balance, seed=0)
    policy = core.policy(hidden=8)
    before = mean_return(core, policy, play)
    curve = play.train_policy(core, policy, iters=25, batch=32, horizon=HORIZON, lr=0.03)
    after = mean_return(core, policy, play)
    # seed 0: 10.2 -> 18.9 (19 is the best possible); the margin of 5 over 128-episode means (sd of a mean
    # about 0.4) leaves room for other torch builds, while a wrong gradient sign cannot pass it.
    assert after > before + 5.0, (before, after, curve[::10])


def test_env_step_budget_stops_real_training(play):
    seqgen.seed_everything(0)
    core = EnvCore(Balance, seed=0)
    curve = play.train_policy(core, core.policy(hidden=8), iters=1000, batch=8, horizon=HORIZON, max_env_steps=200)
    assert 200 <= core.env_steps < 200 + 8 * HORIZON and len(curve) < 1000  # stops at the first batch past it


def test_policy_trained_only_in_a_learned_model_improves_real_return(play):
    seqgen.seed_everything(0)
    core = EnvCore(Balance, seed=0)
    random = play.uniform_policy(core, 8)
    data = play.collect(core, random, 128, HORIZON)
    steps = core.env_steps
    model = play.build_model("rnn", core, {"hidden": 32, "embed_dim": 0, "decoder_hidden": [32]})
    play.train_model(model, data.to_batch(), steps=300, seed=0)
    policy = core.policy(hidden=8)
    play.train_policy(model.eval(), with_policy(model.agent, policy), iters=40, batch=32, horizon=HORIZON, lr=0.03)
    assert core.env_steps == steps  # training in the model took no real step
    before, after = mean_return(core, random, play), mean_return(core, policy, play)
    # seed 0: 10.5 -> 19.0; a model that had not learned the dynamics or the done flag gives about 10
    assert after > before + 4.0, (before, after)


@pytest.mark.skipif(importlib.util.find_spec("gymnasium") is None, reason="the example needs gymnasium: pip install 'seqgen[play]'")
def test_example_smoke(tmp_path, play, capsys):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(EXAMPLE), "all", "--smoke", "--model", "rnn", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "evaluate: mean return" in done.stdout
    for name in ("trajectories.png", "returns.png", "policy.safetensors", "setup.json"):
        assert (tmp_path / name).stat().st_size > 0
    records = [json.loads(line) for line in (tmp_path / "returns.jsonl").read_text().splitlines()]
    assert {r["stage"] for r in records} == {"imagined", "real"}
    play.main(["evaluate", "--smoke", "--out", str(tmp_path)])  # a stage alone reads what the others wrote
    assert "evaluate: mean return" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="run the 'collect' stage first"):
        play.main(["train-model", "--smoke", "--model", "rnn", "--out", str(tmp_path / "empty")])
