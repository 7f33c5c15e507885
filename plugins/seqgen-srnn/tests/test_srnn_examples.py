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


def _bench():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_srnn", REPO / "plugins" / "seqgen-srnn" / "benchmarks" / "bench_srnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_counts_the_work_of_every_product():
    """``products_floor`` sums 2mkn over mm, addmm and addmm_ (per step), and nothing else."""
    import torch

    a, b, c = torch.randn(6, 4), torch.randn(4, 5), torch.randn(6, 5)

    def two_steps():
        for _ in range(2):
            torch.mm(a, b)
            torch.addmm(c, a, b)
            c.clone().addmm_(a, b)
            (a * 2).sum()

    gflop, products_ms, total_ms = _bench().products_floor(two_steps, 2)
    assert abs(gflop - 3 * 2 * 6 * 4 * 5 / 1e9) < 1e-15
    assert 0 < products_ms < total_ms


def test_bench_smoke(capsys):
    _bench().main(["--smoke"])
    out = capsys.readouterr().out
    for row in ("training step (fwd+bwd+Adam)", "precision=bf16", "matrix products of the float32 step", "goal:"):
        assert row in out, row
