"""Held-out Lorenz quality of the alternator beside the other models (issue #5's quality bar).

    python plugins/seqgen-alternator/benchmarks/quality_alternator.py [--steps 3000] [--models ...] [--smoke]

Runs the study of ``examples/alternator_lorenz.py`` (same data, training and metrics; see its
docstring) for each model and prints one table: latent correlation and MAE after an affine fit
(all steps observed, 50 % and 90 % of steps missing), imputation MAE at the missing steps, and
forecast MAE over the last 20 %. The alternator is run twice: with the true latents as feature
targets (the paper's mode) and without them (``--unsupervised``), so both figures are visible.
Goal for the alternator: held-out latent correlation ≥ 0.95 with full observations and ≥ 0.9
with 50 % missing steps. Not a test: it prints figures (and writes ``quality.json`` to ``--out``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
GOALS = {"latents_full": 0.95, "latents_missing50": 0.9}


def load_study():
    """The study module ``examples/alternator_lorenz.py`` (examples are scripts, not a package)."""
    path = ROOT / "examples" / "alternator_lorenz.py"
    spec = importlib.util.spec_from_file_location("alternator_lorenz_study", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fmt(value, width=8):
    return f"{value:{width}.3f}" if isinstance(value, float) else f"{'n/a':>{width}}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["alternator", "alternator-unsupervised", "rnn", "iseq", "srnn"])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--out", default="runs/quality_alternator")
    parser.add_argument("--smoke", action="store_true")
    args, rest = parser.parse_known_args(argv)
    study = load_study()
    torch.set_num_threads(1)
    rows = []
    start = time.perf_counter()
    for name in args.models:
        model = "alternator" if name.startswith("alternator") else name
        extra = ["--unsupervised"] if name == "alternator-unsupervised" else []
        study_args = study.parse_args(["--model", model, "--steps", str(args.steps), "--out", args.out, *extra, *rest] + (["--smoke"] if args.smoke else []))
        result = study.run_study(study_args)
        if result is not None:
            rows.append({"name": name, **result})
            print(f"[{time.perf_counter() - start:7.0f} s] {name} done", flush=True)

    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"machine: {platform.processor() or platform.machine()}, os.cpu_count()={os.cpu_count()}, torch {torch.__version__}, threads={torch.get_num_threads()}")
    print(f"data: held-out Lorenz, {study_args.obs} readout ({study_args.neurons} dims), {study_args.train} training / {study_args.test} held-out trajectories of {study_args.length} steps; {study_args.steps} Adam steps per model")
    head = f"{'model':<24}{'train s':>8}{'corr':>8}{'corr50':>8}{'corr90':>8}{'lat MAE':>8}{'imp50':>8}{'imp90':>8}{'fcast':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        corr = lambda k: r[k]["corr"] if k in r else None
        mae = r["latents_full"]["mae"] if "latents_full" in r else None
        print(f"{r['name']:<24}{r['train_seconds']:8.0f}{fmt(corr('latents_full'))}{fmt(corr('latents_missing50'))}{fmt(corr('latents_missing90'))}"
              f"{fmt(mae)}{fmt(r['impute_mae_missing50'])}{fmt(r['impute_mae_missing90'])}{fmt(r['forecast_mae'])}")
    if rows:
        print(f"{'(predict the mean)':<24}{'':8}{'':8}{'':8}{'':8}{'':8}{'':8}{'':8}{fmt(rows[0]['forecast_mae_predict_mean'])}")
    status = 0
    for r in rows:
        if r["name"] == "alternator":
            for key, goal in GOALS.items():
                ok = r[key]["corr"] >= goal
                status |= not ok
                print(f"alternator {key}: correlation {r[key]['corr']:.3f} (per dim {r[key]['corr_per_dim']}) goal >= {goal}: {'met' if ok else 'NOT met'}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "quality.json").write_text(json.dumps(rows, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
