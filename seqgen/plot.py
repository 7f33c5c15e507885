"""Headless plots (matplotlib, Agg backend): training curves, sequences, latents, image grids.

Every function writes a PNG to ``path`` and returns the path; none opens a window. matplotlib is
imported on first use, so importing seqgen stays free of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import torch

from .errors import DataError, ShapeError

__all__ = [
    "plot_training_curves",
    "plot_sequences",
    "plot_pianoroll",
    "plot_latents",
    "image_grid",
]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def _np(x) -> np.ndarray:
    return x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)


def plot_training_curves(metrics_jsonl, path, *, keys: Optional[Sequence[str]] = None) -> Path:
    """One panel per metric from a run's ``metrics.jsonl`` (train and valid lines overlaid)."""
    rows = []
    for i, line in enumerate(Path(metrics_jsonl).read_text().splitlines()):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(str(metrics_jsonl), f"line {i + 1} is not JSON ({e.msg})", "remove the broken line") from None
    series: dict = {}
    for r in rows:
        split = r.get("split", r.get("phase", "train"))  # TrainOps' metrics.jsonl names it "phase"
        for k, v in (r.get("metrics") or {}).items():
            if isinstance(v, (int, float)) and (keys is None or k in keys):
                series.setdefault(k, {}).setdefault(split, []).append((r.get("step", 0), v))
    if not series:
        raise DataError(str(metrics_jsonl), "has no numeric metrics to plot", "train for at least one logging interval")
    plt = _plt()
    fig, axes = plt.subplots(1, len(series), figsize=(4 * len(series), 3), squeeze=False)
    for ax, (name, by_split) in zip(axes[0], sorted(series.items())):
        for split, pts in by_split.items():
            steps, vals = zip(*pts)
            ax.plot(steps, vals, label=split, marker="." if len(pts) < 30 else None)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.legend()
    return _save(fig, path)


def plot_sequences(samples, path, *, data=None, max_dims: int = 3, title: str = "") -> Path:
    """Real-valued sequences ``[n, time, dim]`` over time, one panel per dim; data dashed if given."""
    s = _np(samples)
    if s.ndim != 3:
        raise ShapeError("samples", "[n, time, dim]", s.shape, "flatten observation dims first")
    dims = min(max_dims, s.shape[2])
    plt = _plt()
    fig, axes = plt.subplots(dims, 1, figsize=(8, 2 * dims), squeeze=False, sharex=True)
    for d in range(dims):
        ax = axes[d][0]
        for i in range(min(len(s), 5)):
            ax.plot(s[i, :, d], color=f"C{i}", lw=1)
        if data is not None:
            r = _np(data)
            for i in range(min(len(r), 5)):
                ax.plot(r[i, :, d], color=f"C{i}", lw=1, ls="--", alpha=0.6)
        ax.set_ylabel(f"dim {d}")
    axes[0][0].set_title(title or ("samples (solid) vs data (dashed)" if data is not None else "samples"))
    axes[-1][0].set_xlabel("time step")
    return _save(fig, path)


def plot_pianoroll(rolls, path, *, titles: Optional[Iterable[str]] = None, lowest_pitch: int = 21) -> Path:
    """Piano rolls ``[n, time, 88]`` (or one ``[time, 88]``) as images, pitch upward."""
    r = _np(rolls)
    r = r[None] if r.ndim == 2 else r
    if r.ndim != 3:
        raise ShapeError("rolls", "[n, time, keys]", r.shape, "pass piano rolls")
    titles = list(titles) if titles is not None else [f"sequence {i}" for i in range(len(r))]
    plt = _plt()
    fig, axes = plt.subplots(len(r), 1, figsize=(8, 2.2 * len(r)), squeeze=False)
    for ax, roll, t in zip(axes[:, 0], r, titles):
        ax.imshow(roll.T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
                  extent=(0, roll.shape[0], lowest_pitch, lowest_pitch + roll.shape[1]))
        ax.set_title(t)
        ax.set_ylabel("MIDI pitch")
    axes[-1][0].set_xlabel("time step")
    return _save(fig, path)


def plot_latents(true, inferred, path, *, title: str = "latents") -> Path:
    """True vs inferred latents ``[time, d]``: over time per dim, and in 3-D when ``d >= 3``."""
    t, z = _np(true), _np(inferred)
    if t.shape != z.shape or t.ndim != 2:
        raise ShapeError("inferred", f"{t.shape} (like true, [time, d])", z.shape, "fit inferred latents to the true ones first (seqgen.metrics.affine_latent_fit)")
    plt = _plt()
    three_d = t.shape[1] >= 3
    fig = plt.figure(figsize=(12 if three_d else 8, 2.2 * t.shape[1]))
    for d in range(t.shape[1]):
        ax = fig.add_subplot(t.shape[1], 2 if three_d else 1, (2 * d + 1) if three_d else d + 1)
        ax.plot(t[:, d], "k", lw=1, label="true")
        ax.plot(z[:, d], "C3", lw=1, label="inferred")
        ax.set_ylabel(f"z[{d}]")
        if d == 0:
            ax.set_title(title)
            ax.legend()
    if three_d:
        ax = fig.add_subplot(1, 2, 2, projection="3d")
        ax.plot(*t[:, :3].T, "k", lw=0.8, label="true")
        ax.plot(*z[:, :3].T, "C3", lw=0.8, label="inferred")
        ax.legend()
    return _save(fig, path)


def image_grid(images, path, *, nrow: int = 10, titles: Optional[Sequence[str]] = None, cmap: str = "gray") -> Path:
    """Images ``[n, H, W]`` (or ``[n, H*W]`` square) in a grid with ``nrow`` per row."""
    im = _np(images)
    if im.ndim == 2:
        side = int(round(np.sqrt(im.shape[1])))
        if side * side != im.shape[1]:
            raise ShapeError("images", "[n, H, W] or [n, H*W] with square H*W", im.shape, "reshape to [n, H, W]")
        im = im.reshape(-1, side, side)
    if im.ndim != 3 or len(im) == 0:
        raise ShapeError("images", "[n>0, H, W]", im.shape, "pass a non-empty stack of images")
    ncol = min(nrow, len(im))
    rows = (len(im) + ncol - 1) // ncol
    plt = _plt()
    fig, axes = plt.subplots(rows, ncol, figsize=(1.2 * ncol, 1.2 * rows + (0.3 if titles else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(im):
            ax.imshow(im[i], cmap=cmap, vmin=float(im.min()), vmax=float(im.max()))
            if titles is not None and i < len(titles):
                ax.set_title(titles[i], fontsize=7)
    return _save(fig, path)
