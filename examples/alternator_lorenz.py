"""The Lorenz study: latent recovery, imputation and forecasting on held-out trajectories.

    python examples/alternator_lorenz.py [--model alternator|rnn|iseq|srnn] [--obs spiking|linear]
                                         [--steps 3000] [--out runs/alternator_lorenz] [--smoke]

Data (``seqgen.LorenzDataset``, σ = 10, ρ = 28, β = 8/3, Δt = 0.01, latents normalised): one
simulation of ``--train + --test`` trajectories of ``--length`` steps, split by index, so both
parts share one readout and one normalisation. Spiking observations (``--neurons`` Poisson
neurons with Gaussian tuning) are variance-stabilised, ``2 √(y + 3/8)`` (Anscombe), and every
observation dim is standardised with the training mean and standard deviation; every model sees
the same real-valued data (``obs='normal'`` for the built-in models).

Training: ``TrainOps`` for ``--steps`` Adam steps. The alternator trains with the true latents as
feature targets (the paper's supervised-features mode, ``batch.targets``) unless
``--unsupervised``; the other models never read targets.

Evaluation on the held-out trajectories:

- latents (models with ``latents``): ``infer(x)['z_loc']`` with all steps, 50 % and 90 % of the
  steps missing (i.i.d. per step), mapped to the true latents by a least-squares affine fit per
  held-out set (``seqgen.metrics.affine_latent_fit``): MAE, MSE and Pearson correlation per
  dimension (the table shows their means over the three dimensions);
- imputation: MAE at the missing steps of the mean of ``--samples`` ``impute`` draws;
- forecasting: MAE over the last 20 % of each trajectory of the mean of ``--samples``
  ``forecast`` draws from the first 80 %;
- plots (``--out``): true vs inferred latents of one held-out trajectory, over time and in 3-D.

Uses only the public API. ``--smoke`` runs a seconds-long version (tiny data, a few steps).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Dict, Optional

import torch

import seqgen
from seqgen import LorenzDataset, PluginError, SequenceDataset, TrainConfig, TrainOps
from seqgen.metrics import affine_latent_fit
from seqgen.plot import plot_latents

MODELS = ("alternator", "rnn", "iseq", "srnn")
MISSING = (0.5, 0.9)


def model_settings(name: str, obs_dim: int, args) -> Dict:
    """Config overrides per model family: comparable sizes (width 64, 3-D latents)."""
    if name == "alternator":
        return dict(obs_dim=obs_dim, z_dim=3, hidden=(64, 64), activation=args.activation, sigma_x=args.sigma_x,
                    sigma_z=args.sigma_z, alpha=args.alpha, feature_weight=0.0 if args.unsupervised else None)
    if name == "rnn":
        return dict(obs_dim=obs_dim, obs="normal", hidden=64, embed_dim=0)
    if name == "iseq":
        return dict(obs_dim=obs_dim, obs="normal", z_dim=3, hidden=64, inference_hidden=64, embed_dim=0)
    return dict(obs_dim=obs_dim, obs="normal", z_dim=3, d_dim=64, a_dim=64, mlp_hidden=64, embed_dim=0)  # srnn


def make_data(args):
    """``(train dataset, x_test [n, T, D], z_test [n, T, 3])``, standardised with training statistics."""
    total = args.train + args.test
    data = LorenzDataset(total, args.length, obs=args.obs, obs_dim=args.neurons, seed=args.seed, param_seed=args.seed)
    x = torch.stack([data[i].x for i in range(total)])  # [total, T, D]
    z = torch.stack([data[i].targets for i in range(total)])  # [total, T, 3]
    if args.obs == "spiking":
        x = 2.0 * (x + 0.375).sqrt()  # Anscombe: Poisson counts -> roughly unit-variance noise
    mean, std = x[: args.train].mean((0, 1)), x[: args.train].std((0, 1)).clamp_min(1e-6)
    x = (x - mean) / std
    train = SequenceDataset(x[: args.train], targets=z[: args.train], name=f"lorenz {args.obs} (train)")
    return train, x[args.train :], z[args.train :]


def random_mask(shape, missing: float, seed: int) -> torch.Tensor:
    """``[n, T]`` bool, True = observed, each step missing with probability ``missing`` (≥ 1 observed per row)."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(shape, generator=g) >= missing
    mask[~mask.any(1), 0] = True
    return mask


def latent_scores(true: torch.Tensor, inferred: torch.Tensor) -> Dict[str, float]:
    fit = affine_latent_fit(true, inferred)
    out = {k: float(fit[k].mean()) for k in ("mae", "mse", "corr")}
    out["corr_per_dim"] = [round(float(v), 4) for v in fit["corr"]]
    return out


