"""Character-level text with the SRNN (Fraccaro et al. 2016): train on Tiny Shakespeare, sample,
and score any text file in nats per character.

    python examples/srnn_text.py [--model srnn|rnn|iseq|all] [--minutes 10 | --steps N]
                                 [--eval FILE ...] [--sample 500] [--out runs/srnn_text] [--smoke]

Data: ``../shared/data/tinyshakespeare.txt`` (``--data``); the first 90 % of the characters train,
the last 10 % validate (``seqgen.CharTextDataset.from_file``), in non-overlapping windows of
``--seq-len`` characters. The vocabulary is built on the training part; id 0 is ``<unk>``, and a
character outside it (in the validation text or an ``--eval`` file) maps to ``<unk>`` and is
counted in the report.

Training: ``TrainOps`` (Adam, gradient clipping, linear KL annealing for the latent models), for
``--steps`` steps or, with ``--minutes``, in rounds of ``--round-steps`` until that much training
time has passed. Reported, in nats per character of the validation text: the negative ELBO (a
bound) for ``srnn``/``iseq``, with the IWAE bound (``--iwae`` K particles) on the first
``--iwae-windows`` windows beside it; the exact NLL for ``rnn``.

``--eval FILE`` scores other texts under the trained model (comparing two models' scores on a
passage tells which training author it is closer to). ``--out`` saves the trained run
(``TrainOps.save``) and the vocabulary. ``--model all`` runs the three families one after another.
Uses only the public API; ``--smoke`` runs a seconds-long version for CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

import seqgen
from seqgen import CharTextDataset, TrainConfig, TrainOps

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data" / "tinyshakespeare.txt"
FAMILIES = ("srnn", "rnn", "iseq")


def model_settings(name: str, vocab_size: int, width: int, z_dim: int, embed_dim: int) -> dict:
    """Config overrides per family, sized alike (GRUs and MLPs of ``width``, latents of ``z_dim``)."""
    common = dict(obs="categorical", obs_dim=vocab_size, embed_dim=embed_dim, decoder_hidden=(width,))
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
    )
    ops = TrainOps(model, config, model_name=name)
    start, budget = time.perf_counter(), (args.minutes * 60 if args.minutes else None)
    while True:
        goal = ops.state.step + args.round_steps
        if args.steps:
            goal = min(goal, args.steps)
        ops.config = ops.config.evolve(max_steps=goal)
        ops.fit(data)
        spent = time.perf_counter() - start
        recent = ops.history.losses[-args.round_steps:]
        print(f"  [{name}] step {ops.state.step:6d}  {spent:7.1f} s  train loss {sum(recent) / len(recent):.3f} nats/char (KL-annealed)", flush=True)
        if (args.steps and ops.state.step >= args.steps) or (budget is not None and spent >= budget):
            return ops, spent


def per_char(model, ops, data, num_particles: int, windows: int) -> dict:
    """Nats per character of ``data``: ``nll`` (exact) or ``neg_elbo`` (bound) over every window, and
    the IWAE bound over the first ``windows`` windows (latent models)."""
    metrics = ops.evaluate(data)
    if "nll" in metrics:
        return {"nll": metrics["nll"]}
    out = {"neg_elbo": metrics["neg_elbo_bound"]}
    if num_particles and windows:
        with torch.no_grad():
            model.eval()
            elbo, iwae, count = 0.0, 0.0, 0
            for i in range(0, min(windows, len(data)), 8):
                batch = seqgen.collate([data[j] for j in range(i, min(i + 8, windows, len(data)))])
                elbo -= float(model.elbo(batch.x, mask=batch.mask).sum())
                iwae -= float(model.iwae(batch.x, num_particles, mask=batch.mask).sum())
                count += int(batch.mask.sum())
        out.update(part_neg_elbo=elbo / count, iwae=iwae / count, iwae_chars=count)
    return out


def score_line(scores: dict, k: int) -> str:
    if "nll" in scores:
        return f"NLL {scores['nll']:.3f} (exact)"
    line = f"neg-ELBO {scores['neg_elbo']:.3f} (bound)"
    if "iwae" in scores:
        line += (f"; first {scores['iwae_chars']} chars: neg-ELBO {scores['part_neg_elbo']:.3f},"
                 f" IWAE K={k} {scores['iwae']:.3f} (bounds)")
    return line


def run(name: str, args, train_data, valid_data) -> dict:
    vocab = train_data.vocab
    torch.manual_seed(args.seed)
    model = seqgen.load_model(name, **model_settings(name, len(vocab), args.width, args.z_dim, args.embed_dim))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{name}: {n_params} parameters; {len(train_data)} training windows of {args.seq_len} characters", flush=True)
    ops, seconds = train(model, name, train_data, args)
    row = {"model": name, "steps": ops.state.step, "seconds": seconds, "params": n_params}
    torch.manual_seed(args.seed)
    row["valid"] = per_char(model, ops, valid_data, args.iwae, args.iwae_windows)
    for path in args.eval:
        text = CharTextDataset.from_file(path, split="all", seq_len=args.seq_len, vocab=vocab)
        row.setdefault("eval", []).append((path, text.num_unknown, text.num_chars, per_char(model, ops, text, 0, 0)))
    with torch.no_grad():
        torch.manual_seed(args.seed)
        ids = model.distribution(args.sample).sample((1,))[0]  # [sample] long
    row["sample"] = vocab.decode(ids)
    if args.out:
        out = Path(args.out) / name
        ops.save(out)
        (out / "vocab.json").write_text(json.dumps(vocab.to_dict()))
        (out / "sample.txt").write_text(row["sample"], encoding="utf-8")
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="SRNN / RNN / ISeq on character text (Tiny Shakespeare)")
    ap.add_argument("--model", choices=FAMILIES + ("all",), default="srnn")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--eval", nargs="*", default=[], metavar="FILE", help="texts to score in nats per character")
    ap.add_argument("--minutes", type=float, default=None, help="training time budget per model (wall clock)")
    ap.add_argument("--steps", type=int, default=None, help="training steps per model (default 500 without --minutes)")
    ap.add_argument("--round-steps", type=int, default=100)
    ap.add_argument("--seq-len", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--kl-warmup", type=int, default=200)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--z-dim", type=int, default=16)
    ap.add_argument("--embed-dim", type=int, default=64)
    ap.add_argument("--iwae", type=int, default=20, help="particles of the validation IWAE bound (0: none)")
    ap.add_argument("--iwae-windows", type=int, default=64, help="validation windows the IWAE bound covers")
    ap.add_argument("--sample", type=int, default=500, help="characters to generate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--out", default=None, help="directory for the trained runs, vocabulary and samples")
    ap.add_argument("--smoke", action="store_true", help="seconds-long run for CI")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.minutes and not args.steps:
        args.steps = 500
    opts = dict(seq_len=args.seq_len, max_chars=30_000) if args.smoke else dict(seq_len=args.seq_len)
    if args.smoke:
        args.steps, args.minutes, args.round_steps = 3, None, 3
        args.width, args.z_dim, args.embed_dim, args.iwae, args.iwae_windows, args.sample = 16, 4, 8, 3, 4, 40
    train_data = CharTextDataset.from_file(args.data, split="train", **opts)
    valid_data = CharTextDataset.from_file(args.data, split="valid", vocab=train_data.vocab, **opts)
    names = FAMILIES if args.model == "all" else (args.model,)
    rows = [run(name, args, train_data, valid_data) for name in names]

    print(f"\nvalidation text: last 10 % of {args.data} ({valid_data.num_chars} characters, {valid_data.num_unknown} "
          f"out of vocabulary -> <unk>, windows of {args.seq_len}), nats per character")
    print(f"machine: {platform.processor() or platform.machine()}, os.cpu_count()={os.cpu_count()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} torch thread(s)")
    for r in rows:
        print(f"  {r['model']:5s} {score_line(r['valid'], args.iwae)}  | {r['steps']} steps in {r['seconds']:.0f} s, {r['params']} parameters")
        for path, unknown, chars, scores in r.get("eval", []):
            print(f"        {path}: {score_line(scores, 0)} ({chars} characters, {unknown} out of vocabulary -> <unk>)")
    for r in rows:
        print(f"\n--- {r['model']} sample ---\n{r['sample']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
