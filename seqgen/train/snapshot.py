"""What a TrainOps checkpoint holds, and how a run is rebuilt from one.

:func:`capture` turns a TrainOps into ``(tensors, meta)`` for :mod:`seqgen.train.checkpoint`:

- tensors: ``model/<state_dict key>``, ``optim/<slot>/…`` and ``sched/<slot>/…`` and
  ``scaler/<slot>/…`` (flattened state dicts), ``rng/<rank>/torch_cpu`` and ``rng/<rank>/cuda/<i>``
  (uint8 generator states of every process);
- meta (JSON): the format version, seqgen's version, the model's registry name, version, class
  and config (``config.to_dict()``), the TrainConfig, the run counters (:class:`RunState`: step,
  epoch, batch position in the epoch, best metric, …), the history records, the running metric
  sums, numpy/Python RNG states per rank, and the world and batch sizes the position refers to.

:func:`restore` puts all of it back into a TrainOps built on the same model, so training goes on
exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import json
import warnings
from typing import Any, Dict, Optional, Tuple

import attrs
import torch

from ..errors import CheckpointError, ConfigError
from .checkpoint import FORMAT_VERSION, Checkpoint, flatten, unflatten
from .rng import capture_rng

__all__ = ["RunState", "capture", "restore", "check_model", "rebuild_model", "load_weights", "model_config_dict", "position_for"]


@attrs.define
class RunState:
    """The counters of a run. ``step``: optimizer steps taken; ``batch_in_epoch``: batches of
    epoch ``epoch`` already consumed; ``last_eval_step``: step of the latest evaluation (-1: none)."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best: Optional[float] = None
    best_step: Optional[int] = None
    bad_evals: int = 0
    last_eval_step: int = -1
    skipped: int = 0


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def model_config_dict(model) -> Dict[str, Any]:
    """The model's config as plain JSON values (``config.to_dict()`` through a JSON round trip)."""
    cfg = getattr(model, "config", None)
    if cfg is None or not hasattr(cfg, "to_dict"):
        raise ConfigError("model.config", f"{type(model).__name__}.config has no to_dict()", "give the model a seqgen.Config")
    try:
        return json.loads(json.dumps(cfg.to_dict()))
    except (TypeError, ValueError) as e:
        raise ConfigError("model.config", f"{type(cfg).__name__} is not JSON-serialisable ({e})", "keep config fields to numbers, strings, bools, None, lists and dicts") from None


def capture(ops) -> Tuple[Dict[str, torch.Tensor], Dict[str, Any]]:
    """``(tensors, meta)`` for a checkpoint of ``ops`` (a collective call under torchrun)."""
    from .. import __version__

    tensors: Dict[str, torch.Tensor] = {f"model/{k}": v for k, v in ops.model.state_dict().items()}
    optim = {name: flatten(s.optimizer.state_dict(), f"optim/{name}", tensors) for name, s in ops.slots.items()}
    sched = {name: flatten(s.scheduler.state_dict(), f"sched/{name}", tensors) for name, s in ops.slots.items()}
    scaler = {name: flatten(s.scaler.state_dict(), f"scaler/{name}", tensors) for name, s in ops.slots.items() if s.scaler is not None}
    rng_meta = {}
    for rank, (rng_tensors, meta) in enumerate(ops.dist.gather_objects(capture_rng())):
        rng_meta[str(rank)] = meta
        for key, t in rng_tensors.items():
            tensors[f"rng/{rank}/{key}"] = t
    meta = {
        "format": FORMAT_VERSION,
        "seqgen_version": __version__,
        "model": {"name": ops.model_name, "version": ops.model_version, "class": _class_path(ops.model), "config": model_config_dict(ops.model)},
        "train_config": ops.config.to_dict(),
        "run": attrs.asdict(ops.state),
        "history": list(ops.history),
        "accumulators": {"log": ops._log_acc.state(), "eval": ops._eval_acc.state()},
        "optim": optim,
        "sched": sched,
        "scaler": scaler,
        "rng": rng_meta,
        "world_size": ops.dist.world_size,
        "batch_size": ops.config.batch_size,
    }
    return tensors, meta