@torch.no_grad()
def evaluate(model, x: torch.Tensor, z: torch.Tensor, args) -> Dict:
    """Latent recovery, imputation and forecasting figures on held-out ``x: [n, T, D]``."""
    res: Dict = {}
    n, steps = x.shape[:2]
    s = args.samples
    rep = lambda t: t.repeat(s, *([1] * (t.dim() - 1)))  # [n, …] -> [s * n, …], sample-major
    torch.manual_seed(args.seed + 1)
    if "latents" in model.capabilities:
        res["latents_full"] = latent_scores(z, model.infer(x)["z_loc"])
    for missing in MISSING:
        mask = random_mask((n, steps), missing, args.seed + int(100 * missing))
        key = f"{int(100 * missing)}"
        if "latents" in model.capabilities:
            res[f"latents_missing{key}"] = latent_scores(z, model.infer(x, mask=mask)["z_loc"])
        filled = model.impute(rep(x), rep(mask)).reshape(s, n, steps, -1).mean(0)  # [n, T, D]
        res[f"impute_mae_missing{key}"] = float((filled - x)[~mask].abs().mean())
    head = int(round(0.8 * steps))
    pred = model.forecast(rep(x[:, :head]), steps - head).reshape(s, n, steps - head, -1).mean(0)
    res["forecast_mae"] = float((pred - x[:, head:]).abs().mean())
    res["forecast_mae_predict_mean"] = float(x[:, head:].abs().mean())  # the trivial forecast (training mean, 0)
    return res


def build(name: str, obs_dim: int, args):
    try:
        return seqgen.load_model(name, **model_settings(name, obs_dim, args))
    except PluginError as e:
        print(f"skipping {name!r}: {e}")
        return None


def run_study(args, name: Optional[str] = None) -> Optional[Dict]:
    """Train model ``name`` (default ``args.model``) on the training part and evaluate it; None if not installed."""
    name = name or args.model
    torch.manual_seed(args.seed)
    train, x_test, z_test = make_data(args)
    model = build(name, x_test.shape[-1], args)
    if model is None:
        return None
    cfg = TrainConfig(max_steps=args.steps, epochs=None, batch_size=args.batch_size, lr=args.lr, grad_clip=1.0,
                      lr_schedule="cosine", lr_min_factor=0.1, seed=args.seed, progress="off", log_every=max(1, args.steps // 10))
    start = time.perf_counter()
    history = TrainOps(model, cfg).fit(train)
    seconds = time.perf_counter() - start
    model.eval()
    label = f"{name}_unsupervised" if name == "alternator" and args.unsupervised else name
    result = {"model": label, "train_seconds": round(seconds, 1), "final_loss": float(history.losses[-1]), **evaluate(model, x_test, z_test, args)}
    if args.out and "latents" in model.capabilities:
        out = Path(args.out)
        torch.manual_seed(args.seed + 2)
        with torch.no_grad():
            inferred = model.infer(x_test)["z_loc"]
        fitted = affine_latent_fit(z_test, inferred)["fitted"]
        result["plot"] = str(plot_latents(z_test[0], fitted[0], out / f"{label}_latents.png", title=f"{label}: held-out trajectory 0 (affine fit)"))
    return result


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=MODELS, default="alternator")
    p.add_argument("--obs", choices=("spiking", "linear"), default="spiking")
    p.add_argument("--neurons", type=int, default=50, help="spiking neurons (or linear readout dims)")
    p.add_argument("--train", type=int, default=64, help="training trajectories")
    p.add_argument("--test", type=int, default=16, help="held-out trajectories")
    p.add_argument("--length", type=int, default=275)
    p.add_argument("--steps", type=int, default=3000, help="Adam steps")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--samples", type=int, default=8, help="draws averaged for imputation and forecasts")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--unsupervised", action="store_true", help="alternator: ignore the true latents while training")
    p.add_argument("--activation", default="relu", help="alternator MLPs")
    p.add_argument("--sigma-x", type=float, default=0.5, help="alternator σ_x")
    p.add_argument("--sigma-z", type=float, default=0.03, help="alternator σ_z")
    p.add_argument("--alpha", type=float, default=0.3, help="alternator α (constant)")
    p.add_argument("--out", default="runs/alternator_lorenz", help="directory for plots and results.json ('' for none)")
    p.add_argument("--smoke", action="store_true", help="tiny data and a few steps: runs in seconds")
    args = p.parse_args(argv)
    if args.smoke:
        args.train, args.test, args.length, args.steps, args.samples, args.neurons = 4, 2, 40, 5, 2, 8
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    result = run_study(args)
    if result is None:
        return
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / f"{result['model']}_results.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
