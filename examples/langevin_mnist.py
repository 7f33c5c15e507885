"""The Neural Langevin Machine on MNIST digits: train, dream from noise, and look inside.

Yu, Huang & Huang, "Neural Langevin Machine: a local asymmetric learning rule can be creative"
(arXiv:2506.23546, 2025), as one workflow with seqgen's public API:

1. train the machine on MNIST digits (default {1, 3, 6}) with ``seqgen.train.TrainOps`` (the model
   hands over a ``LocalRuleObjective``: no backpropagation);
2. generate from pure noise and save image grids over time (trajectories recorded only at chosen
   steps, never the whole ``[chains, steps, N]`` tensor), and the fixed points the final samples
   relax to without noise;
3. project the generated trajectories onto the first three principal components of the data
   (PCA in torch) in a 3-D plot, data coloured by digit;
4. plot a single neuron's activity over time;
5. plot the eigenvalue spectrum of ``J`` against the circular law of its initialisation.

Writes PNGs to ``--out`` (and TrainOps' checkpoint and metrics there). ``--smoke`` runs every
stage at toy sizes in seconds (CI); ``--load RUN_DIR`` skips training and uses a saved run (e.g.
the ``--run-dir`` of ``plugins/seqgen-langevin/benchmarks/quality_langevin.py``). Unless
``--no-warm-start``, training starts from ``model.init_from_data`` (``b`` from the data) rather than
the original's ``b = 0``. The model settings default to ``seqgen_langevin.STUDY_SETTINGS`` (also
the quality benchmark's: ``T = 0.1``, persistent chains restarting from noise with probability 0.02
per update); ``--set`` overrides them, e.g. ``--set temperature=1 chain_restart=0`` for the original's ``T = 1`` and plain PCD.

    python examples/langevin_mnist.py --out runs/langevin_mnist            # ~20 CPU-minutes of training
    python examples/langevin_mnist.py --smoke --out /tmp/langevin_smoke
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

import seqgen_langevin as lv
from seqgen.plot import image_grid, plot_training_curves
from seqgen.train import TrainOps, seed_everything

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=DATA, help="directory with the MNIST idx files")
    p.add_argument("--digits", type=int, nargs="+", default=[1, 3, 6])
    p.add_argument("--out", type=Path, default=Path("runs/langevin_mnist"))
    p.add_argument("--steps", type=int, default=2500, help="learning updates")
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam", "adamw"], help="'sgd' with --lr 5e-4 is the original")
    p.add_argument("--lr", type=float, default=5e-4, help="the rule carries 1/T: at T = 0.1 this is the step of lr 5e-3 at T = 1")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--chains", type=int, default=10, help="chains generated from noise")
    p.add_argument("--gen-steps", type=int, default=5000, help="Langevin steps of the generated trajectories")
    p.add_argument("--frames", type=int, default=8, help="time points shown in the image grid")
    p.add_argument("--neuron", type=int, default=14 * 28 + 14, help="the neuron (pixel) whose activity is plotted")
    p.add_argument("--relax-steps", type=int, default=1000, help="noise-free steps from each final sample to its fixed point")
    p.add_argument("--no-warm-start", action="store_true", help="start b at zero as the original (no model.init_from_data)")
    p.add_argument("--load", type=Path, default=None, help="a TrainOps run directory to load instead of training")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="LangevinConfig overrides")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--smoke", action="store_true", help="toy sizes, every stage, seconds (CI)")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.batch_size, args.chains, args.gen_steps, args.frames, args.relax_steps = 3, 256, 4, 40, 4, 20
        args.set = ["num_model_chains=64", "langevin_steps=2", *args.set]
    return args


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def train_or_load(args, train, model_config):
    """A trained LangevinMachine: built from ``model_config`` and trained by TrainOps on ``train``
    (checkpoint and metrics in ``--out``), or loaded with ``--load``."""
    if args.load is not None:
        if (args.load / "metrics.jsonl").is_file():
            print(f"  {plot_training_curves(args.load / 'metrics.jsonl', args.out / 'training.png')}")
        return TrainOps.load_model(args.load)
    seed_everything(args.seed)
    model = lv.SPEC.build(model_config)
    if not args.no_warm_start:  # b zeroes the data's mean residual; the chains still start from noise
        model.init_from_data(torch.stack([train[i].x[0] for i in range(len(train))]))
    config = lv.train_config(optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size, epochs=None,
                             max_steps=args.steps, seed=args.seed, out_dir=str(args.out), log_every=max(1, args.steps // 50),
                             progress="off")  # fmt: skip
    ops = TrainOps(model, config, model_name=lv.SPEC.name, model_version=lv.SPEC.version)
    history = ops.fit(train)
    print(f"trained {args.steps} updates; last contrastive gap {history.losses[-1]:.3f}")
    print(f"  {plot_training_curves(args.out / 'metrics.jsonl', args.out / 'training.png')}")
    return model


def pca(images: torch.Tensor, k: int = 3):
    """Top-``k`` principal axes of ``images: [n, P]``: ``(mean [P], axes [P, k])`` by SVD."""
    mean = images.mean(0)
    _, _, v = torch.linalg.svd(images - mean, full_matrices=False)  # v: [min(n, P), P]
    return mean, v[:k].T


def plot_pca(data, labels, trajectories, path):
    """Data ``[n, P]`` coloured by digit and trajectories ``[frames, chains, P]``, in PC space (3-D)."""
    plt = _plt()
    mean, axes = pca(data)
    d = ((data - mean) @ axes).numpy()  # [n, 3]
    tr = ((trajectories - mean) @ axes).numpy()  # [frames, chains, 3]
    fig = plt.figure(figsize=(6.5, 5.5))
    ax = fig.add_subplot(projection="3d")
    for digit in labels.unique().tolist():
        sel = (labels == digit).numpy()
        ax.scatter(d[sel, 0], d[sel, 1], d[sel, 2], s=2, alpha=0.25, label=f"digit {digit}")
    for c in range(tr.shape[1]):
        ax.plot(tr[:, c, 0], tr[:, c, 1], tr[:, c, 2], color="k", lw=0.8)
        ax.scatter(tr[-1, c, 0], tr[-1, c, 1], tr[-1, c, 2], color="k", marker="x", s=20)
    ax.set(xlabel="PC 1", ylabel="PC 2", zlabel="PC 3", title="generated trajectories (black) over the data")
    ax.legend(markerscale=4, fontsize=7, loc="upper left")
    return _save(plt, fig, path)


def plot_neuron(traces, dt, neuron, path):
    """``traces: [steps + 1, chains]`` of one neuron's state ``x_i`` and rate ``tanh(x_i)``."""
    plt = _plt()
    t = torch.arange(traces.shape[0]) * dt
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 4.5), sharex=True)
    for c in range(traces.shape[1]):
        a1.plot(t.numpy(), traces[:, c].numpy(), lw=0.7)
        a2.plot(t.numpy(), torch.tanh(traces[:, c]).numpy(), lw=0.7)
    a1.set(ylabel=f"$x_{{{neuron}}}$", title=f"neuron {neuron} during generation (one line per chain)")
    a2.set(ylabel="tanh(x)", xlabel="time (t = step · Δt)")
    return _save(plt, fig, path)


