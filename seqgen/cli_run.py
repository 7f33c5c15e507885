"""Run directories for the ``seqgen`` command line, and the steps ``train``/``sample``/``evaluate`` share.

A run directory (``seqgen train … --out DIR``) holds what :class:`~seqgen.TrainOps` writes
(``checkpoints/step-*``, ``latest``, ``metrics.jsonl``) and three files of the command line's own:

==========================  ==================================================================
``run.json``                the model's registry name and version, the data spec (paths made
                            absolute), data options and splits, and the data's observation facts
``vocab.json``              text runs only: the vocabulary (``Vocabulary.to_dict()``), so
                            ``sample`` decodes and ``evaluate`` maps unknown characters to ``<unk>``
``training_curves.png``     the curves of ``metrics.jsonl``
==========================  ==================================================================

A directory *looks like a good run* when it holds a checkpoint (:func:`holds_checkpoint`). A
start that fails (a bad key, bad data, a non-finite loss before the first checkpoint, Ctrl-C)
removes what it wrote (:func:`cleanup_on_failure`), so it never leaves such a directory behind.

Data facts a model config takes from the data (:func:`data_dims`): ``obs`` (the observation
kind: ``'categorical'`` for text), ``obs_dim`` (the vocabulary size, ``<unk>`` included, for
tokens; the observation width for vectors) and ``input_dim`` (the width of given per-step
inputs); each only where the model's config has that field.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import shutil
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, Tuple

import attrs
import torch

from .config import _parse_value
from .data import Vocabulary, collate, load_data
from .errors import CheckpointError, ConfigError, DataError, ShapeError, closest_names, format_shape
from .train import TrainConfig, TrainOps
from .train.checkpoint import LATEST, STATE, atomic_write, list_checkpoints, load_run
from .train.runlog import METRICS_FILE

__all__ = [
    "RUN_FILE",
    "VOCAB_FILE",
    "CURVES_FILE",
    "LoadedRun",
    "parse_assignments",
    "split_overrides",
    "resolve_data_spec",
    "data_dims",
    "model_config_for",
    "load_dataset",
    "check_fit",
    "write_run_files",
    "read_run_info",
    "read_vocab",
    "holds_checkpoint",
    "check_new_run_dir",
    "cleanup_on_failure",
    "load_trained",
    "run_data",
    "metric_label",
    "write_curves",
    "num_parameters",
]

RUN_FILE, VOCAB_FILE, CURVES_FILE = "run.json", "vocab.json", "training_curves.png"
PATH_SCHEMES = ("text", "pianoroll", "mnist", "npz", "csv")


# ------------------------------------------------------------------ key=value arguments
def parse_assignments(items: Optional[Iterable[str]], flag: str) -> Dict[str, Any]:
    """``['lr=1e-3', 'cell=lstm']`` -> ``{'lr': 0.001, 'cell': 'lstm'}`` (values parsed as JSON where they parse)."""
    out: Dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(item, f"{flag} {item!r} is not of the form key=value", f"write e.g. {flag} seq_len=100" if flag == "--data-opt" else f"write e.g. {flag} lr=0.001")
        out[key.strip()] = _parse_value(value)
    return out


def _nearest(key: str, names: Iterable[str]) -> list:
    """The closest names (``closest_names``), or failing that the three most alike at all."""
    names = sorted(set(names))
    return closest_names(key, names) or difflib.get_close_matches(key, names, n=3, cutoff=0.0)


def split_overrides(spec, assignments: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``--set`` values -> ``(model config changes, TrainConfig changes)``.

    A key both configs have goes to both. A key in neither is a ConfigError naming the closest
    keys of each; ``out_dir`` is refused (the run directory is ``--out``).
    """
    model_keys = spec.config_cls.field_names()
    train_keys = tuple(k for k in TrainConfig.field_names() if k != "out_dir")
    model, train = {}, {}
    for key, value in assignments.items():
        if key == "out_dir" and key not in model_keys:
            raise ConfigError(key, "--set out_dir=… is not taken: the run directory is --out", "pass --out DIR")
        if key not in model_keys and key not in train_keys:
            near_m = ", ".join(map(repr, _nearest(key, model_keys))) or "none"
            near_t = ", ".join(map(repr, _nearest(key, train_keys)))
            raise ConfigError(
                key,
                f"--set {key}=…: neither model {spec.name!r} ({spec.config_cls.__name__}) nor training (TrainConfig) has a key {key!r}",
                f"closest model keys: {near_m}; closest training keys: {near_t}",
            )
        if key in model_keys:
            model[key] = value
        if key in train_keys:
            train[key] = value
    return model, train


