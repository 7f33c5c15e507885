"""The plot helpers write real PNG files headlessly and reject malformed input."""

import json

import pytest
import torch

from seqgen import DataError, ShapeError
from seqgen.plot import image_grid, plot_latents, plot_pianoroll, plot_sequences, plot_training_curves

PNG = b"\x89PNG"


def test_every_plot_writes_a_png(tmp_path):
    torch.manual_seed(0)
    log = tmp_path / "metrics.jsonl"
    log.write_text("\n".join(json.dumps({"step": s, "split": sp, "metrics": {"nll": 3.0 - s * 0.1}}) for s in range(5) for sp in ("train", "valid")))
    outs = [
        plot_training_curves(log, tmp_path / "curves.png"),
        plot_sequences(torch.randn(3, 20, 2), tmp_path / "seq.png", data=torch.randn(3, 20, 2)),
        plot_pianoroll((torch.rand(2, 16, 88) < 0.05).float(), tmp_path / "roll.png"),
        plot_latents(torch.randn(30, 3), torch.randn(30, 3), tmp_path / "lat.png"),
        image_grid(torch.rand(12, 784), tmp_path / "grid.png", nrow=6),
    ]
    for p in outs:
        assert p.read_bytes()[:4] == PNG


def test_plot_errors(tmp_path):
    with pytest.raises(ShapeError):
        plot_sequences(torch.randn(3, 20), tmp_path / "x.png")
    with pytest.raises(ShapeError):
        image_grid(torch.rand(2, 10), tmp_path / "x.png")
    bad = tmp_path / "m.jsonl"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="line 1"):
        plot_training_curves(bad, tmp_path / "x.png")
