"""``seqgen demo``: the README's main job, run in-process with a budget of a few seconds."""

import json
from pathlib import Path

import numpy as np
import pytest

from seqgen.cli import main
from seqgen.demo import JSB_FILE, choose_data, default_data_dir

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"  # <repo>/../shared/data


def cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.slow  # two demo runs of 1-3 s of training each, plus evaluation, sampling and plots
def test_demo_trains_evaluates_samples_and_plots(capsys, tmp_path):
    out = tmp_path / "demo"
    status, text, err = cli(capsys, "demo", "--seconds", 3, "--out", out)
    assert status == 0, err
    assert "name" in text and "distribution" in text and "rnn" in text  # the plugin table
    if (DATA / JSB_FILE).is_file():
        assert "data: JSB chorales, real data" in text
    else:
        assert "the demo uses the Lorenz generator" in text
    assert "nll (exact)" in text and "nats/step" in text and f"everything is in {out}" in text
    for name in ("run.json", "metrics.jsonl", "training_curves.png", "evaluation.json", "samples.npz", "samples.png"):
        assert (out / name).is_file(), name
    evaluation = json.loads((out / "evaluation.json").read_text())
    (figure,) = evaluation["figures"]
    assert (figure["name"], figure["kind"], evaluation["split"]) == ("nll", "exact", "valid") and np.isfinite(figure["value"])
    with np.load(out / "samples.npz") as f:
        assert f["samples"].shape[0] == 4

    # the demo's directory is an ordinary run: `seqgen sample` reads it
    assert cli(capsys, "sample", out, "--steps", 5, "--num", 1, "--out", tmp_path / "more.npz")[0] == 0

    # run again without the data folder: the Lorenz generator, said so, and the old demo is replaced
    empty = tmp_path / "no-data"
    empty.mkdir()
    status, text, err = cli(capsys, "demo", "--seconds", 1, "--out", out, "--data-dir", empty)
    assert status == 0, err
    assert f"{empty / JSB_FILE} is absent, so the demo uses the Lorenz generator" in text
    assert json.loads((out / "run.json").read_text())["data"] == "lorenz"
    assert (out / "samples.png").is_file() and "nll (exact)" in text


def test_demo_refuses_a_directory_it_did_not_write(capsys, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    status, _, err = cli(capsys, "demo", "--seconds", 1, "--out", out, "--data-dir", tmp_path)
    assert status == 2 and err.startswith("seqgen: error: --out") and "not empty" in err and err.count("\n") == 1
    assert (out / "notes.txt").read_text() == "keep me"
    status, _, err = cli(capsys, "demo", "--seconds", 0)
    assert status == 2 and "--seconds must be > 0 (got 0.0)" in err


def test_demo_data_choice(tmp_path):
    assert default_data_dir() == DATA.resolve()
    spec, line, _ = choose_data(tmp_path)
    assert spec == "lorenz" and "Lorenz generator" in line
    (tmp_path / JSB_FILE).write_text("{}")
    spec, line, steps = choose_data(tmp_path)
    assert spec == f"pianoroll:{tmp_path / JSB_FILE}" and "JSB chorales" in line and steps == 64
