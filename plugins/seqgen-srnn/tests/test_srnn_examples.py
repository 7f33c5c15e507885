"""The SRNN's examples run end to end in their ``--smoke`` mode (CI), on the real data files."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / ".." / "shared" / "data"


@pytest.mark.parametrize(
    "script, data_file",
    [("srnn_music.py", "jsb_chorales_quarter_trainvalid.json"), ("srnn_text.py", "tinyshakespeare.txt")],
)
def test_example_smoke(script, data_file, tmp_path):
    if not (DATA / data_file).exists():
        pytest.skip(f"{data_file} not found in {DATA} (the shared data directory is absent)")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    cmd = [sys.executable, str(REPO / "examples" / script), "--smoke", "--out", str(tmp_path)]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "srnn" in done.stdout and "(bound)" in done.stdout, done.stdout[-2000:]
