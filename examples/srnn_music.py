"""Polyphonic music with the SRNN (Fraccaro et al. 2016): JSB chorales as 88-key piano rolls.

    python examples/srnn_music.py [--model srnn|rnn|iseq|all] [--minutes 10 | --steps N] [--obs made|bernoulli]
                                  [--transpose -3 3] [--dropout 0.3] [--lr-decay 0.5 --lr-decay-every 4000]
                                  [--iwae 100] [--out runs/srnn_music] [--smoke]

Data: ``../shared/data/jsb_chorales_quarter_trainvalid.json`` (``--data``), lists of MIDI pitches
per quarter-note step, read by ``seqgen.load_data('pianoroll:PATH', split=…)`` into ``[time, 88]``
rolls of 0/1 (pitches outside 21–108 are refused with a clear error). Training split ``train``,
figures on ``valid``.

Training: ``TrainOps`` (Adam or AdamW, gradient clipping, linear KL annealing for the latent
models, the learning rate multiplied by ``--lr-decay`` every ``--lr-decay-every`` steps), for
``--steps`` steps or, with ``--minutes``, in rounds of ``--round-steps`` until that much training
time (validation included) has passed; the validation figure is printed after each round, and
``--keep-best`` ends with the weights of the best round (early stopping on the validation split,
which is then also the split reported: the file has no test split).

Emission (``--obs``): ``made`` (the default) lets each key depend on the keys below it at the same
step (``seqgen.components.MADEDecoder``, a masked autoencoder whose biases come from the model's
features, as the RNN-NADE conditions a NADE on an RNN); ``bernoulli`` treats the 88 keys as
independent given the features, as the SRNN paper does. Both give exact per-step likelihoods, so
the bounds below are bounds either way; ``made`` is far better on chorales, whose notes move in
chords.

Regularisation, since 229 training chorales are soon memorised: each training chorale is
transposed by a random number of semitones in ``--transpose LOW HIGH`` (default -3 3; only shifts
that keep every note on the keyboard; drawn afresh each time a chorale enters a batch;
``seqgen.data.pianoroll.RandomTranspose``), and the SRNN drops units of ``d_t`` with rate
``--dropout`` (``SRNNConfig.dropout``, training mode only). Validation chorales are never moved, and
every figure is computed in eval mode (no dropout, KL weight 1).

Evaluation on the validation chorales, in nats per time step (summed over the 88 keys, divided by
the number of steps, as in the polyphonic-music literature):

- ``srnn``/``iseq``: the negative ELBO (a bound) and the IWAE bound with ``--iwae`` K particles
  (log-mean-exp of whole-sequence importance weights, also a bound, tighter);
- ``rnn``: the exact negative log-likelihood.

``--impute F`` hides a centred gap of a fraction F of each validation chorale and reports the
mean number of wrong keys (of 88) per hidden step of ``model.impute`` samples, and for latent
models also of the base class's filtering default (``GenCore.impute``) for comparison.

Samples of ``--sample-steps`` steps are written as a piano-roll plot (``samples_<model>.png``) and,
when ``pretty_midi`` is installed, as MIDI files. ``--model all`` trains and scores the three
families one after another and prints them side by side. Uses only the public API; ``--smoke``
runs a seconds-long version for CI.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch

import seqgen
from seqgen import TrainConfig, TrainOps
from seqgen.data import write_midi
from seqgen.data import RandomTranspose
from seqgen.plot import plot_pianoroll

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data" / "jsb_chorales_quarter_trainvalid.json"
FAMILIES = ("srnn", "rnn", "iseq")


def model_settings(name: str, width: int, z_dim: int, obs: str = "bernoulli") -> dict:
    """Config overrides per family, sized alike (GRUs and MLPs of ``width``, latents of ``z_dim``)."""
    common = dict(obs=obs, obs_dim=88, embed_dim=0, decoder_hidden=(width,))
    if name == "srnn":
        return dict(common, d_dim=width, a_dim=width, mlp_hidden=width, z_dim=z_dim)
    if name == "iseq":
        return dict(common, hidden=width, inference_hidden=width, z_dim=z_dim)
    return dict(common, hidden=width)


def train(model, name: str, data, args, valid=None):
    """Train with TrainOps for ``--steps`` steps or ``--minutes`` of wall-clock time; returns (ops, seconds)."""
    latent = "elbo" in model.capabilities
    config = TrainConfig(
        max_steps=args.round_steps, epochs=None, batch_size=args.batch_size, lr=args.lr, grad_clip=args.clip,
        kl_schedule="linear" if latent else "none", kl_warmup_steps=args.kl_warmup if latent else 0,
        seed=args.seed, device="cpu", progress="off", log_every=args.round_steps,
        optimizer="adamw" if args.weight_decay else "adam", weight_decay=args.weight_decay,
        lr_schedule="step" if args.lr_decay < 1 else "constant", lr_gamma=args.lr_decay, lr_step_size=args.lr_decay_every,
        precision=args.precision,
    )
    ops = TrainOps(model, config, model_name=name)
    start, cpu_start, budget = time.perf_counter(), time.process_time(), (args.minutes * 60 if args.minutes else None)
    target = args.steps if args.steps else None
    best = (float("inf"), None, 0)  # (validation figure, weights, step) for --keep-best
    while True:
        goal = ops.state.step + args.round_steps
        if target is not None:
            goal = min(goal, target)
        ops.config = ops.config.evolve(max_steps=goal)
        ops.fit(data)
        spent = time.perf_counter() - start
        recent = ops.history.losses[-args.round_steps:]
        note = ""
        if valid is not None:
            key, value = next(iter(ops.evaluate(valid).items()))  # nll or neg_elbo_bound, nats/step
            note = f", valid {key} {value:.3f}"
            if value < best[0]:
                best = (value, {k: v.detach().clone() for k, v in model.state_dict().items()}, ops.state.step)
            spent = time.perf_counter() - start  # validation counts against the budget
        cpu = time.process_time() - cpu_start
        print(f"  [{name}] step {ops.state.step:6d}  {spent:7.1f} s ({cpu:7.1f} s CPU)  train loss {sum(recent) / len(recent):.3f} nats/step (KL-annealed){note}", flush=True)
        if (target is not None and ops.state.step >= target) or (budget is not None and spent >= budget):
            if args.keep_best and best[1] is not None:
                model.load_state_dict(best[1])
                print(f"  [{name}] keeping the weights of step {best[2]} (best validation figure, {best[0]:.3f})", flush=True)
            return ops, spent, cpu, best[2] if args.keep_best else ops.state.step


@torch.no_grad()
def iwae_per_step(model, data, num_particles: int, batch_size: int) -> float:
    """``-Σ_n IWAE_K(x_n) / Σ_n T_n`` over a dataset: nats per step (a bound)."""
    model.eval()
    total, steps = 0.0, 0
    for i in range(0, len(data), batch_size):
        batch = seqgen.collate([data[j] for j in range(i, min(i + batch_size, len(data)))])
        total -= float(model.iwae(batch.x, num_particles, mask=batch.mask).sum())
        steps += int(batch.mask.sum())
    return total / steps


def gap_masks(data, fraction: float):
    """Per chorale ``[1, T]`` masks hiding one contiguous gap of ``fraction`` of its steps, centred."""
    out = []
    for i in range(len(data)):
        steps = data[i].x.shape[0]
        width = max(1, int(round(fraction * steps)))
        start = (steps - width) // 2
        mask = torch.ones(1, steps, dtype=torch.bool)
        mask[0, start : start + width] = False
        out.append(mask)
    return out


@torch.no_grad()
def impute_errors(fill, data, masks, draws: int) -> float:
    """Mean number of wrong keys per hidden step (Hamming distance to the truth, of 88), over ``draws``."""
    wrong, hidden = 0.0, 0
    for i, mask in enumerate(masks):
        x = data[i].x[None]  # [1, T, 88]
        for _ in range(draws):
            filled = fill(x, mask)
            wrong += float((filled != x)[~mask].sum())
        hidden += int((~mask).sum()) * draws
    return wrong / hidden


def run(name: str, args, train_data, valid_data) -> dict:
    torch.manual_seed(args.seed)
    settings = model_settings(name, args.width, args.z_dim, args.obs)
    if name == "srnn" and args.dropout:
        settings["dropout"] = args.dropout
    model = seqgen.load_model(name, **settings)
    n_params = sum(p.numel() for p in model.parameters())
    low, high = args.transpose
    fit_data = RandomTranspose(train_data, low=low, high=high) if (low, high) != (0, 0) else train_data  # validation never moves
    moved = f", each transposed by a random {low:+d}…{high:+d} semitones" if fit_data is not train_data else ""
    print(f"{name}: {n_params} parameters; training on {len(train_data)} chorales{moved}", flush=True)
    ops, seconds, cpu, kept = train(model, name, fit_data, args, valid_data)
    metrics = ops.evaluate(valid_data)
    row = {"model": name, "steps": ops.state.step, "kept": kept, "seconds": seconds, "cpu": cpu, "params": n_params}
    if "neg_elbo_bound" in metrics:
        row["neg_elbo"], row["kl"] = metrics["neg_elbo_bound"], metrics.get("kl")
        torch.manual_seed(args.seed)
        row["iwae"] = iwae_per_step(model, valid_data, args.iwae, args.eval_batch_size)
    else:
        row["nll"] = metrics["nll"]
    if args.impute:
        masks = gap_masks(valid_data, args.impute)
        torch.manual_seed(args.seed)
        row["impute"] = impute_errors(lambda x, m: model.impute(x, m), valid_data, masks, args.impute_draws)
        if "latents" in model.capabilities:  # the base class's filtering default, for comparison
            core = seqgen.GenCore(model)
            torch.manual_seed(args.seed)
            row["impute_filter"] = impute_errors(lambda x, m: core.impute(x, m), valid_data, masks, args.impute_draws)
    with torch.no_grad():
        torch.manual_seed(args.seed)
        rolls = model.distribution(args.sample_steps).sample((args.samples,))  # [samples, T, 88]
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        plot_pianoroll(rolls, out / f"samples_{name}.png", titles=[f"{name} sample {i}" for i in range(len(rolls))])
        try:
            for i, roll in enumerate(rolls):
                write_midi(roll, out / f"sample_{name}_{i}.mid")
            row["midi"] = True
        except ImportError:
            row["midi"] = False
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="SRNN / RNN / ISeq on JSB chorales (piano rolls)")
    ap.add_argument("--model", choices=FAMILIES + ("all",), default="srnn")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--minutes", type=float, default=None, help="training time budget per model (wall clock)")
    ap.add_argument("--steps", type=int, default=None, help="training steps per model (default 600 without --minutes)")
    ap.add_argument("--round-steps", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--eval-batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=10.0)
    ap.add_argument("--lr-decay", type=float, default=0.5, help="multiply the learning rate by this every --lr-decay-every steps (1: constant)")
    ap.add_argument("--lr-decay-every", type=int, default=4000)
    ap.add_argument("--keep-best", action="store_true", help="end with the weights of the round with the best validation figure (early stopping)")
    ap.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay (0: plain Adam)")
    ap.add_argument("--kl-warmup", type=int, default=1000)
    ap.add_argument("--transpose", type=int, nargs=2, default=(-3, 3), metavar=("LOW", "HIGH"),
                    help="augment training chorales by a random transposition in [LOW, HIGH] semitones, drawn per chorale per batch (0 0: off)")
    ap.add_argument("--dropout", type=float, default=0.3, help="SRNN: dropout on the deterministic features d_t (training only)")
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--z-dim", type=int, default=32)
    ap.add_argument("--obs", choices=("bernoulli", "made"), default="made",
                    help="emission: independent keys (bernoulli) or each key given the keys below it (made, seqgen.components.MADEDecoder)")
    ap.add_argument("--iwae", type=int, default=100, help="particles of the validation IWAE bound")
    ap.add_argument("--impute", type=float, default=0.0, help="score imputing a centred gap of this fraction of each validation chorale")
    ap.add_argument("--impute-draws", type=int, default=3)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--sample-steps", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="bf16: torch.autocast on the CPU for training and the validation ELBO (the IWAE bound runs in float32)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--out", default="runs/srnn_music")
    ap.add_argument("--smoke", action="store_true", help="seconds-long run for CI")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.minutes and not args.steps:
        args.steps = 600
    train_data = seqgen.load_data(f"pianoroll:{args.data}", split="train")
    valid_data = seqgen.load_data(f"pianoroll:{args.data}", split="valid")
    if args.smoke:
        args.steps, args.minutes, args.round_steps = 4, None, 2
        args.width, args.z_dim, args.iwae, args.samples, args.sample_steps = 16, 4, 3, 2, 8
        args.impute, args.impute_draws = 0.25, 1
        train_data = seqgen.SequenceDataset([train_data[i].x[:16] for i in range(8)], obs_kind="bernoulli")
        valid_data = seqgen.SequenceDataset([valid_data[i].x[:16] for i in range(4)], obs_kind="bernoulli")
    names = FAMILIES if args.model == "all" else (args.model,)
    rows = [run(name, args, train_data, valid_data) for name in names]

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"\nJSB chorales, validation split ({len(valid_data)} chorales), nats per time step")
    print(f"machine: {platform.processor() or platform.machine()}, os.cpu_count()={os.cpu_count()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} torch thread(s), load average now {load}")
    for r in rows:
        score = (f"neg-ELBO {r['neg_elbo']:.3f} (bound; of it KL {r['kl']:.3f})  IWAE K={args.iwae} {r['iwae']:.3f} (bound)" if "neg_elbo" in r
                 else f"NLL {r['nll']:.3f} (exact)")
        kept = f" (weights of step {r['kept']}, best validation figure)" if r["kept"] != r["steps"] else ""
        print(f"  {r['model']:5s} {score}  | {r['steps']} steps in {r['seconds']:.0f} s ({r['cpu']:.0f} s CPU){kept}, {r['params']} parameters")
        if "impute" in r:
            base = f"; filtering (GenCore.impute) {r['impute_filter']:.3f}" if "impute_filter" in r else ""
            print(f"        imputing a centred gap of {args.impute:.0%}: wrong keys per hidden step, impute() {r['impute']:.3f}{base}")
    if args.out:
        midi = any(r.get("midi") for r in rows)
        print(f"samples: {args.out}/samples_<model>.png" + (" and sample_<model>_<i>.mid" if midi else " (no MIDI: pretty_midi is not installed)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