# ------------------------------------------------------------------ data
def resolve_data_spec(spec: str) -> str:
    """``'text:data/x.txt'`` -> ``'text:/abs/data/x.txt'``, so a run's record works from any directory."""
    if not isinstance(spec, str):
        raise DataError("--data", f"expected a data spec string, got {type(spec).__name__}", "write e.g. --data text:PATH")
    scheme, sep, rest = spec.partition(":")
    if scheme in PATH_SCHEMES and sep and rest:
        return f"{scheme}:{Path(rest).expanduser().resolve()}"
    return spec


def data_dims(dataset) -> Dict[str, Any]:
    """What the data fixes in a model config: ``obs``, ``obs_dim`` (when the data has one), ``input_dim``."""
    dims: Dict[str, Any] = {"obs": dataset.obs_kind, "input_dim": int(dataset.input_dim)}
    if dataset.obs_kind == "categorical":
        dims["obs_dim"] = int(dataset.num_classes)
    elif len(dataset.obs_shape) == 1:
        dims["obs_dim"] = int(dataset.obs_shape[0])
    return dims


def _dim_source(key: str, dataset, data_spec: str) -> str:
    if key == "obs":
        return f"the observation kind of {data_spec}"
    if key == "input_dim":
        return f"the per-step input width of {data_spec}"
    if dataset.obs_kind == "categorical":
        return f"the vocabulary size of {data_spec}, <unk> included" if hasattr(dataset, "vocab") else f"the number of token classes of {data_spec}"
    return f"the observation width of {data_spec}, obs_shape {format_shape(dataset.obs_shape)}"


def model_config_for(spec, dataset, data_spec: str, overrides: Mapping[str, Any]):
    """The model config: the data's dims (:func:`data_dims`) where the config has them, then ``overrides``.

    An override of a data dim must agree with the data (for ``obs``: categorical with categorical):
    otherwise a ShapeError naming both. A data dim the model's validators refuse (e.g. Poisson
    counts for a model without a Poisson decoder) is a ConfigError naming the data.
    """
    fields = spec.config_cls.field_names()
    values = dict(overrides)
    from_data = {}
    for key, value in data_dims(dataset).items():
        if key not in fields:
            continue
        if key not in overrides:
            values[key] = from_data[key] = value
            continue
        given = overrides[key]
        fits = (given == "categorical") == (value == "categorical") if key == "obs" else given == value
        if not fits:
            raise ShapeError(
                key,
                f"{value!r} ({_dim_source(key, dataset, data_spec)})",
                f"{given!r} (--set {key}={given})",
                f"drop --set {key} to take it from the data, or pass data that fits",
            )
    try:
        return spec.config_cls.from_dict(values)
    except ConfigError as err:
        if err.key in from_data:
            raise ConfigError(
                err.key,
                f"the data {data_spec} gives {err.key}={from_data[err.key]!r}, which model {spec.name!r} does not take ({err})",
                "pick data this model can fit, or another model",
            ) from err
        raise


def load_dataset(data_spec: str, split: str, options: Mapping[str, Any], vocab: Optional[Vocabulary] = None):
    """``load_data(data_spec, split=split, **options)``; text data use ``vocab`` when given."""
    options = dict(options)
    if vocab is not None and data_spec.partition(":")[0] == "text":
        options["vocab"] = vocab
    return load_data(data_spec, split=split, **options)


def check_fit(model, dataset, data_spec: str, model_name: str, *, fix: Optional[str] = None) -> None:
    """DataError naming both when ``model`` cannot read ``dataset`` (shapes, dtypes, decoder support).

    Runs the model's own input checks on a first small batch, so nothing is trained or written
    before a mismatch is found.
    """
    batch = collate([dataset[i] for i in range(min(len(dataset), 8))])
    try:
        model.check_inputs(batch.x, mask=batch.mask, context=batch.inputs)
    except (ShapeError, DataError) as err:
        raise DataError(f"--data {data_spec}", f"does not fit model {model_name!r} ({err})", fix) from err


# ------------------------------------------------------------------ run directories
def write_run_files(run_dir: Path, info: Mapping[str, Any], vocab: Optional[Vocabulary]) -> None:
    """``run.json`` (and ``vocab.json`` for text), each written atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if vocab is not None:
        atomic_write(run_dir / VOCAB_FILE, json.dumps(vocab.to_dict(), ensure_ascii=False).encode("utf-8"))
    atomic_write(run_dir / RUN_FILE, json.dumps(dict(info), indent=1).encode("utf-8"))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(path, f"is not readable JSON ({e})", "restore it, or train the run again") from None


def read_run_info(run_dir: Path) -> Dict[str, Any]:
    """The run's ``run.json`` (``{}`` for a directory TrainOps wrote without the command line)."""
    path = Path(run_dir) / RUN_FILE
    if not path.exists():
        return {}
    info = _read_json(path)
    if not isinstance(info, dict):
        raise CheckpointError(path, f"expected a JSON object, got {type(info).__name__}", "restore it, or train the run again")
    return info


