"""Learn CartPole's dynamics with a sequence model, then train a policy only inside the learned model.

vae-seq's third example (Sulsky, 2017), with seqgen's parts; the loop of Ha & Schmidhuber (2018),
*World Models*, and of Dyna (Sutton, 1991):

1. ``collect``       roll out a random, then the current, policy in the real environment
                     (``seqgen.EnvCore`` under ``GenCore``); observations are
                     ``[state (Normal), reward (Normal), done (Bernoulli)]``, actions one-hot
2. ``train-model``   fit a sequence model (``srnn`` by default; any model with ``generate`` whose
                     default agent is ``ObservationAgent(enc, input_dim=num_actions)``) with TrainOps,
                     decoder ``EnvCore.decoder(...)`` (a GroupDecoder), the actions as the agent's inputs
3. ``train-policy``  REINFORCE with a baseline (``seqgen.reinforce_loss``) on rollouts the
                     model imagines: ``GenCore(model, with_policy(model.agent, policy))``
4. ``evaluate``      mean return of the policy over real episodes
5. ``plot``          model-predicted vs real trajectories (same actions), returns over training

``all``: collect (random), then ``--rounds`` x (train-model, train-policy, evaluate, collect with the
policy; the last round collects nothing), then plot. Every stage reads and writes ``--out`` (rollouts as
safetensors, the model as a TrainOps checkpoint, the policy as safetensors, ``returns.jsonl``).

    python examples/play_cartpole.py all --out runs/play --model rnn  # 4 CPU-minutes, one thread
    python examples/play_cartpole.py all --out runs/play-srnn         # the default model, srnn
    python examples/play_cartpole.py all --out /tmp/play --smoke      # seconds
    python examples/play_cartpole.py train-policy --out runs/play --iters 100

Needs gymnasium (``pip install 'seqgen[play]'``). Measured (``all --model rnn``, seed 0, one torch
thread, x86_64 shared 2-core machine, torch 2.13 CPU): real return 148.1 after round 1 (2956 real
steps), 331.2 ± 6.9 over 100 episodes after round 2 (5362 real steps); 239 s CPU, 1268 s wall.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import seqgen
from seqgen import EnvCore, reinforce_loss, rollout, split_observation, with_policy

SMALL = {"srnn": {"z_dim": 4, "d_dim": 64, "a_dim": 64, "mlp_hidden": 64, "decoder_hidden": [64]},
         "rnn": {"hidden": 64, "embed_dim": 0, "decoder_hidden": [64]},
         "iseq": {"z_dim": 4, "hidden": 64, "inference_hidden": 64, "embed_dim": 0, "decoder_hidden": [64]}}
SMOKE = {"srnn": {"z_dim": 2, "d_dim": 8, "a_dim": 8, "mlp_hidden": 8, "decoder_hidden": [8]},
         "rnn": {"hidden": 8, "embed_dim": 0, "decoder_hidden": [8]},
         "iseq": {"z_dim": 2, "hidden": 8, "inference_hidden": 8, "embed_dim": 0, "decoder_hidden": [8]}}


# ---------------------------------------------------------------------------- building blocks
def default_model_name() -> str:
    """``'srnn'`` when the plugin is installed, else the built-in ``'rnn'``."""
    return "srnn" if "srnn" in seqgen.available_models() else "rnn"


def build_model(name: str, core: EnvCore, overrides: dict):
    """``load_model(name, ...)`` with ``core.decoder(...)`` and the actions as the agent's inputs."""
    cfg = {"obs_dim": core.obs_shape[0], "obs": "normal", "input_dim": core.action_dim, **overrides}
    in_dim = seqgen.load_model(name, **cfg).decoder.in_dim  # the family's decoder width, from its defaults
    hidden = tuple(cfg.get("decoder_hidden", ()))
    return seqgen.load_model(name, **cfg, decoder=core.decoder(in_dim, hidden=hidden))


def uniform_policy(core: EnvCore, hidden: int):
    """The random policy: a PolicyAgent whose head is zero, so ``π(a | h)`` is uniform."""
    policy = core.policy(hidden=hidden)
    with torch.no_grad():
        for p in policy.head.parameters():
            p.zero_()
    return policy


def collect(core: EnvCore, policy, episodes: int, max_steps: int):
    """Real rollouts of ``policy`` (no gradients): :class:`seqgen.envs.Episodes`."""
    with torch.no_grad():
        return rollout(core, policy, episodes, max_steps)


