"""The Langevin examples run end to end in smoke mode (every stage at toy sizes)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / ".." / "shared" / "data"


needs_mnist = pytest.mark.skipif(not (DATA / "mnist-t10k-images-idx3-ubyte.gz").is_file(), reason=f"MNIST idx files not found in {DATA}")


def _run(*args):
    """Run a script of the repo with one thread and no display; return its stdout (fails on rc != 0)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    # the timeout allows for slow imports on a loaded machine
    done = subprocess.run([sys.executable, *map(str, args)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@needs_mnist
def test_langevin_mnist_smoke(tmp_path):
    _run(REPO / "examples" / "langevin_mnist.py", "--smoke", "--out", tmp_path)  # ~6 s of CPU
    for name in ("generation_over_time", "generated", "pca_trajectories", "neuron_activity", "spectrum_J", "training"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000, name
    assert (tmp_path / "checkpoints").is_dir()


@needs_mnist
def test_quality_references_only():
    """The quality script's closed-form rows (``--references-only``, ~10 s): real digits meet the
    AAI goal and each trained digit has its share of the confident ones; a Gaussian per digit
    scores better than one Gaussian but misses the AAI goal (seed 0, deterministic figures; the
    bounds leave room for BLAS differences)."""
    stdout = _run(REPO / "plugins" / "seqgen-langevin" / "benchmarks" / "quality_langevin.py", "--threads", "1", "--references-only")
    aai, by_digit = {}, {}
    for line in stdout.splitlines():
        if line.startswith("reference: "):
            name, rest = line.split(": AAI error ")
            aai[name] = float(rest.split()[0])
            by_digit[name] = [float(v) for v in rest.split("by digit 1/3/6: ")[1].split()[0].split("/")]
    assert len(aai) == 4, stdout
    assert aai["reference: real training digits (data map)"] <= 0.05
    assert min(by_digit["reference: real training digits (data map)"]) > 15.0  # 1s, 3s and 6s alike (29.6 / 22.4 / 28.0 % here)
    one, per_digit = aai["reference: one Gaussian fitted to the training states"], aai["reference: one Gaussian per digit, fitted to the training states"]
    assert per_digit < one and per_digit > 0.05, (per_digit, one)
    assert "update " not in stdout  # no training ran
