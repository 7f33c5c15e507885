"""Adversarial autoencoders on MNIST: a Gaussian prior, and a 10-component mixture prior conditioned on labels.

Makhzani et al., "Adversarial Autoencoders" (arXiv 1511.05644, 2016), §2 and §2.3, with seqgen's
public API and the ``seqgen_aae`` plugin. An image is a sequence of one step (``x: [1, 784]``); the
first 8,000 images of the MNIST 10k file train, the last 2,000 are held out. For each prior:

1. train the AAE with ``TrainOps`` (three phases per minibatch: reconstruction, discriminator,
   generator) on binarised digits (Bernoulli targets stay in {0, 1});
2. plot the held-out codes in the 2-D latent space, coloured by digit;
3. plot a decoded manifold: a grid of codes over the prior's extent, each decoded to its mean image;
4. plot held-out digits above their reconstructions, and decoded samples from the prior.

With ``--prior mixture`` each digit's prior samples come from its own component (the discriminator
also reads the one-hot label), so each class takes its own petal of the mixture.

    python examples/aae_mnist.py --out runs/aae_mnist                 # both priors, ~8 min on 2 CPU cores
    python examples/aae_mnist.py --prior gaussian --adversarial false # a plain autoencoder, for contrast
    python examples/aae_mnist.py --smoke --out /tmp/aae_mnist_smoke   # every stage at toy sizes (CI)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import seqgen
import seqgen_aae as aae
from seqgen.plot import image_grid
from seqgen.train import TrainOps, seed_everything

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PRIOR_SCALE = {"gaussian": 1.0, "mixture": 4.0}  # the Gaussian's std; the mixture circle's radius


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=DATA, help="directory with the MNIST idx files")
    p.add_argument("--out", type=Path, default=Path("runs/aae_mnist"))
    p.add_argument("--prior", choices=["gaussian", "mixture", "both"], default="both")
    p.add_argument("--adversarial", type=aae.boolean, default=True, metavar="{true,false}", help="false: train a plain autoencoder (no regularisation)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="AAEConfig overrides")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--smoke", action="store_true", help="toy sizes, every stage, seconds (CI)")
    return p


def parse(argv=None):
    args = build_parser().parse_args(argv)
    args.limit = (300, 100) if args.smoke else (None, None)
    args.num_samples = 20 if args.smoke else 60
    if args.smoke:
        args.epochs = 1
        args.set = ["embed_dim=32", "encoder_rnn=32", "code_hidden=[32]", "hidden=32", "decoder_hidden=[64]", "disc_hidden=[32]", *args.set]
    return args


def model_config(args, prior: str) -> aae.AAEConfig:
    """The image AAE: a 2-D code, MLP features and decoder head around one-step GRUs."""
    base = aae.AAEConfig(
        obs_dim=784, obs="bernoulli", z_dim=2, context="none",
        embed_dim=256, encoder_hidden=(512,), encoder_rnn=256, code_hidden=(256,),
        hidden=256, decoder_hidden=(512,), disc_hidden=(256, 256),
        prior=prior, prior_scale=PRIOR_SCALE[prior], num_components=10, label_conditioned=(prior == "mixture"),
        adversarial=args.adversarial,
        lr_reconstruction=1e-3, lr_discriminator=1e-3, lr_generator=5e-4,
    )  # fmt: skip
    return base.with_overrides(args.set)


def train(args, prior: str, train_set, valid_set):
    seed_everything(args.seed)
    model = aae.SPEC.build(model_config(args, prior))
    run = args.out / prior
    config = aae.train_config(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, out_dir=str(run),
                              num_threads=args.threads, progress="off", log_every=100)  # fmt: skip
    ops = TrainOps(model, config, model_name="aae", model_version=aae.__version__)
    history = ops.fit(train_set, valid_set)
    return model.eval(), history


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_codes(z: torch.Tensor, labels: torch.Tensor, path: Path, title: str) -> Path:
    """Codes ``[n, 2]`` as points coloured by digit."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    points = ax.scatter(z[:, 0].numpy(), z[:, 1].numpy(), c=labels.numpy(), cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_title(title)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_manifold(images: torch.Tensor, side: int, extent: float, path: Path, title: str) -> Path:
    """``[side * side, 784]`` decoded digits, row-major with ``z[1]`` decreasing down the rows, as one canvas."""
    canvas = images.reshape(side, side, 28, 28).permute(0, 2, 1, 3).reshape(side * 28, side * 28)  # [rows*28, cols*28]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(canvas.numpy(), cmap="gray", extent=(-extent, extent, -extent, extent))
    ax.set_title(title)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figures(args, prior: str, model, valid_set) -> dict:
    out = args.out / prior
    x = torch.stack([valid_set[i].x for i in range(len(valid_set))])  # [n, 1, 784]
    labels = valid_set.labels
    with torch.no_grad():
        z = model.encode(x)  # [n, 2]
        recon = model.reconstruct(x[:10])[:, 0]  # [10, 784] Bernoulli means
        samples = model.decode(model.sample_codes(args.num_samples))[:, 0]  # [num_samples, 784]
        extent = 2.0 * model.config.prior_scale if prior == "gaussian" else 1.3 * model.config.prior_scale
        side = torch.linspace(-extent, extent, 20)
        grid = torch.stack(torch.meshgrid(side.flip(0), side, indexing="ij"), -1)[..., [1, 0]].reshape(-1, 2)  # rows: z[1] down
        manifold = model.decode(grid)[:, 0]  # [400, 784]
    title = f"{prior} prior{' (labels to the discriminator)' if model.config.label_conditioned else ''}"
    paths = {
        "codes": plot_codes(z, labels, out / "latent_codes.png", f"held-out codes, {title}"),
        "manifold": plot_manifold(manifold, len(side), extent, out / "manifold.png", f"decoded codes, {title}"),
        "reconstructions": image_grid(torch.cat([x[:10, 0], recon]), out / "reconstructions.png", nrow=10),  # digits above reconstructions
        "samples": image_grid(samples, out / "samples.png", nrow=10),
    }
    return paths


def main(argv=None) -> None:
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    n_train, n_valid = args.limit
    train_set = aae.mnist_images(args.data_dir, split="train", obs="bernoulli", limit=n_train)
    valid_set = aae.mnist_images(args.data_dir, split="valid", obs="bernoulli", limit=n_valid)
    print(train_set.describe(), valid_set.describe(), sep="\n")
    for prior in (["gaussian", "mixture"] if args.prior == "both" else [args.prior]):
        model, history = train(args, prior, train_set, valid_set)
        last = history[-1] if history else {}
        shown = {k: round(v, 4) for k, v in last.items() if k.startswith("valid/")}
        print(f"{prior}: after {args.epochs} epoch(s): {shown}")
        for name, path in figures(args, prior, model, valid_set).items():
            print(f"  {name}: {path}")


if __name__ == "__main__":
    main()