def check_model(ckpt: Checkpoint, model, *, model_name: Optional[str], model_version: Optional[str]) -> None:
    """CheckpointError unless ``model`` (and the given name/version) match what wrote ``ckpt``."""
    saved = ckpt.meta["model"]
    for what, given in (("name", model_name), ("version", model_version)):
        if given is not None and saved[what] is not None and given != saved[what]:
            raise CheckpointError(
                ckpt.path,
                f"was written by model {what} {saved[what]!r}, not {given!r}",
                f"resume with model {what} {saved[what]!r}, or start a new run for {given!r}",
            )
    if model is None:
        return
    if _class_path(model) != saved["class"]:
        raise CheckpointError(ckpt.path, f"holds a {saved['class']}, not a {_class_path(model)}", "pass the model class it was trained with, or model=None")
    current = model_config_dict(model)
    differ = sorted(k for k in set(current) | set(saved["config"]) if current.get(k) != saved["config"].get(k))
    if differ:
        shown = ", ".join(f"{k}: saved {saved['config'].get(k)!r}, given {current.get(k)!r}" for k in differ[:4])
        raise CheckpointError(ckpt.path, f"was trained with another model config ({shown})", "build the model with the saved config, or pass model=None")


def rebuild_model(ckpt: Checkpoint):
    """The model named in ``ckpt``, built through the registry from its saved config (weights not loaded)."""
    saved = ckpt.meta["model"]
    if saved["name"] is None:
        raise CheckpointError(
            ckpt.path,
            f"does not name a registered model (it holds a {saved['class']} trained without model_name)",
            "pass model=... built with the saved config",
        )
    from ..registry import load_spec

    spec = load_spec(saved["name"])
    if saved["version"] is not None and spec.version != saved["version"]:
        raise CheckpointError(
            ckpt.path,
            f"was written by {saved['name']!r} version {saved['version']!r}, but version {spec.version!r} is installed",
            f"install {saved['name']!r} {saved['version']}, or pass model=... to load the weights into a compatible model",
        )
    return spec.build(spec.config_cls.from_dict(saved["config"]))


def load_weights(model, ckpt: Checkpoint) -> None:
    """Load the ``model/…`` tensors of ``ckpt`` into ``model`` (CheckpointError on any mismatch)."""
    state = {k[len("model/"):]: v for k, v in ckpt.tensors.items() if k.startswith("model/")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(ckpt.path, f"does not fit {type(model).__name__}'s parameters: {e}", "pass the model it was trained with, or model=None") from None


def restore(ops, ckpt: Checkpoint) -> None:
    """Put the whole training state of ``ckpt`` into ``ops`` (see the module docstring)."""
    meta, tensors = ckpt.meta, ckpt.tensors
    load_weights(ops.model, ckpt)
    for kind in ("optim", "sched"):
        if set(meta[kind]) != set(ops.slots):
            raise CheckpointError(ckpt.path, f"has optimizers {sorted(meta[kind])}, the objective needs {sorted(ops.slots)}", "resume with the model and objective it was trained with")
    try:
        for name, slot in ops.slots.items():
            slot.optimizer.load_state_dict(unflatten(meta["optim"][name], tensors))
            slot.scheduler.load_state_dict(unflatten(meta["sched"][name], tensors))
    except (ValueError, KeyError) as e:
        raise CheckpointError(ckpt.path, f"optimizer state does not fit this model ({e})", "resume with the model it was trained with") from None
    ops._pending_scalers = {name: unflatten(tree, tensors) for name, tree in meta["scaler"].items()}
    ops.state = RunState(**meta["run"])
    ops.history[:] = meta["history"]
    ops.history.start_step = ops.state.step
    ops.history.skipped = ops.state.skipped
    ops._log_acc.load_state(meta["accumulators"]["log"])
    ops._eval_acc.load_state(meta["accumulators"]["eval"])
    per_rank = {}
    for rank, rng_meta in meta["rng"].items():
        prefix = f"rng/{rank}/"
        per_rank[int(rank)] = ({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, rng_meta)
    ops._pending_rng = per_rank
    ops._saved_layout = (int(meta["world_size"]), int(meta["batch_size"]))


def position_for(state: RunState, saved_layout: Tuple[int, int], world_size: int, batch_size: int) -> int:
    """The batch position in the epoch for this job's layout (exact when ``world × batch`` is unchanged)."""
    saved_world, saved_batch = saved_layout
    if (saved_world, saved_batch) == (world_size, batch_size):
        return state.batch_in_epoch
    consumed = state.batch_in_epoch * saved_batch * saved_world  # sequences of the epoch already used
    if consumed % (batch_size * world_size):
        warnings.warn(
            f"resuming with batch_size={batch_size} on {world_size} process(es) after {saved_batch} on {saved_world}: "
            "the epoch continues at the nearest batch boundary, not exactly where it stopped",
            stacklevel=3,
        )
    return consumed // (batch_size * world_size)