def train_model(model, data: seqgen.SeqBatch, *, steps: int, seed: int, out_dir=None, batch_size: int = 32, lr: float = 3e-3):
    """Fit ``model`` on ``data`` with TrainOps; returns its final metrics on ``data`` (nats per observed step)."""
    elbo = "elbo" in model.capabilities
    cfg = seqgen.TrainConfig(max_steps=steps, epochs=None, batch_size=batch_size, lr=lr, grad_clip=10.0, seed=seed,
                             kl_schedule="linear" if elbo else "none", kl_warmup_steps=max(1, steps // 4) if elbo else 0,
                             lr_schedule="cosine", lr_min_factor=0.1, eval_every=steps, log_every=max(1, steps // 5),
                             progress="off", out_dir=None if out_dir is None else str(out_dir), device="cpu")
    ops = seqgen.TrainOps(model, cfg)
    ops.fit(data)
    return ops.evaluate(data)


def train_policy(core, agent, *, iters: int, batch: int, horizon: int, lr: float = 3e-3, discount: float = 0.99,
                 entropy_weight: float = 0.01, max_env_steps=None, log=None):
    """REINFORCE on rollouts of ``core`` (a learned model or the real EnvCore) driven by ``agent``.

    Stops after ``iters`` updates or, for an EnvCore, once ``max_env_steps`` real steps were taken.
    ``log(i, mean_return)`` is called after every update. Returns the mean returns.
    """
    policy = core.check_agent(agent) if isinstance(core, EnvCore) else seqgen.policy_of(agent)
    frozen = [p for p in core.parameters() if p.requires_grad] if isinstance(core, torch.nn.Module) else []
    for p in frozen:  # the model is a fixed simulator here: no graph through its parameters
        p.requires_grad_(False)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    curve = []
    try:
        for i in range(iters):
            if max_env_steps is not None and core.env_steps >= max_env_steps:
                break
            out = reinforce_loss(rollout(core, agent, batch, horizon), discount=discount, entropy_weight=entropy_weight)
            opt.zero_grad()
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt.step()
            curve.append(float(out.metrics["return"]))
            if log is not None:
                log(i, curve[-1])
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return curve


def evaluate(core: EnvCore, policy, episodes: int, max_steps: int = 501) -> torch.Tensor:
    """``[episodes]`` real returns of ``policy`` (it samples its actions, as in training)."""
    return collect(core, policy, episodes, max_steps).returns


# ---------------------------------------------------------------------------- files in --out
def _setup(args) -> dict:
    path = Path(args.out) / "setup.json"
    if path.exists():  # the first stage run in --out fixes the environment and the model
        setup = json.loads(path.read_text())
        if (args.model or setup["model"]) != setup["model"] or args.env != setup["env"]:
            raise seqgen.ConfigError("--out", f"{args.out} holds a {setup['model']} model of {setup['env']} (got --model {args.model}, --env {args.env})", "use a fresh --out for another model or environment")
        return setup
    name = args.model or default_model_name()
    sizes = (SMOKE if args.smoke else SMALL).get(name, {})
    setup = {"env": args.env, "model": name, "model_config": sizes, "policy_hidden": 8 if args.smoke else 32, "smoke": args.smoke}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(setup, indent=1))
    return setup


def _core(setup, seed: int) -> EnvCore:
    return EnvCore.from_gymnasium(setup["env"], seed=seed)


def _model(setup, core, out: Path):
    model = build_model(setup["model"], core, setup["model_config"])
    if (out / "model").exists():
        model = seqgen.TrainOps.load_model(out / "model", model=model)
    return model


def _policy(setup, core, out: Path):
    policy = core.policy(hidden=setup["policy_hidden"])
    if (out / "policy.safetensors").exists():
        policy.load_state_dict(load_file(str(out / "policy.safetensors")))
    return policy


def _log(out: Path, **record):
    with open(out / "returns.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def merge(parts) -> seqgen.SeqBatch:
    """Rollouts (``Episodes`` or dicts of ``x``, ``mask``, ``actions``) padded to the longest, as one SeqBatch."""
    parts = [p if isinstance(p, dict) else {"x": p.x.detach(), "mask": p.mask, "actions": p.actions.detach()} for p in parts]
    t = max(p["x"].shape[1] for p in parts)
    pad = lambda v: torch.nn.functional.pad(v, (0, 0) * (v.dim() - 2) + (0, t - v.shape[1]))  # noqa: E731 — along time
    x, mask, actions = (torch.cat([pad(p[k]) for p in parts]) for k in ("x", "mask", "actions"))
    mask = mask.bool()
    return seqgen.SeqBatch.from_tensor(torch.where(mask.unsqueeze(-1), x, x.new_zeros(())), mask, inputs=actions)


def load_rollouts(out: Path) -> seqgen.SeqBatch:
    """Every saved round: ``x [n, T, obs]``, ``mask [n, T]``, ``inputs [n, T, A]`` (see :func:`merge`)."""
    files = sorted((out / "rollouts").glob("round-*.safetensors"))
    if not files:
        raise seqgen.DataError("--out", f"has no rollouts in {out / 'rollouts'}", "run the 'collect' stage first")
    return merge([load_file(str(f)) for f in files])


# ---------------------------------------------------------------------------- stages
def stage_collect(args):
    out, setup = Path(args.out), _setup(args)
    core = _core(setup, args.seed + 1000 * _rounds(out))
    policy = uniform_policy(core, setup["policy_hidden"]) if args.policy == "random" else _policy(setup, core, out)
    ep = collect(core, policy, args.episodes, args.collect_steps)
    (out / "rollouts").mkdir(parents=True, exist_ok=True)
    save_file({"x": ep.x.contiguous(), "mask": ep.mask.to(torch.uint8), "actions": ep.actions.contiguous()},
              str(out / "rollouts" / f"round-{_rounds(out):03d}.safetensors"))
    total = _log_steps(out, core.env_steps)
    print(f"collect ({args.policy}): {args.episodes} episodes, mean return {float(ep.returns.mean()):.1f}, {core.env_steps} env steps ({total} in all)")


def _rounds(out: Path) -> int:
    return len(list((out / "rollouts").glob("round-*.safetensors"))) if (out / "rollouts").exists() else 0


def _log_steps(out: Path, steps: int) -> int:
    path = out / "env_steps.json"
    total = steps + (json.loads(path.read_text())["env_steps"] if path.exists() else 0)
    path.write_text(json.dumps({"env_steps": total}))
    return total


def stage_train_model(args):
    out, setup = Path(args.out), _setup(args)
    core = _core(setup, args.seed)
    model, data = _model(setup, core, out), load_rollouts(out)
    seqgen.seed_everything(args.seed)
    rec = train_model(model, data, steps=args.model_steps, seed=args.seed, out_dir=out / "model")
    print(f"train-model ({setup['model']}): {data.batch_size} episodes, {int(data.mask.sum())} steps; " + ", ".join(f"{k} {v:.3f}" for k, v in rec.items() if isinstance(v, float)))


def stage_train_policy(args):
    out, setup = Path(args.out), _setup(args)
    core = _core(setup, args.seed)
    model, policy = _model(setup, core, out).eval(), _policy(setup, core, out)
    seqgen.seed_everything(args.seed)
    r = _rounds(out)

    def log(i, ret):
        _log(out, stage="imagined", round=r, iter=i, value=ret)
        if i % max(1, args.iters // 5) == 0 or i == args.iters - 1:
            print(f"  iter {i:4d}  imagined return {ret:.1f}")

    train_policy(model, with_policy(model.agent, policy), iters=args.iters, batch=args.batch, horizon=args.horizon, log=log)
    save_file(policy.state_dict(), str(out / "policy.safetensors"))


def stage_evaluate(args):
    out, setup = Path(args.out), _setup(args)
    core = _core(setup, args.seed + 7)
    returns = evaluate(core, _policy(setup, core, out), args.eval_episodes)
    steps = json.loads((out / "env_steps.json").read_text())["env_steps"] if (out / "env_steps.json").exists() else 0
    _log(out, stage="real", round=_rounds(out), env_steps=steps, value=float(returns.mean()))
    print(f"evaluate: mean return {float(returns.mean()):.1f} ± {float(returns.std()) / math.sqrt(len(returns)):.1f} over {len(returns)} real episodes; {steps} real env steps used for learning")
    return returns


def stage_plot(args):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out, setup = Path(args.out), _setup(args)
    core = _core(setup, args.seed + 11)
    model, policy = _model(setup, core, out).eval(), _policy(setup, core, out)
    real = collect(core, policy, 1, args.horizon)
    with torch.no_grad():  # the model, fed the real actions, closed on its own samples
        pred = seqgen.GenCore(model, model.agent).run(4, real.x.shape[1], inputs=real.actions.expand(4, -1, -1)).x
    state, t = split_observation(real.x)[0][0], int(real.mask[0].sum())
    p_state, _, p_done = split_observation(pred)
    ends = [min(t, int(torch.cat([p_done[i].nonzero()[:, 0], p_done.new_tensor([t - 1]).long()]).min()) + 1) for i in range(len(pred))]
    dims = state.shape[-1]
    fig, axes = plt.subplots(dims + 1, 1, figsize=(8, 1.8 * (dims + 1)), sharex=True)
    for d in range(dims):  # each model sample is drawn up to the step where it predicts the end
        axes[d].plot(state[:t, d], "k", lw=2, label="real")
        for i, e in enumerate(ends):
            axes[d].plot(p_state[i, :e, d], lw=1, alpha=0.7, label="model" if i == 0 else None)
        axes[d].set_ylabel(f"state[{d}]")
    axes[dims].plot(split_observation(real.x)[2][0, :t], "k", lw=2)
    for i, e in enumerate(ends):
        axes[dims].plot(p_done[i, :e], lw=1, alpha=0.7)
    axes[dims].set_ylabel("done")
    axes[0].legend(loc="upper right")
    axes[0].set_title("model-predicted (same actions) vs real trajectory")
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(out / "trajectories.png", dpi=100)
    records = [json.loads(line) for line in (out / "returns.jsonl").read_text().splitlines()] if (out / "returns.jsonl").exists() else []
    fig, ax = plt.subplots(figsize=(8, 3.5))
    imagined = [r["value"] for r in records if r["stage"] == "imagined"]
    ax.plot(imagined, lw=1, label="imagined (policy-training batch mean)")
    real_pts = [(sum(1 for q in records[:j] if q["stage"] == "imagined"), r["value"]) for j, r in enumerate(records) if r["stage"] == "real"]
    if real_pts:
        ax.plot(*zip(*real_pts), "o-", color="k", label="real (evaluation mean)")
    ax.set_xlabel("policy update")
    ax.set_ylabel("return")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "returns.png", dpi=100)
    print(f"plot: wrote {out / 'trajectories.png'} and {out / 'returns.png'}")


def stage_all(args):
    args.policy = "random"
    stage_collect(args)
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}")
        stage_train_model(args)
        stage_train_policy(args)
        stage_evaluate(args)
        if r + 1 < args.rounds:
            args.policy, args.episodes = "current", args.policy_episodes
            stage_collect(args)
    stage_plot(args)


STAGES = {"collect": stage_collect, "train-model": stage_train_model, "train-policy": stage_train_policy,
          "evaluate": stage_evaluate, "plot": stage_plot, "all": stage_all}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=list(STAGES))
    p.add_argument("--out", default="runs/play", help="working directory shared by the stages")
    p.add_argument("--env", default="CartPole-v1", help="gymnasium environment id (1-D Box observations)")
    p.add_argument("--model", default=None, help="sequence model plugin (default: srnn if installed, else rnn)")
    p.add_argument("--policy", choices=["random", "current"], default="random", help="collect: which policy acts")
    p.add_argument("--episodes", type=int, default=128, help="collect: episodes (all: of the random policy)")
    p.add_argument("--policy-episodes", type=int, default=16, help="all: episodes collected with the policy after each round but the last")
    p.add_argument("--collect-steps", type=int, default=201, help="collect: longest rollout (step 0 is the reset)")
    p.add_argument("--model-steps", type=int, default=1500, help="train-model: optimizer steps per round")
    p.add_argument("--iters", type=int, default=150, help="train-policy: REINFORCE updates per round")
    p.add_argument("--batch", type=int, default=32, help="train-policy: imagined episodes per update")
    p.add_argument("--horizon", type=int, default=200, help="train-policy/plot: imagined steps")
    p.add_argument("--eval-episodes", type=int, default=100, help="evaluate: real episodes")
    p.add_argument("--rounds", type=int, default=2, help="all: train-model / train-policy / evaluate / collect rounds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="tiny sizes: the whole workflow in seconds (CI)")
    args = p.parse_args(argv)
    if args.smoke:
        args.episodes, args.policy_episodes, args.collect_steps, args.model_steps, args.iters = 6, 4, 30, 4, 2
        args.batch, args.horizon, args.eval_episodes, args.rounds = 4, 12, 4, 2
    return args


def main(argv=None):
    args = parse_args(argv)
    seqgen.seed_everything(args.seed)
    torch.set_num_threads(1)
    try:
        STAGES[args.stage](args)
    except seqgen.SeqgenError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
