"""Adversarial autoencoders on time series: Lorenz trajectories and JSB chorale piano rolls.

The ``seqgen_aae`` plugin in sequence mode (Makhzani et al., arXiv 1511.05644, with a recurrent
encoder and decoder): a GRU reads a whole sequence into one code ``z``; a decoder GRU generates the
sequence step by step from ``z`` (for JSB also from the previous step); a discriminator makes the
codes look like draws from ``N(0, I)``. New sequences are sampled with ``model.distribution(T)`` — ``z ~ p(z)``
drawn once, then the decoder run through ``GenCore`` — and plotted against held-out data.

- Lorenz: 10-D noisy linear readouts of the chaotic Lorenz system (``seqgen.data.LorenzDataset``),
  Normal decoder reading only the code (``context='none'``: ``x_t = f_t(z) + noise``, as the data are
  made), Gaussian encoder; validation trajectories come from another seed.
- JSB chorales: 88-key piano rolls (``../shared/data``), Bernoulli decoder, cut into 32-step windows.

Prints the squared MMD between generated and held-out sequences (``seqgen.metrics.mmd``; 0 is a
perfect match) and writes PNGs under ``--out``.

    python examples/aae_timeseries.py --out runs/aae_timeseries            # both data sets, ~3 min of CPU
    python examples/aae_timeseries.py --data lorenz --adversarial false    # a plain autoencoder, for contrast
    python examples/aae_timeseries.py --smoke --out /tmp/aae_ts_smoke      # every stage at toy sizes (CI)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import seqgen
import seqgen_aae as aae
from seqgen.data import PianoRollDataset
from seqgen.metrics import mmd
from seqgen.plot import plot_pianoroll, plot_sequences
from seqgen.train import TrainOps, seed_everything

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
JSB = "jsb_chorales_quarter_trainvalid.json"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["lorenz", "jsb", "both"], default="both")
    p.add_argument("--data-dir", type=Path, default=DATA, help=f"directory with {JSB}")
    p.add_argument("--out", type=Path, default=Path("runs/aae_timeseries"))
    p.add_argument("--adversarial", type=aae.boolean, default=True, metavar="{true,false}", help="false: train a plain autoencoder (no regularisation)")
    p.add_argument("--epochs", type=int, default=None, help=f"epochs for each data set (default: {aae.SEQUENCE_EPOCHS})")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-samples", type=int, default=200, help="sequences generated for the plots and the MMD")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="AAEConfig overrides (both data sets)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--smoke", action="store_true", help="toy sizes, every stage, seconds (CI)")
    return p


def parse(argv=None):
    args = build_parser().parse_args(argv)
    args.sizes = {"lorenz": (40, 20, 30), "jsb": (40, 20, 16)} if args.smoke else {"lorenz": (400, 100, 50), "jsb": (None, None, 32)}
    if args.smoke:
        args.epochs, args.num_samples = 1, 8
        args.set = ["embed_dim=8", "encoder_rnn=16", "code_hidden=[16]", "hidden=16", "context_dim=8", "disc_hidden=[16]", *args.set]
    return args


def datasets(args, name: str):
    """``(train, valid, steps)``: fixed-length sequences of ``name`` (sizes from ``args.sizes``)."""
    n_train, n_valid, steps = args.sizes[name]
    if name == "lorenz":
        train = seqgen.load_data("lorenz", split="train", num=n_train, length=steps, obs_dim=10)
        valid = seqgen.load_data("lorenz", split="valid", num=n_valid, length=steps, obs_dim=10)
        return train, valid, steps
    path = args.data_dir / JSB
    train = aae.windows(PianoRollDataset.from_json(path, split="train"), steps, limit=n_train)
    valid = aae.windows(PianoRollDataset.from_json(path, split="valid"), steps, limit=n_valid)
    return train, valid, steps


def model_config(args, name: str) -> aae.AAEConfig:
    """The recurrent AAE of the sequence study (``seqgen_aae.SEQUENCE_SETTINGS``, which says why),
    with ``--adversarial`` and ``--set`` applied."""
    return aae.AAEConfig(**aae.SEQUENCE_SETTINGS[name], adversarial=args.adversarial).with_overrides(args.set)


def stack(ds) -> torch.Tensor:
    return torch.stack([ds[i].x for i in range(len(ds))])  # [num, time, obs_dim]


def run(args, name: str) -> dict:
    train, valid, steps = datasets(args, name)
    print(train.describe(), valid.describe(), sep="\n")
    seed_everything(args.seed)
    model = aae.SPEC.build(model_config(args, name))
    config = aae.train_config(epochs=args.epochs or aae.SEQUENCE_EPOCHS[name], batch_size=args.batch_size, seed=args.seed, out_dir=str(args.out / name),
                              num_threads=args.threads, progress="off", log_every=100)  # fmt: skip
    history = TrainOps(model, config, model_name="aae", model_version=aae.__version__).fit(train, valid)
    model.eval()
    with torch.no_grad():
        samples = model.distribution(steps).sample((args.num_samples,))  # [num_samples, steps, obs_dim]
    real = stack(valid)
    out = args.out / name
    if name == "lorenz":
        plot_sequences(samples[:4], out / "samples_vs_data.png", data=real[:4], title="Lorenz: AAE samples (solid) vs held-out data (dashed)")
    else:
        plot_pianoroll(torch.cat([samples[:3], real[:3]]), out / "samples_vs_data.png", titles=[f"sample {i}" for i in range(3)] + [f"held-out window {i}" for i in range(3)])
    last = history[-1] if history else {}
    return {
        "valid/reconstruction": round(last.get("valid/reconstruction", float("nan")), 4),
        "mmd2(samples, held-out)": round(mmd(samples, real), 5),
        "mmd2(train, held-out)": round(mmd(stack(train)[: len(real)], real), 5),
        "figure": str(out / "samples_vs_data.png"),
    }


def main(argv=None) -> None:
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in (["lorenz", "jsb"] if args.data == "both" else [args.data]):
        print(f"{name}: {run(args, name)}")


if __name__ == "__main__":
    main()