def read_vocab(run_dir: Path) -> Optional[Vocabulary]:
    """The run's vocabulary (text runs), else None."""
    path = Path(run_dir) / VOCAB_FILE
    return Vocabulary.from_dict(_read_json(path)) if path.exists() else None


def holds_checkpoint(run_dir: Path) -> bool:
    """True when ``run_dir`` has a complete checkpoint (``latest``, or a ``step-*`` with its state
    file): the mark of a run that can be sampled or resumed."""
    run_dir = Path(run_dir)
    return (run_dir / LATEST).exists() or any((p / STATE).exists() for p in list_checkpoints(run_dir))


def check_new_run_dir(out: Path) -> bool:
    """Refuse an ``--out`` that is a file or a non-empty directory; True when it already exists (empty)."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise ConfigError("out", f"--out {out}: exists and is not a directory", "choose a new --out directory")
    if any(out.iterdir()):
        if holds_checkpoint(out) or (out / RUN_FILE).exists():
            raise ConfigError("out", f"--out {out}: already holds a run", "pass --resume to continue it, or choose a new --out directory")
        raise ConfigError("out", f"--out {out}: the directory is not empty", "choose a new or empty --out directory")
    return True


@contextlib.contextmanager
def cleanup_on_failure(out: Path, existed: bool) -> Iterator[None]:
    """On any exception before a checkpoint exists, remove what was written under ``out`` (re-raises)."""
    try:
        yield
    except BaseException:
        if out.is_dir() and not holds_checkpoint(out):
            if existed:
                for child in out.iterdir():
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            else:
                shutil.rmtree(out, ignore_errors=True)
        raise


@attrs.frozen
class LoadedRun:
    """A trained run: ``model`` (eval mode, CPU), ``info`` (run.json), ``vocab``, checkpoint ``step``, ``name``."""

    path: Path
    model: Any
    info: Mapping[str, Any]
    vocab: Optional[Vocabulary]
    step: int
    name: Optional[str]
    version: Optional[str]


def load_trained(run_dir: Any) -> LoadedRun:
    """The latest readable checkpoint of ``run_dir`` with the command line's records; CheckpointError if none."""
    path = Path(run_dir)
    if not path.is_dir():
        raise CheckpointError(path, "is not a run directory" if path.exists() else "does not exist", "pass the --out directory of `seqgen train`")
    ckpt = load_run(path)
    model = TrainOps.load_model(ckpt.path)
    saved = ckpt.meta.get("model", {})
    step = int(ckpt.meta.get("run", {}).get("step", 0))
    return LoadedRun(path, model, read_run_info(path), read_vocab(path), step, saved.get("name"), saved.get("version"))


def run_data(info: Mapping[str, Any], data_spec: Optional[str], options: Mapping[str, Any], *, where: Any) -> Tuple[str, Dict[str, Any]]:
    """The data spec and options to use on a trained run (``info``: its run.json): ``data_spec``
    (default: the run's own, resolved) with the run's saved options when the scheme is the run's,
    updated by ``options``. ConfigError when neither names data (``where``: the run directory)."""
    saved_spec = info.get("data")
    if not data_spec:
        if not saved_spec:
            raise ConfigError("data", f"{where} has no {RUN_FILE} naming its data", "pass --data SPEC")
        data_spec = saved_spec
    data_spec = resolve_data_spec(data_spec)
    same_scheme = bool(saved_spec) and saved_spec.partition(":")[0] == data_spec.partition(":")[0]
    merged = dict(info.get("data_options", {})) if same_scheme else {}
    merged.update(options)
    return data_spec, merged


def metric_label(name: str) -> Optional[str]:
    """``'exact'`` for ``nll``, ``'bound'`` for names ending in ``_bound`` (DESIGN "Units"), else None."""
    base = name.rsplit("/", 1)[-1]
    if base == "nll":
        return "exact"
    return "bound" if base.endswith("_bound") else None


def write_curves(run_dir: Path) -> Optional[Path]:
    """``training_curves.png`` from the run's ``metrics.jsonl``; None when there is nothing to plot."""
    from .plot import plot_training_curves

    metrics = Path(run_dir) / METRICS_FILE
    if not metrics.exists() or not metrics.read_text().strip():
        return None
    try:
        return plot_training_curves(metrics, Path(run_dir) / CURVES_FILE)
    except DataError:  # no numeric metric logged yet
        return None


def num_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
