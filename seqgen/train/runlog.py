"""Where TrainOps reports: ``metrics.jsonl``, TensorBoard, and a tqdm progress bar.

Only the main process (rank 0) reports. ``<out_dir>/metrics.jsonl`` gets one JSON object per
event, appended and flushed as it happens::

    {"step": 100, "epoch": 2, "phase": "train", "metrics": {"nll": 1.23}, "lr": 0.001,
     "kl_weight": 0.5, "time": 12.5}

``phase`` is ``"train"`` (metrics averaged over the log window) or ``"valid"``; ``lr`` is a
number, or ``{phase: lr}`` for a PhasedObjective; ``time`` is seconds since ``fit`` started.
With ``tensorboard=True`` the same scalars go to a ``SummaryWriter`` in ``<out_dir>/tensorboard``
when the ``tensorboard`` package is installed (a warning says so when it is not). The progress
bar shows when ``progress='on'``, or ``'auto'`` with stderr a terminal and ``CI`` unset.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from .config import TrainConfig

__all__ = ["RunLogger", "progress_enabled", "trim_metrics_file", "METRICS_FILE"]

METRICS_FILE = "metrics.jsonl"


def progress_enabled(setting: str) -> bool:
    if setting == "on":
        return True
    if setting == "off":
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)()) and not os.environ.get("CI")


def trim_metrics_file(out_dir: Path, step: int) -> None:
    """Drop events after ``step`` from ``metrics.jsonl`` (a resumed run rewrites what followed)."""
    path = Path(out_dir) / METRICS_FILE
    if not path.exists():
        return
    kept: List[str] = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                kept.append(line)
        except json.JSONDecodeError:  # a line cut short by a crash
            continue
    from .checkpoint import atomic_write

    atomic_write(path, ("\n".join(kept) + "\n" if kept else "").encode())


class RunLogger:
    """Writes events (see the module docstring). A disabled logger (other ranks) does nothing."""

    def __init__(self, config: TrainConfig, *, enabled: bool, total_steps: Optional[int], initial_step: int):
        self.enabled = enabled
        self._file = None
        self._writer = None
        self._bar = None
        if not enabled:
            return
        if config.out_dir is not None:
            out = Path(config.out_dir)
            out.mkdir(parents=True, exist_ok=True)
            self._file = open(out / METRICS_FILE, "a", encoding="utf-8")
            if config.tensorboard:
                self._writer = _summary_writer(out / "tensorboard")
        if progress_enabled(config.progress):
            from tqdm import tqdm

            self._bar = tqdm(total=total_steps, initial=initial_step, unit="step", dynamic_ncols=True, file=sys.stderr)

    def event(self, *, step: int, epoch: int, phase: str, metrics: Mapping[str, float], lr: Any, kl_weight: Optional[float], time: float) -> None:
        if not self.enabled:
            return
        record = {"step": step, "epoch": epoch, "phase": phase, "metrics": dict(metrics), "lr": lr, "kl_weight": kl_weight, "time": round(time, 4)}
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        if self._writer is not None:
            for name, value in metrics.items():
                self._writer.add_scalar(f"{phase}/{name}", value, step)
            if phase == "train":
                lrs = lr if isinstance(lr, dict) else {"": lr}
                for name, value in lrs.items():
                    self._writer.add_scalar(f"lr/{name}".rstrip("/"), value, step)
                if kl_weight is not None:
                    self._writer.add_scalar("kl_weight", kl_weight, step)
        if self._bar is not None:
            self._bar.set_postfix({f"{phase}/{k}": f"{v:.4g}" for k, v in list(metrics.items())[:3]}, refresh=False)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _summary_writer(directory: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        warnings.warn(f"tensorboard=True but TensorBoard is not importable ({e}); pip install tensorboard. Logging to metrics.jsonl only", stacklevel=4)
        return None
    return SummaryWriter(log_dir=str(directory))


def lr_report(slots: Mapping[str, Any]) -> Any:
    """The current learning rate (one number) or ``{slot: lr}`` for several optimizers."""
    lrs: Dict[str, float] = {name: float(slot.optimizer.param_groups[0]["lr"]) for name, slot in slots.items()}
    return lrs["main"] if list(lrs) == ["main"] else lrs
