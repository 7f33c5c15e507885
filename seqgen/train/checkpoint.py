"""Checkpoints: tensors in safetensors, everything else in JSON, written atomically, never unpickled.

Layout of a run directory::

    <run>/checkpoints/step-00000120/tensors.safetensors   model, optimizer, scheduler, RNG tensors
    <run>/checkpoints/step-00000120/state.json            configs, names, versions, step, RNG, …
    <run>/latest                                          "checkpoints/step-00000120", written last

Any nested state (an optimizer's ``state_dict``, say) is stored by :func:`flatten`: every tensor
goes into the safetensors file under a path-like name and is replaced in the JSON tree by
``{"__tensor__": name}``; tuples and dicts with non-string keys are tagged so
:func:`unflatten` rebuilds the exact structure. Loading uses ``safetensors.torch.load`` and
``json`` only, so a checkpoint cannot run code.

Writing is crash-safe: each file goes to a temporary file in the same directory, is flushed and
fsynced, then ``os.replace``-d over its name, and the directory is fsynced. ``state.json``
(which records the SHA-256 of the tensor file) is written after the tensors, and ``latest``
after both, so a crash at any point leaves ``latest`` naming the previous good checkpoint, and
a truncated or altered file is detected (:class:`~seqgen.errors.CheckpointError`) rather than
half-loaded. :func:`load_run` falls back to older checkpoints when the newest is unreadable.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import attrs
import safetensors.torch
import torch

from ..errors import CheckpointError

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "flatten",
    "unflatten",
    "atomic_write",
    "write_checkpoint",
    "read_checkpoint",
    "list_checkpoints",
    "load_run",
    "is_checkpoint_dir",
]

FORMAT_VERSION = 1
TENSORS, STATE, LATEST, CHECKPOINTS = "tensors.safetensors", "state.json", "latest", "checkpoints"
_STEP_DIR = re.compile(r"^step-(\d+)$")
_FIX_CORRUPT = "delete this checkpoint directory; TrainOps.resume(<run dir>) then falls back to the previous one"


@attrs.frozen
class Checkpoint:
    """A loaded checkpoint: its directory, JSON ``meta`` and ``tensors`` (CPU)."""

    path: Path
    meta: Mapping[str, Any]
    tensors: Mapping[str, torch.Tensor]


# ------------------------------------------------------------------ nested state <-> JSON + tensors
def flatten(obj: Any, prefix: str, tensors: Dict[str, torch.Tensor]) -> Any:
    """A JSON tree for ``obj``; its tensors are added to ``tensors`` under names starting ``prefix``."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj
        return {"__tensor__": prefix}
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: flatten(v, f"{prefix}/{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[k, flatten(v, f"{prefix}/{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [flatten(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise CheckpointError(prefix, f"cannot store a value of type {type(obj).__name__}", "keep checkpointed state to tensors, numbers, strings, lists and dicts")


def unflatten(tree: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """The inverse of :func:`flatten`."""
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            return tensors[tree["__tensor__"]]
        if "__items__" in tree:
            return {k: unflatten(v, tensors) for k, v in tree["__items__"]}
        if "__tuple__" in tree:
            return tuple(unflatten(v, tensors) for v in tree["__tuple__"])
        return {k: unflatten(v, tensors) for k, v in tree.items()}
    if isinstance(tree, list):
        return [unflatten(v, tensors) for v in tree]
    return tree


# ------------------------------------------------------------------ atomic files
def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms that cannot open directories (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _cpu_copy(t: torch.Tensor) -> torch.Tensor:
    # A private contiguous CPU copy: safetensors refuses views and tensors sharing storage (tied weights).
    return t.detach().to("cpu", copy=True).contiguous()


def step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def write_checkpoint(run_dir: Path, step: int, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any], *, keep: Optional[int]) -> Path:
    """Write ``<run_dir>/checkpoints/step-<step>/``, then ``latest``; keep the newest ``keep`` (None: all).

    Raises CheckpointError (the previous checkpoint and ``latest`` untouched) if writing fails.
    """
    run_dir = Path(run_dir)
    ckpt = run_dir / CHECKPOINTS / step_dir_name(step)
    try:
        ckpt.mkdir(parents=True, exist_ok=True)
        blob = safetensors.torch.save({k: _cpu_copy(v) for k, v in tensors.items()})
        atomic_write(ckpt / TENSORS, blob)
        state = {**meta, "tensors_sha256": hashlib.sha256(blob).hexdigest()}
        atomic_write(ckpt / STATE, json.dumps(state, indent=1, sort_keys=True).encode())
        atomic_write(run_dir / LATEST, f"{CHECKPOINTS}/{ckpt.name}\n".encode())
    except (OSError, TypeError, ValueError) as e:
        previous = _read_latest(run_dir)
        kept = f"the previous checkpoint {previous} is intact" if previous else "no earlier checkpoint exists"
        raise CheckpointError(ckpt, f"could not be written ({type(e).__name__}: {e})", f"check disk space and permissions; {kept}") from e
    if keep is not None:
        # Keep the newest `keep` up to this step; checkpoints past it belong to an abandoned
        # continuation (this run resumed from an earlier one) and go too.
        older = [p for p in list_checkpoints(run_dir) if _step_of(p) < step]
        newer = [p for p in list_checkpoints(run_dir) if _step_of(p) > step]
        for old in newer + older[keep - 1 :]:
            shutil.rmtree(old, ignore_errors=True)
    return ckpt


# ------------------------------------------------------------------ reading
def is_checkpoint_dir(path: Path) -> bool:
    return (Path(path) / STATE).exists() or (Path(path) / TENSORS).exists()


def read_checkpoint(path: Path) -> Checkpoint:
    """Load one checkpoint directory; CheckpointError if it is missing, truncated or altered."""
    path = Path(path)
    state_file, tensor_file = path / STATE, path / TENSORS
    for f in (state_file, tensor_file):
        if not f.exists():
            raise CheckpointError(f, "is missing (the checkpoint was not completely written)", _FIX_CORRUPT)
    try:
        meta = json.loads(state_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(state_file, f"is not readable JSON ({e})", _FIX_CORRUPT) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(state_file, f"has format {got!r}, expected {FORMAT_VERSION}", "load it with the seqgen version that wrote it")
    blob = tensor_file.read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta.get("tensors_sha256"):
        raise CheckpointError(tensor_file, "does not match the checksum in state.json (truncated or altered)", _FIX_CORRUPT)
    try:
        tensors = safetensors.torch.load(blob)
    except Exception as e:  # safetensors raises its own SafetensorError on bad headers
        raise CheckpointError(tensor_file, f"is not a readable safetensors file ({e})", _FIX_CORRUPT) from None
    return Checkpoint(path=path, meta=meta, tensors=tensors)


def _read_latest(run_dir: Path) -> Optional[Path]:
    try:
        name = (Path(run_dir) / LATEST).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return Path(run_dir) / name if name else None


def list_checkpoints(run_dir: Path) -> List[Path]:
    """The checkpoint directories of a run, newest (highest step) first."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _STEP_DIR.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def load_run(path: Path) -> Checkpoint:
    """Load a checkpoint directory, or a run directory's ``latest`` with fallback to older ones.

    Given a run directory, tries the checkpoint ``latest`` names, then every older one, newest
    first, warning about each it skips. Raises CheckpointError when none can be read.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(path, "does not exist", "pass the run directory (out_dir) or one of its checkpoints/step-* directories")
    if is_checkpoint_dir(path):
        return read_checkpoint(path)
    latest = _read_latest(path)
    candidates = list_checkpoints(path)
    if latest is not None:
        candidates = [latest] + [c for c in candidates if c.resolve() != latest.resolve() and _step_of(c) < _step_of(latest)]
    problems = []
    for i, candidate in enumerate(candidates):
        try:
            ckpt = read_checkpoint(candidate)
        except CheckpointError as e:
            problems.append(str(e))
            if i + 1 < len(candidates):
                warnings.warn(f"{e}; falling back to {candidates[i + 1]}", stacklevel=3)
            continue
        return ckpt
    if not candidates:
        raise CheckpointError(path, "holds no checkpoint (no 'latest' file and no checkpoints/step-* directory)", "train with out_dir set, or call TrainOps.save(dir) first")
    raise CheckpointError(path, "holds no readable checkpoint: " + " | ".join(problems), "start the run again from scratch")


def _step_of(path: Path) -> int:
    m = _STEP_DIR.match(Path(path).name)
    return int(m.group(1)) if m else -1
