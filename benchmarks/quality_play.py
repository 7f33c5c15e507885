"""``make quality-play``: does a policy trained only inside a learned model play real CartPole?

Mean return over 100 real CartPole-v1 episodes of
  1. a random policy (uniform actions);
  2. the policy trained only on rollouts imagined by the learned model (SRNN by default), the
     workflow of ``examples/play_cartpole.py``: random episodes, then ``--rounds`` rounds of
     (train the model, train the policy in the model, collect episodes with it);
  3. for reference, the same PolicyAgent class trained by the same REINFORCE on the real
     environment, stopped at the first update past the real steps that (2) used.
Goal: (2) >= 150 (random is about 20). Real environment steps are the ``env.step`` calls made to
collect training data; evaluation episodes are not counted. A plain script, not a test:

    OMP_NUM_THREADS=1 python benchmarks/quality_play.py [--model srnn] [--rounds 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

import seqgen
from seqgen import EnvCore, with_policy

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "play_cartpole.py"


def load_example():
    spec = importlib.util.spec_from_file_location("play_cartpole", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def summary(returns: torch.Tensor) -> str:
    return f"{float(returns.mean()):6.1f} ± {float(returns.std()) / math.sqrt(len(returns)):4.1f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="sequence model (default: srnn if installed, else rnn)")
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--rounds", type=int, default=2, help="train-model / train-policy / collect rounds")
    p.add_argument("--random-episodes", type=int, default=128, help="episodes of the random policy collected first")
    p.add_argument("--policy-episodes", type=int, default=16, help="episodes collected with the policy after each round but the last")
    p.add_argument("--collect-steps", type=int, default=201, help="longest collected episode (step 0 is the reset)")
    p.add_argument("--model-steps", type=int, default=1500, help="model optimizer steps per round")
    p.add_argument("--iters", type=int, default=150, help="REINFORCE updates in the model per round")
    p.add_argument("--batch", type=int, default=32, help="episodes per REINFORCE update (model and real)")
    p.add_argument("--horizon", type=int, default=200, help="imagined steps per episode")
    p.add_argument("--episodes", type=int, default=100, help="real evaluation episodes")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    play = load_example()
    name = args.model or play.default_model_name()
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(threads)
    print(f"command: {' '.join([Path(sys.executable).name] + sys.argv)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch thread(s); model {name}; seed {args.seed}")
    t0 = time.perf_counter()
    seqgen.seed_everything(args.seed)

    core = EnvCore.from_gymnasium(args.env, seed=args.seed)
    random = play.uniform_policy(core, 32)
    data = [play.collect(core, random, args.random_episodes, args.collect_steps)]
    model = play.build_model(name, core, play.SMALL.get(name, {}))
    policy = core.policy(hidden=32)
    for r in range(args.rounds):
        batch = play.merge(data)
        t = time.perf_counter()
        rec = play.train_model(model.train(), batch, steps=args.model_steps, seed=args.seed + r)
        fit = ", ".join(f"{k} {v:.3f}" for k, v in rec.items() if isinstance(v, float))
        print(f"round {r + 1}: model on {batch.batch_size} episodes / {int(batch.mask.sum())} steps: {fit} ({time.perf_counter() - t:.0f} s)")
        t = time.perf_counter()
        curve = play.train_policy(model.eval(), with_policy(model.agent, policy), iters=args.iters, batch=args.batch, horizon=args.horizon)
        print(f"round {r + 1}: imagined return {curve[0]:.1f} -> {sum(curve[-10:]) / len(curve[-10:]):.1f} (mean of last 10 updates) ({time.perf_counter() - t:.0f} s)")
        if r + 1 < args.rounds:
            ep = play.collect(core, policy, args.policy_episodes, args.collect_steps)
            data.append(ep)
            print(f"round {r + 1}: collected {args.policy_episodes} episodes with the policy, real return {float(ep.returns.mean()):.1f}")
    steps = core.env_steps

    ref_core = EnvCore.from_gymnasium(args.env, seed=args.seed + 2)
    reference = ref_core.policy(hidden=32)
    t = time.perf_counter()
    play.train_policy(ref_core, reference, iters=10**9, batch=args.batch, horizon=501, max_env_steps=steps)
    print(f"reference: REINFORCE on the real environment, {ref_core.env_steps} real steps ({time.perf_counter() - t:.0f} s)")

    results = []
    for label, pol in (("random policy", random), (f"policy trained in the learned {name} model", policy), ("same policy class trained on the real env", reference)):
        results.append((label, play.evaluate(EnvCore.from_gymnasium(args.env, seed=args.seed + 1), pol, args.episodes)))
    print(f"\nmean return over {args.episodes} real {args.env} episodes (± standard error):")
    for label, returns in results:
        print(f"  {label:<44s} {summary(returns)}")
    print(f"real environment steps for learning: {steps} (learned model), {ref_core.env_steps} (reference)")
    verdict = "met" if float(results[1][1].mean()) >= 150 else "NOT met"
    print(f"goal (policy trained in the model >= 150): {verdict}; total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
