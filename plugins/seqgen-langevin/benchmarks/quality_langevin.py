"""Sample quality of the Neural Langevin Machine on MNIST digits (default {1, 3, 6}).

Trains the machine with seqgen's TrainOps (the local rule, ``LocalRuleObjective``) on the training
split of ``<repo>/../shared/data`` (the first 8,000 of the 10,000 MNIST images, the chosen digits),
then generates samples from pure noise and compares them with the held-out digits (the last 2,000
images): nearest-neighbour adversarial accuracy error (AAI, 0 is best), the mean squared
difference of pixel covariances, the share of samples with inverted contrast, and the share a
logistic-regression classifier fitted to the real training images (all ten digits) assigns to a
trained digit with probability >= 0.9 (the same figure for real held-out digits is the ceiling).
Goal: AAI error <= 0.05 and >= 80 % confidently classified, training in about 20 minutes on CPU.

Default settings (``seqgen_langevin.STUDY_SETTINGS`` plus the options below; ``--set`` overrides
them): temperature ``T = 0.1`` for training and sampling (at ``T = 1`` the thermal noise alone keeps even real digits
far from the goals, see the reference rows), SGD on the rule, and persistent chains that restart
from pure noise with probability ``chain_restart`` per update (plain PCD never visits the spurious
attractors that noise falls into, so generation from noise was far worse than the chains).

Each generated chain is read out three ways, all printed: the sample itself (``(tanh x + 1)/2`` of
the state after ``--gen-steps`` Langevin steps at ``T`` from pure noise, thermal noise included:
the headline figure), the same chain's local field ``h = Jφ(x) + b``, and the fixed point
``x = Jφ(x) + b`` it relaxes to under ``--relax-steps`` noise-free steps (``T = 0``); the last two are
noise-free readouts, secondary. For reference the script also scores a random subset of the real
training digits, through the data map, clean and with the thermal noise of ``T`` added to their
states (``x + √T ξ``: what a model whose fixed points were exactly the data would emit as raw
samples), and samples of two models fitted in closed form to the same training states: one
Gaussian (mean and covariance), and one Gaussian per digit mixed in the digits' proportions (what
the goals ask of a generator, on a scale anyone can reproduce in seconds). Prints its figures; not a test.

    OMP_NUM_THREADS=1 python plugins/seqgen-langevin/benchmarks/quality_langevin.py --threads 1
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

import seqgen_langevin as lv
from seqgen.data import MNISTDataset
from seqgen.train import TrainOps, seed_everything
from seqgen_langevin.evaluation import DigitClassifier, quality_report

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=DATA)
    p.add_argument("--digits", type=int, nargs="+", default=[1, 3, 6])
    p.add_argument("--steps", type=int, default=2500, help="learning updates (one minibatch each)")
    p.add_argument("--eval-every", type=int, default=250, help="updates between progress reports (quality of the PCD chains)")
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam", "adamw"], help="'sgd' with --lr 5e-4 is the original")
    p.add_argument("--lr", type=float, default=5e-4, help="the rule carries 1/T: at T = 0.1 this is the step of lr 5e-3 at T = 1")
    p.add_argument("--lr-warmup", type=int, default=0, help="updates of a linear learning-rate ramp from lr/n to lr (TrainConfig.lr_warmup_steps)")
    p.add_argument("--lr-decay", type=float, default=1.0, help="multiply the learning rate by this every --lr-decay-every updates (1: constant)")
    p.add_argument("--lr-decay-every", type=int, default=500)
    p.add_argument("--weight-decay", type=float, default=2e-6)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--gen-steps", type=int, default=5000, help="Langevin steps from pure noise for the final samples")
    p.add_argument("--relax-steps", type=int, default=1000, help="noise-free steps from each sample to its fixed point")
    p.add_argument("--no-warm-start", action="store_true", help="skip model.init_from_data (b from the data)")
    p.add_argument("--run-dir", type=Path, default=None, help="TrainOps out_dir: checkpoints here (examples/langevin_mnist.py --load)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="write a grid of samples here (PNG)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help=f"LangevinConfig overrides on top of {' '.join(lv.STUDY_SETTINGS)}")
    p.add_argument("--references-only", action="store_true", help="print only the reference rows (real digits, fitted Gaussians): seconds, no training")
    return p.parse_args(argv)


def gaussian_samples(states: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` draws from ``N(mean, cov + 10⁻³ I)`` of ``states: [m, N]`` (the jitter keeps the covariance
    of fewer than ``N`` images positive definite): ``[n, N]``."""
    x = states.double()
    cov = torch.cov(x.T) + 1e-3 * torch.eye(x.shape[1], dtype=x.dtype)
    eps = torch.randn(n, x.shape[1], generator=generator, dtype=x.dtype)
    return (x.mean(0) + eps @ torch.linalg.cholesky(cov).T).to(states.dtype)


