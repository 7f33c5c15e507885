"""Smoke runs of the Lorenz study and the benchmark scripts (``--smoke``: seconds each)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def _run(args, tmp_path):
    done = subprocess.run([sys.executable, *args], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


def test_lorenz_study_smoke(tmp_path):
    _run([str(ROOT / "examples" / "alternator_lorenz.py"), "--smoke", "--out", str(tmp_path)], tmp_path)
    result = json.loads((tmp_path / "alternator_results.json").read_text())
    for key in ("latents_full", "latents_missing50", "latents_missing90"):
        assert set(result[key]) >= {"mae", "mse", "corr"}
    assert (tmp_path / "alternator_latents.png").stat().st_size > 0


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("model", ["rnn", "iseq"])
def test_lorenz_study_runs_other_models(model):
    """The same study for the built-in models, in-process (no interpreter start-up)."""
    study = _load(ROOT / "examples" / "alternator_lorenz.py", "alternator_lorenz_study")
    result = study.run_study(study.parse_args(["--smoke", "--model", model, "--out", ""]))
    assert result["model"] == model and result["forecast_mae"] > 0
    assert ("latents_full" in result) == (model == "iseq")


def test_benchmark_smoke(capsys):
    bench = _load(ROOT / "plugins" / "seqgen-alternator" / "benchmarks" / "bench_alternator.py", "bench_alternator")
    bench.main(["--smoke"])
    out = capsys.readouterr().out
    assert "speed-up" in out and "per trajectory" in out