def plot_spectrum(J, gain, path):
    """Eigenvalues of ``J`` in the complex plane, with the circle ``|λ| = g`` of ``J ~ N(0, g²/N)``."""
    plt = _plt()
    ev = torch.linalg.eigvals(J.double())
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(ev.real.numpy(), ev.imag.numpy(), s=3)
    circle = torch.linspace(0, 2 * math.pi, 200)
    ax.plot((gain * torch.cos(circle)).numpy(), (gain * torch.sin(circle)).numpy(), "r--", lw=0.8, label=f"|λ| = g = {gain}")
    ax.set(xlabel="Re λ", ylabel="Im λ", title=f"spectrum of J (max |λ| = {float(ev.abs().max()):.2f})", aspect="equal")
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def _save(plt, fig, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    args = parse(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if not (args.data_dir / "mnist-t10k-images-idx3-ubyte.gz").is_file():
        sys.exit(f"no MNIST idx files in {args.data_dir}; pass --data-dir")
    args.out.mkdir(parents=True, exist_ok=True)
    config = lv.LangevinConfig().with_overrides([*lv.STUDY_SETTINGS, *args.set])
    train, pixels, labels = lv.mnist_states(args.data_dir, config=config, digits=args.digits, split="train")
    print(f"data: {train.describe().splitlines()[0]}")

    model = train_or_load(args, train, config)
    n_frames = max(2, args.frames)
    frames = sorted({round(i * args.gen_steps / (n_frames - 1)) for i in range(n_frames)})  # grid time points
    fine = sorted(set(range(0, args.gen_steps + 1, max(1, args.gen_steps // 100))) | set(frames))  # for the PCA path
    torch.manual_seed(args.seed)
    x, snaps, traces = model.sample_chains(args.chains, args.gen_steps, record_at=fine, trace_neurons=torch.tensor([args.neuron]))
    images = model.states_to_images(snaps)  # [len(fine), chains, 784] in [0, 1]

    grid = images[[fine.index(s) for s in frames]].transpose(0, 1).reshape(-1, 28, 28)  # row = chain, column = time
    titles = [f"t={s * model.config.dt:g}" for s in frames]
    print(f"  {image_grid(grid, args.out / 'generation_over_time.png', nrow=len(frames), titles=titles)}")
    fixed, _, _ = model.sample_chains(args.chains, args.relax_steps, x0=x, temperature=0.0)  # T = 0: to the fixed points
    both = torch.cat([images[-1], model.states_to_images(fixed)]).reshape(-1, 28, 28)  # row 1 samples, row 2 fixed points
    print(f"  {image_grid(both, args.out / 'generated.png', nrow=args.chains)}")
    print(f"  {plot_pca(pixels, labels, images, args.out / 'pca_trajectories.png')}")
    print(f"  {plot_neuron(traces[:, :, 0], model.config.dt, args.neuron, args.out / 'neuron_activity.png')}")
    print(f"  {plot_spectrum(model.J.detach(), model.config.gain, args.out / 'spectrum_J.png')}")


if __name__ == "__main__":
    main()