def reference_readouts(model, train, train_labels, n: int, config, args) -> dict:
    """Images to score beside the samples, ``name -> [n, N]``: real training digits through the data
    map (clean, and with the thermal noise of ``T``), and draws of one Gaussian and of one Gaussian
    per digit fitted to the training states (what the goals ask of a generator, in closed form)."""
    refs = {}
    with torch.no_grad():
        # a random subset: the first training images (MNIST's first writers) sit farther from the held-out ones
        pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(args.seed))[:n]
        train_x = torch.stack([train[int(i)].x[0] for i in pick])  # [n, N]
        noise = (config.temperature**0.5) * torch.randn(train_x.shape, generator=torch.Generator().manual_seed(args.seed))
        refs["reference: real training digits (data map)"] = model.states_to_images(train_x)
        refs[f"reference: real training digits + T={config.temperature:g} noise"] = model.states_to_images(train_x + noise)
        all_x = torch.stack([train[i].x[0] for i in range(len(train))])  # [n_train, N]
        gen = torch.Generator().manual_seed(args.seed)
        refs["reference: one Gaussian fitted to the training states"] = model.states_to_images(gaussian_samples(all_x, n, gen))
        share = torch.bincount(train_labels)[args.digits].double()
        counts = torch.multinomial(share / share.sum(), n, replacement=True, generator=gen).bincount(minlength=len(args.digits))
        per_digit = [gaussian_samples(all_x[train_labels == d], int(k), gen) for d, k in zip(args.digits, counts)]
        refs["reference: one Gaussian per digit, fitted to the training states"] = model.states_to_images(torch.cat(per_digit))
    return refs


def split(shares: dict) -> str:
    """``{1: 0.7, 3: 0.02, 6: 0.05}`` -> ``'1/3/6: 70.0/2.0/5.0'`` (percentages)."""
    return "/".join(map(str, shares)) + ": " + "/".join(f"{100 * v:.1f}" for v in shares.values())


def print_scores(readouts: dict, report, digits) -> None:
    """One line of figures per readout (``report(images) -> quality_report dict``)."""
    for name, images in readouts.items():
        q = report(images)
        print(f"{name}: AAI error {q['aai_error']:.4f} (acc_real {q['acc_real']:.3f}, acc_fake {q['acc_fake']:.3f}; goal <= 0.05), "
              f"pixel covariance MSE {q['pixel_cov_mse']:.3g}, inverted contrast {100 * q['inverted_share']:.1f} %, "
              f"confidently classified as {digits}: {100 * q['confident_share']:.1f} % (goal >= 80 %; "
              f"real held-out digits: {100 * q['confident_share_real']:.1f} %), by digit {split(q['confident_by_digit'])} % "
              f"(real {split(q['confident_by_digit_real'])} %)")  # fmt: skip


