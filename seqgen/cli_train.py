"""``seqgen train MODEL --data SPEC --out DIR``: a registry model, fitted by TrainOps, into a run directory.

``--set key=value`` goes to the model's config or to :class:`~seqgen.TrainConfig` (a key both
have goes to both; a key in neither is an error naming the closest keys of each); the model's
data-dependent fields (``obs``, ``obs_dim``, ``input_dim``; see :func:`seqgen.cli_run.data_dims`)
come from the training data unless set, and a set one that disagrees with the data is an error.
``--data-opt key=value`` goes to :func:`~seqgen.load_data` (``seq_len=``, ``max_chars=``, …).

Validation data: ``--valid-split NAME`` (``none``: no validation); by default the ``'valid'``
split when the data has one. Text runs encode the validation text with the training vocabulary
(unknown characters become ``<unk>`` and are counted) and save it as ``vocab.json``.

Everything that can fail on bad input (plugin, keys, values, data, dims) is checked before the
run directory is created, and a start that fails later, before its first checkpoint, removes
what it wrote; see :mod:`seqgen.cli_run`. TrainOps shows a progress bar on a terminal, writes
``metrics.jsonl`` and checkpoints (every ``checkpoint_every`` steps, 100 unless set, and at the
end); ``training_curves.png`` is drawn when training stops. ``--resume`` continues the run in
``--out`` exactly where its latest checkpoint stopped (training keys may be changed with
``--set``, e.g. a larger ``max_steps``; model keys may not).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

import attrs

from . import __version__
from .cli_run import (
    check_fit,
    check_new_run_dir,
    cleanup_on_failure,
    holds_checkpoint,
    load_dataset,
    metric_label,
    model_config_for,
    num_parameters,
    parse_assignments,
    read_run_info,
    read_vocab,
    resolve_data_spec,
    run_data,
    split_overrides,
    write_curves,
    write_run_files,
)
from .data import CharTextDataset
from .errors import CheckpointError, ConfigError, DataError
from .registry import load_spec
from .train import TrainConfig, TrainOps
from .train.checkpoint import list_checkpoints

__all__ = ["HELP", "add_arguments", "run", "CLI_DEFAULTS", "PreparedRun", "prepare_run", "load_validation", "report"]

HELP = "train a model (a plugin name) on data (e.g. text:PATH) into a run directory"

#: TrainConfig values the command line uses unless --set changes them (periodic checkpoints, so a
#: stopped run can be resumed).
CLI_DEFAULTS: Mapping[str, Any] = {"checkpoint_every": 100}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="the model's registry name (see `seqgen plugins`)")
    parser.add_argument("--data", metavar="SPEC", help="data spec: lorenz[:linear|:spiking], text:PATH, pianoroll:PATH, mnist:DIR, npz:PATH, csv:PATH (with --resume: default the run's)")
    parser.add_argument("--split", metavar="NAME", help="the training split (default: train)")
    parser.add_argument("--valid-split", metavar="NAME", help="the validation split (default: 'valid' where the data has one; 'none' for no validation)")
    parser.add_argument("--set", dest="sets", action="extend", nargs="+", default=[], metavar="KEY=VALUE", help="a model or training config value, e.g. --set hidden=64 lr=0.003 max_steps=500")
    parser.add_argument("--data-opt", dest="data_opts", action="extend", nargs="+", default=[], metavar="KEY=VALUE", help="a data option, e.g. --data-opt seq_len=100 max_chars=200000")
    parser.add_argument("--out", required=True, metavar="DIR", help="the run directory to create (or, with --resume, to continue)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")


@attrs.frozen
class PreparedRun:
    """Everything a new run needs, built and checked, nothing written yet."""

    spec: Any
    model: Any
    config: TrainConfig
    train: Any
    valid: Any
    data_spec: str
    info: Dict[str, Any]
    vocab: Any
    notes: tuple


def load_validation(data_spec: str, split: str, valid_split: Optional[str], options: Mapping[str, Any], vocab) -> tuple:
    """``(dataset or None, split name or None, note or None)`` for ``--valid-split`` (see the module docstring)."""
    if valid_split is not None:
        if valid_split.lower() == "none":
            return None, None, None
        return load_dataset(data_spec, valid_split, options, vocab), valid_split, None
    if split != "train":
        return None, None, f"no validation data (the default 'valid' split applies when training on 'train'; pass --valid-split NAME)"
    try:
        return load_dataset(data_spec, "valid", options, vocab), "valid", None
    except DataError as err:
        return None, None, f"no validation data ({err}); pass --valid-split NAME to choose one"


def prepare_run(model_name: str, data_spec: Optional[str], *, out: Path, split: Optional[str] = None, valid_split: Optional[str] = None,
                sets: Sequence[str] = (), data_opts: Sequence[str] = (), defaults: Mapping[str, Any] = CLI_DEFAULTS,
                command: str = "train") -> PreparedRun:
    """Load the plugin and the data, build and check the model and the TrainConfig; write nothing."""
    import torch

    if not data_spec:
        raise ConfigError("data", "--data is required for a new run", "pass e.g. --data text:PATH (see `seqgen train --help`)")
    spec = load_spec(model_name)
    model_over, train_over = split_overrides(spec, parse_assignments(sets, "--set"))
    config = TrainConfig.from_dict({**defaults, **train_over, "out_dir": str(out)})
    options = parse_assignments(data_opts, "--data-opt")
    resolved, split = resolve_data_spec(data_spec), split or "train"
    train = load_dataset(resolved, split, options)
    vocab = train.vocab if isinstance(train, CharTextDataset) else None
    valid, valid_name, note = load_validation(resolved, split, valid_split, options, vocab)
    model_config = model_config_for(spec, train, data_spec, model_over)
    torch.manual_seed(config.seed)  # initial weights follow the run's seed
    model = spec.build(model_config)
    check_fit(model, train, data_spec, spec.name)
    if valid is not None:
        check_fit(model, valid, f"{data_spec} ({valid_name})", spec.name)
    info = {
        "command": command, "model": spec.name, "model_version": spec.version, "seqgen_version": __version__,
        "data": resolved, "data_options": options, "split": split, "valid_split": valid_name,
        "obs_kind": train.obs_kind, "obs_shape": list(train.obs_shape), "num_classes": train.num_classes,
        "text": vocab is not None,
    }  # fmt: skip
    notes = (note,) if note else ()
    if isinstance(valid, CharTextDataset):
        notes += (f"validation text: {valid.num_unknown} of {valid.num_chars} characters are out of vocabulary (mapped to <unk>)",)
    return PreparedRun(spec, model, config, train, valid, resolved, info, vocab, notes)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _interrupted_hint(out: Path, model_name: str) -> None:
    found = list_checkpoints(out)
    where = f"the latest checkpoint is {found[0].name}; continue with: seqgen train {model_name} --out {out} --resume" if found else "no checkpoint was written yet"
    print(f"seqgen: training stopped; {where}", file=sys.stderr, flush=True)


def _fit(ops: TrainOps, out: Path, model_name: str, train, valid) -> float:
    t0 = time.perf_counter()
    try:
        ops.fit(train, valid)
    except KeyboardInterrupt:
        _interrupted_hint(out, model_name)
        raise
    return time.perf_counter() - t0


def report(ops: TrainOps, out: Path, seconds: float, start_step: int) -> None:
    """Print what training did: steps, the last evaluation (labelled exact/bound), the files written."""
    s = ops.state
    _say(f"trained {s.step - start_step} steps (now at step {s.step}, epoch {s.epoch}) in {seconds:.1f} s")
    last = ops.history[-1] if len(ops.history) else {}
    for key, value in last.items():
        if "/" in key and isinstance(value, float):
            label = metric_label(key)
            _say(f"  {key}{f' ({label})' if label else ''}: {value:.4f} nats/step")
    curves = write_curves(out)
    found = list_checkpoints(out)
    _say(f"run directory {out}: {found[0].name if found else 'no checkpoint'}, metrics.jsonl" + (f", {curves.name}" if curves else ""))


def _new_run(args: argparse.Namespace, out: Path) -> int:
    existed = check_new_run_dir(out)
    prep = prepare_run(args.model, args.data, out=out, split=args.split, valid_split=args.valid_split, sets=args.sets, data_opts=args.data_opts)
    valid = f", valid: {len(prep.valid)} sequences ({prep.info['valid_split']})" if prep.valid is not None else ""
    cfg = prep.config
    length = ", ".join(f"{k}={getattr(cfg, k)}" for k in ("epochs", "max_steps", "max_minutes") if getattr(cfg, k) is not None)
    _say(f"training {prep.spec.name} ({num_parameters(prep.model):,} parameters) on {prep.data_spec}")
    _say(f"  train: {len(prep.train)} sequences ({prep.info['split']}){valid}; {length}, batch_size={cfg.batch_size}, lr={cfg.lr}, device={cfg.device}")
    for note in prep.notes:
        _say(f"  {note}")
    with cleanup_on_failure(out, existed):
        write_run_files(out, prep.info, prep.vocab)
        ops = TrainOps(prep.model, cfg, model_name=prep.spec.name, model_version=prep.spec.version)
        seconds = _fit(ops, out, prep.spec.name, prep.train, prep.valid)
    report(ops, out, seconds, 0)
    return 0


def _resume(args: argparse.Namespace, out: Path) -> int:
    if not out.is_dir() or not holds_checkpoint(out):
        problem = "holds no checkpoint to resume" if out.is_dir() else "does not exist"
        raise CheckpointError(out, problem, f"start the run without --resume: seqgen train {args.model} --data SPEC --out {out}")
    info = read_run_info(out)
    saved_name = info.get("model")
    if saved_name is not None and saved_name != args.model:
        raise CheckpointError(out, f"is a run of model {saved_name!r}, not {args.model!r}",
                              f"resume it with `seqgen train {saved_name} --out {out} --resume`, or choose a new --out for {args.model!r}")
    spec = load_spec(args.model)
    model_over, train_over = split_overrides(spec, parse_assignments(args.sets, "--set"))
    options = parse_assignments(args.data_opts, "--data-opt")
    ops = TrainOps.resume(out, overrides=train_over, model_name=spec.name)
    saved = ops.model.config.to_dict()
    for key, value in model_over.items():
        if saved.get(key) != value:
            raise ConfigError(key, f"--set {key}={value!r}: the run was trained with {key}={saved.get(key)!r}, and a resumed run keeps its model config",
                              "drop it, or start a new run with another --out")
    data_spec, options = run_data(info, args.data, options, where=out)
    split = args.split or info.get("split") or "train"
    vocab = read_vocab(out)
    train = load_dataset(data_spec, split, options, vocab)
    valid_split = args.valid_split or info.get("valid_split") or "none"
    valid, _, _ = load_validation(data_spec, split, valid_split, options, vocab)
    check_fit(ops.model, train, data_spec, spec.name, fix=f"the run was trained on {info.get('data', 'other data')}")
    start = ops.state.step
    _say(f"resuming {spec.name} in {out} at step {start} (epoch {ops.state.epoch}) on {data_spec}")
    seconds = _fit(ops, out, spec.name, train, valid)
    if ops.state.step == start:
        cfg = ops.config
        _say(f"nothing to do: the run already reached epochs={cfg.epochs}, max_steps={cfg.max_steps}; "
             f"train further with e.g. --set max_steps={start + 1000}")
        return 0
    report(ops, out, seconds, start)
    return 0


def run(args: argparse.Namespace) -> int:
    out = Path(args.out).expanduser()
    return _resume(args, out) if args.resume else _new_run(args, out)
