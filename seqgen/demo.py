"""``seqgen demo``: the README's main job, end to end in about a minute on one CPU thread.

1. Lists the installed model plugins (the ``seqgen plugins`` table).
2. Picks data: the JSB chorales (Boulanger-Lewandowski et al., ICML 2012; 88-key piano rolls,
   229 training and 76 validation chorales) from the shared data folder ``<repo>/../shared/data``
   (or ``--data-dir``); when that file is absent, the Lorenz generator (synthetic chaotic dynamics
   seen through a 10-D linear-Gaussian readout). It says which.
3. Trains the built-in ``rnn`` model (GRU, ``d_t = GRU(enc(x_{t-1}), d_{t-1})``,
   ``x_t ~ Bernoulli(σ(W d_t))`` for the chorales, Normal for Lorenz) with TrainOps, time-capped
   at ``--seconds``: a first stage of :data:`FIRST_STEPS` steps measures the seconds per step
   from the ``time`` stamps in ``metrics.jsonl`` (epoch-end evaluations included) and the fixed
   cost of a stage; the run is then resumed exactly (``TrainOps.resume``), stage by stage, with
   ``max_steps`` planned so that training ends near the budget (see :func:`train_for`).
4. Evaluates on the validation split in nats per time step, labelled (``nll (exact)``).
5. Samples (``model.distribution(steps).sample((4,))``) and plots them.

Everything goes into ``--out`` (default ``runs/demo``), which is an ordinary run directory:
``seqgen sample``, ``seqgen evaluate`` and ``seqgen train rnn --out DIR --resume`` work on it.
Running the demo again replaces a previous demo's directory (and nothing else).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Optional, Tuple

import torch

from . import cli_plugins
from .cli_evaluate import evaluate_model, format_figures
from .cli_run import CURVES_FILE, RUN_FILE, check_new_run_dir, cleanup_on_failure, load_trained, read_run_info, write_run_files
from .cli_sample import draw, write_samples
from .cli_train import PreparedRun, prepare_run, report
from .errors import ConfigError
from .train import TrainOps
from .train.checkpoint import list_checkpoints
from .train.runlog import METRICS_FILE

__all__ = ["HELP", "add_arguments", "run", "default_data_dir", "choose_data", "train_for", "FIRST_STEPS", "JSB_FILE"]

HELP = "the main demo: list plugins, train a small model on real data for about a minute, evaluate, sample, plot"

JSB_FILE = "jsb_chorales_quarter_trainvalid.json"
MODEL = "rnn"
FIRST_STEPS = 20  # the measuring stage: more than one JSB epoch (15 steps), so an evaluation is timed too
LAST_STAGE_SECONDS = 8.0
MODEL_SETS = ("hidden=64", "embed_dim=32")
TRAIN_DEFAULTS = {"batch_size": 16, "lr": 1e-2, "grad_clip": 5.0, "epochs": 100_000, "log_every": 5, "checkpoint_every": None, "seed": 0}
EVALUATION_FILE, SAMPLES_NPZ, SAMPLES_PNG = "evaluation.json", "samples.npz", "samples.png"


def default_data_dir() -> Path:
    """``<repo>/../shared/data``, where ``<repo>`` is the checkout holding this package."""
    return (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", metavar="DIR", help="where everything goes (default: runs/demo)")
    parser.add_argument("--seconds", type=float, default=60.0, metavar="S", help="training time budget in seconds (default: 60)")
    parser.add_argument("--threads", type=int, default=1, metavar="N", help="torch threads (default: 1)")
    parser.add_argument("--data-dir", metavar="DIR", help=f"folder holding {JSB_FILE} (default: <repo>/../shared/data)")


def _say(text: str = "") -> None:
    print(text, flush=True)


def choose_data(data_dir: Path) -> Tuple[str, str, int]:
    """``(data spec, one line saying which, sample length)``: the JSB chorales if present, else Lorenz."""
    jsb = data_dir / JSB_FILE
    if jsb.is_file():
        return f"pianoroll:{jsb}", f"data: JSB chorales, real data ({jsb}); 88-key piano rolls at quarter-note steps", 64
    return "lorenz", f"data: {jsb} is absent, so the demo uses the Lorenz generator (synthetic; 10-D linear-Gaussian readout of a chaotic 3-D system)", 100


def _seconds_per_step(run_dir: Path, after: int) -> Optional[float]:
    """Training seconds per step over the last stage (steps after ``after``), from the train events'
    ``time`` stamps (seconds since that stage's ``fit`` began), or None when there are fewer than two."""
    times = {}
    for line in (run_dir / METRICS_FILE).read_text().splitlines():
        event = json.loads(line)
        if event.get("phase") == "train" and event.get("step", 0) > after:
            times[event["step"]] = event["time"]
    if len(times) < 2:
        return None
    (s0, t0), (s1, t1) = min(times.items()), max(times.items())
    return (t1 - t0) / (s1 - s0) if t1 > t0 else None


def train_for(prep: PreparedRun, out: Path, budget: float) -> Tuple[TrainOps, float]:
    """Train ``prep`` into ``out`` for about ``budget`` seconds; ``(ops, seconds)``.

    Stages: :data:`FIRST_STEPS` steps, then resumed stages (``TrainOps.resume``, exact) each
    planned from the previous stage's seconds per step and fixed cost (start-up, final evaluation,
    checkpoint); a stage plans at most 60 % of the steps still affordable while more than
    :data:`LAST_STAGE_SECONDS` remain, so a change in the machine's load is caught by the next one.
    """
    t0 = time.perf_counter()
    ops = TrainOps(prep.model, prep.config, model_name=prep.spec.name, model_version=prep.spec.version)
    before, stage_t0 = 0, t0
    while True:
        ops.fit(prep.train, prep.valid)
        now = time.perf_counter()
        stage_steps, stage_seconds = ops.state.step - before, now - stage_t0
        per_step = _seconds_per_step(out, before) or stage_seconds / max(stage_steps, 1)
        fixed = max(stage_seconds - per_step * stage_steps, 0.0)
        affordable = int((budget - (now - t0) - fixed) / per_step)
        if affordable < 1:
            return ops, now - t0
        plan = affordable if affordable * per_step <= LAST_STAGE_SECONDS else max(int(0.6 * affordable), 1)
        before, stage_t0 = ops.state.step, time.perf_counter()
        ops = TrainOps.resume(out, prep.model, overrides={"max_steps": before + plan}, model_name=prep.spec.name)


def _clear_previous_demo(out: Path) -> None:
    """Remove ``out`` when a previous ``seqgen demo`` wrote it; anything else is left to check_new_run_dir."""
    if out.is_dir() and (out / RUN_FILE).exists() and read_run_info(out).get("command") == "demo":
        shutil.rmtree(out)


def run(args: argparse.Namespace) -> int:
    if not args.seconds > 0:
        raise ConfigError("seconds", f"--seconds must be > 0 (got {args.seconds})", "pass e.g. --seconds 60")
    if args.threads < 1:
        raise ConfigError("threads", f"--threads must be an integer >= 1 (got {args.threads})", "pass e.g. --threads 1")
    out = Path(args.out).expanduser()
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()

    _say("== 1. installed model plugins (seqgen plugins) ==")
    cli_plugins.run(argparse.Namespace(strict=False, path=None))

    _say("\n== 2. data ==")
    data_spec, which, sample_steps = choose_data(Path(args.data_dir).expanduser() if args.data_dir else default_data_dir())
    _say(which)
    _clear_previous_demo(out)
    existed = check_new_run_dir(out)
    defaults = {**TRAIN_DEFAULTS, "max_steps": FIRST_STEPS, "num_threads": args.threads}
    prep = prepare_run(MODEL, data_spec, out=out, sets=MODEL_SETS, defaults=defaults, command="demo")
    valid_name = prep.info["valid_split"]
    _say(f"train: {len(prep.train)} sequences; valid: {len(prep.valid) if prep.valid is not None else 0} sequences ({valid_name})")

    _say(f"\n== 3. training {MODEL} ({', '.join(MODEL_SETS)}) for about {args.seconds:g} s on {args.threads} thread(s) ==")
    with cleanup_on_failure(out, existed):
        write_run_files(out, prep.info, prep.vocab)
        ops, seconds = train_for(prep, out, args.seconds)
    report(ops, out, seconds, 0)

    _say(f"\n== 4. evaluation on the {valid_name} split (nats per time step) ==")
    trained = load_trained(out)
    figures = evaluate_model(trained.model, prep.valid if prep.valid is not None else prep.train)
    for line in format_figures(figures):
        _say(line)
    evaluation = {
        "data": prep.data_spec, "split": valid_name or prep.info["split"], "unit": "nats per time step",
        "figures": [{"name": f.name, "kind": f.kind, "value": f.value} for f in figures],
        "steps_trained": ops.state.step, "training_seconds": round(seconds, 2),
    }  # fmt: skip
    (out / EVALUATION_FILE).write_text(json.dumps(evaluation, indent=1) + "\n")

    _say(f"\n== 5. sampling 4 sequences of {sample_steps} steps ==")
    x = draw(trained.model, sample_steps, 4, seed=0)
    for name in (SAMPLES_NPZ, SAMPLES_PNG):
        for line in write_samples(trained, x, out / name):
            _say(line)

    checkpoint = list_checkpoints(out)[0]
    _say(f"\n== done in {time.perf_counter() - t_start:.0f} s; everything is in {out} ==")
    rows = [
        ("trained model", checkpoint), ("training metrics", out / METRICS_FILE), ("training curves", out / CURVES_FILE),
        ("evaluation", out / EVALUATION_FILE), ("samples", out / SAMPLES_NPZ), ("sample plot", out / SAMPLES_PNG),
    ]  # fmt: skip
    for what, path in rows:
        _say(f"  {what.ljust(17)} {path}")
    _say(f"next: seqgen sample {out} --steps {sample_steps} --num 4 --out samples.png;  seqgen evaluate {out}")
    return 0