def main(argv=None):
    args = parse(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if not (args.data_dir / "mnist-t10k-images-idx3-ubyte.gz").is_file():
        sys.exit(f"no MNIST idx files in {args.data_dir}; pass --data-dir")
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads, load average {os.getloadavg()[0]:.2f}")  # fmt: skip

    config = lv.LangevinConfig().with_overrides([*lv.STUDY_SETTINGS, *args.set])
    train, _, train_labels = lv.mnist_states(args.data_dir, config=config, digits=args.digits, split="train")
    _, real, _ = lv.mnist_states(args.data_dir, config=config, digits=args.digits, split="valid")
    print(f"data: {len(train)} training digits {args.digits}, {len(real)} held out; model {config}")

    all_train = MNISTDataset.from_dir(args.data_dir, split="train")
    clf_x = torch.stack([all_train[i].x[0] for i in range(len(all_train))])  # [8000, 784]
    classifier = DigitClassifier().fit(clf_x, all_train.labels)
    mean_image = clf_x[torch.isin(all_train.labels, torch.tensor(args.digits))].mean(0)

    def report(images):
        n = min(len(images), len(real))
        return quality_report(images[:n], real[:n], classifier=classifier, digits=args.digits, reference_mean=mean_image)

    seed_everything(args.seed)
    model = lv.SPEC.build(config)
    if args.references_only:  # the closed-form rows only: what the goals mean on this data, in seconds
        print_scores(reference_readouts(model, train, train_labels, len(real), config, args), report, args.digits)
        return
    if not args.no_warm_start:
        model.init_from_data(torch.stack([train[i].x[0] for i in range(len(train))]))
    decay = dict(lr_schedule="step", lr_gamma=args.lr_decay, lr_step_size=args.lr_decay_every) if args.lr_decay < 1 else {}
    tcfg = lv.train_config(optimizer=args.optimizer, lr=args.lr, lr_warmup_steps=args.lr_warmup, **decay, weight_decay=args.weight_decay, batch_size=args.batch_size,
                           epochs=None, max_steps=args.eval_every, seed=args.seed, progress="off", log_every=10**9,
                           out_dir=None if args.run_dir is None else str(args.run_dir))  # fmt: skip
    ops = TrainOps(model, tcfg, model_name=lv.SPEC.name, model_version=lv.SPEC.version)
    print(f"training: {tcfg.optimizer}, lr {tcfg.lr} (linear warm-up over {tcfg.lr_warmup_steps} updates; schedule {tcfg.lr_schedule}"
          + (f", x{tcfg.lr_gamma} every {tcfg.lr_step_size} updates" if tcfg.lr_schedule == "step" else "") + f"), weight decay {tcfg.weight_decay}, batch {tcfg.batch_size}, "
          f"{args.steps} updates, warm start {not args.no_warm_start}")  # fmt: skip
    t0, c0, done = time.perf_counter(), time.process_time(), 0
    while done < args.steps:
        done = min(done + args.eval_every, args.steps)
        ops.config = ops.config.evolve(max_steps=done)  # train on to the next report
        history = ops.fit(train)
        q = report(model.states_to_images(model.chains))
        print(f"  update {done:5d}  {time.perf_counter() - t0:7.1f} s  gap {history.losses[-1]:.3f}  "
              f"chains: AAI {q['aai_error']:.3f} confident {q['confident_share']:.2f} inverted {q['inverted_share']:.2f}", flush=True)  # fmt: skip
    train_time, train_cpu = time.perf_counter() - t0, time.process_time() - c0  # the reports' time included

    t1 = time.perf_counter()
    earlier = [s for s in (1000, 3000, 10000) if s < args.gen_steps]  # equilibration: the same chains on the way
    x, snaps, _ = model.sample_chains(len(real), args.gen_steps, record_at=earlier)  # from pure noise N(0, σ₀² I)
    fixed, _, _ = model.sample_chains(len(real), args.relax_steps, x0=x, temperature=0.0)
    with torch.no_grad():
        readouts = {
            f"samples ({args.gen_steps} steps from noise)": model.states_to_images(x),
            "local field h": model.states_to_images(model.field(x)),
            "fixed points": model.states_to_images(fixed),
        }
        for step, xs in zip(earlier, [] if snaps is None else snaps):
            readouts[f"the same chains after {step} steps"] = model.states_to_images(xs)
        readouts["persistent training chains (mixed ages)"] = model.states_to_images(model.chains)
        readouts.update(reference_readouts(model, train, train_labels, len(real), config, args))
    print(f"training time {train_time / 60:.1f} min wall, {train_cpu / 60:.1f} min CPU (load average now {os.getloadavg()[0]:.1f}); "
          f"{len(real)} chains x {args.gen_steps} steps from noise, then {args.relax_steps} noise-free steps: {time.perf_counter() - t1:.1f} s")  # fmt: skip
    print_scores(readouts, report, args.digits)
    if args.out is not None:
        from seqgen.plot import image_grid

        shown = [readouts[k][:10] for k in list(readouts)[:3]]  # samples, local field, fixed points
        rows = torch.stack(shown)  # [3, 10, 784]
        print(f"samples (rows: sample, field, fixed point): {image_grid(rows.reshape(-1, 28, 28), args.out, nrow=10)}")


if __name__ == "__main__":
    main()
