"""The Langevin examples run end to end in smoke mode (every stage at toy sizes)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / ".." / "shared" / "data"


@pytest.mark.skipif(not (DATA / "mnist-t10k-images-idx3-ubyte.gz").is_file(), reason=f"MNIST idx files not found in {DATA}")
def test_langevin_mnist_smoke(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    cmd = [sys.executable, str(REPO / "examples" / "langevin_mnist.py"), "--smoke", "--out", str(tmp_path)]
    # ~6 s of CPU; the timeout allows for slow imports on a loaded machine
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("generation_over_time", "generated", "pca_trajectories", "neuron_activity", "spectrum_J", "training"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000, name
    assert (tmp_path / "checkpoints").is_dir()
