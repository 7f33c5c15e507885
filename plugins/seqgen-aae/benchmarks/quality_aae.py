"""Sample quality of the adversarial autoencoder: the paper's Parzen figure on MNIST, and two
two-sample statistics on sequences. A plain script (not a test); it prints its figures.

MNIST (Makhzani et al. 2016, Table 1; the protocol of Goodfellow et al. 2014): train on the first
8,000 images of the MNIST 10k file (binarised; the paper trained on 60,000), draw 10,000 samples
(the decoder's mean image of ``z ~ p(z)``, 8-D code, Gaussian prior), fit a Gaussian Parzen window
to them and score the 2,000 held-out images 8,000-9,999 (pixel intensities in [0, 1], as in the
paper) in two halves: the bandwidth for images 9,000-9,999 is chosen on images 8,000-8,999
(validation) and the other way round, so every held-out image is scored with a bandwidth chosen
on a validation split that does not contain it. Reported: the mean log-likelihood ± its standard
error over all 2,000 held-out images, and the single split alone (bandwidth on 8,000-8,999, scored
on 9,000-9,999). For scale, the same estimate with the 8,000 real training images as the samples.

Sequences (Lorenz 10-D readouts; JSB chorales as 32-step piano-roll windows): train the recurrent
AAE (Lorenz: the decoder reads only the code, Gaussian encoder, 100 epochs; JSB: the decoder also
reads the previous step, 60 epochs; seqgen_aae.SEQUENCE_SETTINGS says why), generate as many sequences as are held
out, and report

- the discriminative score: held-out accuracy of a small GRU classifier of real vs generated
  (``seqgen_aae.discriminative_score``; 0.5 is best);
- the squared MMD between generated and held-out sequences (``seqgen.metrics.mmd``; 0 is best),

each next to the same statistic for training data against held-out data (what a perfect model
would score on these sample sizes).

    OMP_NUM_THREADS=1 python plugins/seqgen-aae/benchmarks/quality_aae.py            # ~6.5 min of CPU (12.5 min wall on a shared 2-core machine)
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
    p.add_argument("--seq-epochs", type=int, default=None, help=f"epochs for both sequence sets (default: {aae.SEQUENCE_EPOCHS})")
    p.add_argument("--num-samples", type=int, default=10000, help="MNIST samples for the Parzen window (the paper: 10,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args(argv)
    if args.smoke:
        args.mnist_epochs, args.seq_epochs, args.num_samples = 1, 1, 500
    args.seq_epochs = {name: args.seq_epochs or epochs for name, epochs in aae.SEQUENCE_EPOCHS.items()}
    return args


def _stack(ds) -> torch.Tensor:
    return torch.stack([ds[i].x for i in range(len(ds))])


def _train(model, train, args, epochs, batch_size):
    seed_everything(args.seed)
    config = aae.train_config(epochs=epochs, batch_size=batch_size, seed=args.seed, progress="off", log_every=10**6, num_threads=args.threads)
    start, cpu = time.perf_counter(), time.process_time()
    TrainOps(model, config).fit(train)
    return model.eval(), {"train_seconds": round(time.perf_counter() - start, 1), "train_cpu_seconds": round(time.process_time() - cpu, 1)}


def mnist(args) -> dict:
    limit = 500 if args.smoke else None
    train = aae.mnist_images(args.data_dir, split="train", obs="bernoulli", limit=limit)
    held = _stack(aae.mnist_images(args.data_dir, split="valid", obs="normal"))[:, 0]  # [2000, 784] intensities in [0, 1]
    seed_everything(args.seed)
    model = aae.SPEC.build(
        obs_dim=784, obs="bernoulli", z_dim=8, context="none", embed_dim=256, encoder_hidden=(512,), encoder_rnn=256,
        code_hidden=(256,), hidden=256, decoder_hidden=(512,), disc_hidden=(256, 256),
        lr_reconstruction=1e-3, lr_discriminator=1e-3, lr_generator=2e-4,
    )  # fmt: skip
    model, timing = _train(model, train, args, args.mnist_epochs, 100)
    with torch.no_grad():
        samples = torch.cat([model.decode(model.sample_codes(1000))[:, 0] for _ in range(math.ceil(args.num_samples / 1000))])[: args.num_samples]
    # the same estimate with the real training images (intensities) as the samples: what 8,000 draws
    # from the data distribution itself score under this protocol
    real = _stack(aae.mnist_images(args.data_dir, split="train", obs="normal", limit=limit))[:, 0]
    fit, ref = parzen(samples, held), parzen(real, held)
    return {
        "train_images": len(train),
        "epochs": args.mnist_epochs,
        **timing,
        "samples": len(samples),
        "held_out_images": len(held),
        **fit,
        "reference_training_images_as_samples": {"samples": len(real), **ref},
        "paper_aae_60k": "340 ± 2",
    }


def parzen(samples: torch.Tensor, held: torch.Tensor) -> dict:
    """Parzen log-likelihood (nats per image) of the held-out images ``held: [m, 784]`` under a Gaussian
    window on ``samples: [n, 784]``, cross-fitted over the two halves of ``held`` (see the module docstring)."""
    half = len(held) // 2
    first, second = held[:half], held[half:]
    sigma_first = select_parzen_bandwidth(samples, first, BANDWIDTHS)  # chosen on the first half, scores the second
    sigma_second = select_parzen_bandwidth(samples, second, BANDWIDTHS)
    ll_second = parzen_log_likelihood(samples, second, sigma_first)  # [m - half]
    ll = torch.cat([parzen_log_likelihood(samples, first, sigma_second), ll_second])  # [m]
    stderr = lambda v: round(float(v.std() / math.sqrt(len(v))), 1)
    return {
        "parzen_ll_mean": round(float(ll.mean()), 1),
        "parzen_ll_stderr": stderr(ll),
        "bandwidths": {"second_half_scored_with": sigma_first, "first_half_scored_with": sigma_second},
        "single_split": {"parzen_ll_mean": round(float(ll_second.mean()), 1), "parzen_ll_stderr": stderr(ll_second), "bandwidth": sigma_first},
    }


def _sequences(args, name):
    if name == "lorenz":
        n_train, n_valid, steps = (40, 20, 20) if args.smoke else (400, 200, 50)
        train = seqgen.load_data("lorenz", split="train", num=n_train, length=steps, obs_dim=10)
        valid = seqgen.load_data("lorenz", split="valid", num=n_valid, length=steps, obs_dim=10)
    else:
        steps = 16 if args.smoke else 32
        path = args.data_dir / "jsb_chorales_quarter_trainvalid.json"
        train = aae.windows(PianoRollDataset.from_json(path, split="train"), steps, limit=40 if args.smoke else None)
        valid = aae.windows(PianoRollDataset.from_json(path, split="valid"), steps, limit=20 if args.smoke else None)
    return train, valid, steps, dict(aae.SEQUENCE_SETTINGS[name])


def sequences(args, name) -> dict:
    train, valid, steps, config = _sequences(args, name)
    seed_everything(args.seed)
    model, timing = _train(aae.SPEC.build(**config), train, args, args.seq_epochs[name], 32)
    real, train_x = _stack(valid), _stack(train)
    with torch.no_grad():
        fake = model.distribution(steps).sample((len(real),))  # [n, steps, obs_dim]
    g = torch.Generator().manual_seed(args.seed)
    reference = train_x[torch.randperm(len(train_x), generator=g)[: len(real)]]  # training data: the ideal generator
    return {
        "train_sequences": len(train),
        "held_out": len(real),
        "steps": steps,
        "epochs": args.seq_epochs[name],
        "config": {k: v for k, v in config.items() if k != "obs_dim"},
        **timing,
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
        start_cpu = time.process_time()
        results[name] = mnist(args) if name == "mnist" else sequences(args, name)
        results[name]["load_average_1min"] = round(os.getloadavg()[0], 2)
        print(f"{name}: {json.dumps(results[name])}  ({time.perf_counter() - start:.0f} s wall, {time.process_time() - start_cpu:.0f} s CPU)", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
