"""The AAE examples run end to end at toy sizes (``--smoke``), as CI smoke tests.

Each runs in a subprocess with one thread and writes its figures to a temporary directory; at toy
sizes each takes well under 20 s of CPU time.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / ".." / "shared" / "data"


@pytest.mark.parametrize(
    "script,needs,figures",
    [
        ("aae_mnist.py", "mnist-t10k-images-idx3-ubyte.gz", ["gaussian/latent_codes.png", "mixture/manifold.png", "mixture/reconstructions.png", "gaussian/samples.png"]),
        ("aae_timeseries.py", "jsb_chorales_quarter_trainvalid.json", ["lorenz/samples_vs_data.png", "jsb/samples_vs_data.png"]),
    ],
)
def test_example_smoke(script, needs, figures, tmp_path):
    if not (DATA / needs).is_file():
        pytest.skip(f"{needs} not found in {DATA}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / script), "--smoke", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    for f in figures:
        assert (tmp_path / f).is_file(), f"{script} --smoke did not write {f}"
