"""Sample quality of the adversarial autoencoder: the paper's Parzen figure on MNIST, and two
two-sample statistics on sequences. A plain script (not a test); it prints its figures.

MNIST (Makhzani et al. 2016, Table 1; the protocol of Goodfellow et al. 2014): train on the first
8,000 images of the MNIST 10k file (binarised; the paper trained on 60,000), draw 10,000 samples
(the decoder's mean image of ``z ~ p(z)``, 8-D code, Gaussian prior), fit a Gaussian Parzen window
to them, choose its bandwidth on images 8,000-8,999 (validation) and report the mean
log-likelihood ± its standard error on images 9,000-9,999 (test), with pixel intensities in [0, 1]
as in the paper. For scale, the same estimate with the 8,000 real training images as the samples.

Sequences (Lorenz 10-D readouts; JSB chorales as 32-step piano-roll windows): train the recurrent
AAE, generate as many sequences as are held out, and report

- the discriminative score: held-out accuracy of a small GRU classifier of real vs generated
  (``seqgen_aae.discriminative_score``; 0.5 is best);
- the squared MMD between generated and held-out sequences (``seqgen.metrics.mmd``; 0 is best),

each next to the same statistic for training data against held-out data (what a perfect model
would score on these sample sizes).

    OMP_NUM_THREADS=1 python plugins/seqgen-aae/benchmarks/quality_aae.py            # ~7 min on 2 idle CPU cores
    OMP_NUM_THREADS=1 python plugins/seqgen-aae/benchmarks/quality_aae.py --smoke    # toy sizes, to check it runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

import seqgen
import seqgen_aae as aae
from seqgen.data import PianoRollDataset
from seqgen.metrics import mmd, parzen_log_likelihood, select_parzen_bandwidth
from seqgen.train import TrainOps, seed_everything

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
BANDWIDTHS = [0.1, 0.13, 0.16, 0.2, 0.25, 0.32, 0.4]


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=DATA)
    p.add_argument("--only", choices=["mnist", "lorenz", "jsb"], nargs="*", default=["mnist", "lorenz", "jsb"])
    p.add_argument("--mnist-epochs", type=int, default=50)
    p.add_argument("--seq-epochs", type=int, default=60)
    p.add_argument("--num-samples", type=int, default=10000, help="MNIST samples for the Parzen window (the paper: 10,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args(argv)
    if args.smoke:
        args.mnist_epochs, args.seq_epochs, args.num_samples = 1, 1, 500
    return args


def _stack(ds) -> torch.Tensor:
    return torch.stack([ds[i].x for i in range(len(ds))])


def _train(model, train, args, epochs, batch_size):
    seed_everything(args.seed)
    config = aae.train_config(epochs=epochs, batch_size=batch_size, seed=args.seed, progress="off", log_every=10**6, num_threads=args.threads)
    start = time.perf_counter()
    TrainOps(model, config).fit(train)
    return model.eval(), time.perf_counter() - start


def mnist(args) -> dict:
    limit = 500 if args.smoke else None
    train = aae.mnist_images(args.data_dir, split="train", obs="bernoulli", limit=limit)
    held = _stack(aae.mnist_images(args.data_dir, split="valid", obs="normal"))[:, 0]  # [2000, 784] intensities in [0, 1]
    valid, test = held[:1000], held[1000:]
    seed_everything(args.seed)
    model = aae.SPEC.build(
        obs_dim=784, obs="bernoulli", z_dim=8, context="none", embed_dim=256, encoder_hidden=(512,), encoder_rnn=256,
        code_hidden=(256,), hidden=256, decoder_hidden=(512,), disc_hidden=(256, 256),
        lr_reconstruction=1e-3, lr_discriminator=1e-3, lr_generator=2e-4,
    )  # fmt: skip
    model, seconds = _train(model, train, args, args.mnist_epochs, 100)
    with torch.no_grad():
        samples = torch.cat([model.decode(model.sample_codes(1000))[:, 0] for _ in range(math.ceil(args.num_samples / 1000))])[: args.num_samples]
    sigma = select_parzen_bandwidth(samples, valid, BANDWIDTHS)
    ll = parzen_log_likelihood(samples, test, sigma)  # [1000] nats per image
    # the same estimate with the real training images (intensities) as the samples: what 8,000 draws
    # from the data distribution itself score under this protocol
    real = _stack(aae.mnist_images(args.data_dir, split="train", obs="normal", limit=limit))[:, 0]
    sigma_real = select_parzen_bandwidth(real, valid, BANDWIDTHS)
    ll_real = parzen_log_likelihood(real, test, sigma_real)
    return {
        "train_images": len(train),
        "epochs": args.mnist_epochs,
        "train_seconds": round(seconds, 1),
        "samples": len(samples),
        "bandwidth": sigma,
        "parzen_ll_mean": round(float(ll.mean()), 1),
        "parzen_ll_stderr": round(float(ll.std() / math.sqrt(len(ll))), 1),
        "reference_training_images_as_samples": f"{float(ll_real.mean()):.1f} ± {float(ll_real.std() / math.sqrt(len(ll_real))):.1f} (bandwidth {sigma_real})",
        "paper_aae_60k": "340 ± 2",
    }


def _sequences(args, name):
    if name == "lorenz":
        n_train, n_valid, steps = (40, 20, 20) if args.smoke else (400, 200, 50)
        train = seqgen.load_data("lorenz", split="train", num=n_train, length=steps, obs_dim=10)
        valid = seqgen.load_data("lorenz", split="valid", num=n_valid, length=steps, obs_dim=10)
        config = dict(obs_dim=10, obs="normal", z_dim=8, hidden=64, context_dim=16, embed_dim=32, encoder_rnn=64, code_hidden=(64,), disc_hidden=(64, 64))
    else:
        steps = 16 if args.smoke else 32
        path = args.data_dir / "jsb_chorales_quarter_trainvalid.json"
        train = aae.windows(PianoRollDataset.from_json(path, split="train"), steps, limit=40 if args.smoke else None)
        valid = aae.windows(PianoRollDataset.from_json(path, split="valid"), steps, limit=20 if args.smoke else None)
        config = dict(obs_dim=88, obs="bernoulli", z_dim=16, hidden=128, context_dim=32, embed_dim=64, encoder_rnn=128, code_hidden=(128,), disc_hidden=(128, 128))
    return train, valid, steps, config


def sequences(args, name) -> dict:
    train, valid, steps, config = _sequences(args, name)
    seed_everything(args.seed)
    model, seconds = _train(aae.SPEC.build(**config), train, args, args.seq_epochs, 32)
    real, train_x = _stack(valid), _stack(train)
    with torch.no_grad():
        fake = model.distribution(steps).sample((len(real),))  # [n, steps, obs_dim]
    g = torch.Generator().manual_seed(args.seed)
    reference = train_x[torch.randperm(len(train_x), generator=g)[: len(real)]]  # training data: the ideal generator
    return {
        "train_sequences": len(train),
        "held_out": len(real),
        "steps": steps,
        "epochs": args.seq_epochs,
        "train_seconds": round(seconds, 1),
        "discriminative_accuracy": round(aae.discriminative_score(real, fake, seed=args.seed)["accuracy"], 3),
        "discriminative_accuracy_train_vs_held_out": round(aae.discriminative_score(real, reference, seed=args.seed)["accuracy"], 3),
        "mmd2": round(mmd(fake, real), 5),
        "mmd2_train_vs_held_out": round(mmd(reference, real), 5),
    }


def main(argv=None) -> None:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    print("command:", " ".join([os.path.basename(sys.executable)] + sys.argv))
    print(f"machine: {platform.processor() or platform.machine()}, os.cpu_count()={os.cpu_count()}, torch {torch.__version__}, "
          f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")  # fmt: skip
    results = {}
    for name in args.only:
        start = time.perf_counter()
        results[name] = mnist(args) if name == "mnist" else sequences(args, name)
        print(f"{name}: {json.dumps(results[name])}  ({time.perf_counter() - start:.0f} s)", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
