"""``seqgen train`` / ``sample`` / ``evaluate`` end to end on tiny data, in-process through ``seqgen.cli.main``.

Tiny data: a few hundred characters of text written into tmp, a 6-sequence Lorenz spec, and a
two-split piano-roll JSON. Every training run is a handful of steps of a model with 8 hidden
units on the CPU, seed 0 (the TrainConfig default).
"""

import json

import numpy as np
import pytest

from seqgen.cli import main
from seqgen.cli_run import model_config_for, parse_assignments, split_overrides
from seqgen.data import load_data
from seqgen.errors import ConfigError, ShapeError, TrainingError
from seqgen.registry import load_spec
from seqgen.train import TrainOps

TEXT = "the quick brown fox jumps over the lazy dog; " * 12  # 540 characters, 29 distinct
TINY_RNN = ["hidden=8", "embed_dim=4", "device=cpu", "batch_size=4"]
LORENZ = ["--data", "lorenz", "--data-opt", "num=6", "length=12", "obs_dim=3", "burn_in=5"]


def cli(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``seqgen argv…``."""
    status = main([str(a) for a in argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def one_line_error(err, *fragments):
    assert err.count("\n") == 1 and err.startswith("seqgen: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def train_text(capsys, text_file, out, *sets):
    return cli(capsys, "train", "rnn", "--data", f"text:{text_file}", "--data-opt", "seq_len=20", "--out", out,
               "--set", *TINY_RNN, "log_every=1", *sets)


def train_events(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return {e["step"]: e["metrics"] for e in map(json.loads, lines) if e["phase"] == "train"}


@pytest.mark.slow  # four short training runs, sampling and evaluation: a few seconds
def test_text_train_sample_evaluate_and_exact_resume(capsys, tmp_path, text_file):
    run = tmp_path / "run"
    status, out, err = train_text(capsys, text_file, run, "max_steps=3", "checkpoint_every=2")
    assert status == 0, err
    assert "valid/nll (exact)" in out and "0 of 54 characters are out of vocabulary" in out
    for name in ("run.json", "vocab.json", "latest", "metrics.jsonl", "training_curves.png"):
        assert (run / name).exists(), name
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000002", "step-00000003"]
    info = json.loads((run / "run.json").read_text())
    assert (info["model"], info["obs_kind"], info["num_classes"], info["valid_split"]) == ("rnn", "categorical", 29, "valid")

    # resume continues exactly: the same per-step training metrics as one uninterrupted run
    status, out, err = cli(capsys, "train", "rnn", "--out", run, "--resume", "--set", "max_steps=6")
    assert status == 0 and "resuming rnn" in out and "now at step 6" in out, err
    whole = tmp_path / "whole"
    assert train_text(capsys, text_file, whole, "max_steps=6")[0] == 0
    resumed, uninterrupted = train_events(run), train_events(whole)
    assert sorted(resumed) == list(range(1, 7)) and resumed == uninterrupted  # bit-identical floats
    status, out, _ = cli(capsys, "train", "rnn", "--out", run, "--resume")
    assert status == 0 and "nothing to do" in out and "max_steps=6" in out

    # sample: decoded text (unknown ids counted), npz with the decoded text alongside
    status, out, err = cli(capsys, "sample", run, "--steps", 15, "--num", 3, "--out", tmp_path / "s.txt")
    assert status == 0, err
    assert "<unk> sampled" in out and "of 45 characters" in out
    assert (tmp_path / "s.txt").read_text(encoding="utf-8").count("=== sample") == 3
    status, out, err = cli(capsys, "sample", run, "--steps", 15, "--num", 3, "--out", tmp_path / "s.npz", "--seed", 1)
    assert status == 0, err
    with np.load(tmp_path / "s.npz") as f:
        assert f["samples"].shape == (3, 15) and f["samples"].dtype == np.int64 and len(f["text"][0]) == 15
    status, _, err = cli(capsys, "sample", run, "--out", tmp_path / "s.png")
    assert status == 2
    one_line_error(err, "token samples are not plotted", ".txt")

    # evaluate on text with characters outside the run's vocabulary: mapped to <unk> and counted
    other = tmp_path / "other.txt"
    other.write_text("ZZ the quick brown fox! " * 5, encoding="utf-8")  # 'Z' and '!' are unknown: 3 per copy
    status, out, err = cli(capsys, "evaluate", run, "--data", f"text:{other}", "--split", "all")
    assert status == 0, err
    assert "nll (exact)" in out and "nats/step" in out
    assert "out-of-vocabulary characters: 15 of 120 (mapped to <unk>)" in out
    status, out, _ = cli(capsys, "evaluate", run)  # the run's own data and options, valid split
    nll = float(out.split("nll (exact)")[1].split()[0])
    saved = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert saved["phase"] == "valid" and nll == pytest.approx(saved["metrics"]["nll"], rel=1e-5)  # same figure TrainOps logged


@pytest.mark.slow  # two tiny training runs with sampling and evaluation
def test_lorenz_series_plot_and_latent_bounds(capsys, tmp_path):
    run = tmp_path / "lorenz"
    status, out, err = cli(capsys, "train", "iseq", *LORENZ, "--out", run,
                           "--set", "hidden=8", "inference_hidden=8", "z_dim=2", "embed_dim=4", "max_steps=2", "device=cpu")
    assert status == 0, err
    assert "valid/neg_elbo_bound (bound)" in out
    status, out, err = cli(capsys, "evaluate", run, "--iwae", 3)
    assert status == 0, err
    assert "neg_elbo (bound)" in out and "neg_iwae_3 (bound)" in out and "nll" not in out
    status, out, err = cli(capsys, "sample", run, "--steps", 12, "--num", 2, "--out", tmp_path / "series.png")
    assert status == 0 and "against the run's data" in out, err
    assert (tmp_path / "series.png").stat().st_size > 1000
    status, _, err = cli(capsys, "sample", run, "--out", tmp_path / "x.txt")
    one_line_error(err, "only text runs decode to .txt")


@pytest.mark.slow  # one tiny training run
def test_pianoroll_png_and_midi(capsys, tmp_path):
    rolls = tmp_path / "rolls.json"
    piece = [[60, 64, 67], [62], [], [65, 69]] * 3
    rolls.write_text(json.dumps({"train": [piece] * 4, "valid": [piece[:6]] * 2}))
    run = tmp_path / "music"
    status, out, err = cli(capsys, "train", "rnn", "--data", f"pianoroll:{rolls}", "--out", run, "--set", *TINY_RNN, "max_steps=2")
    assert status == 0, err
    assert json.loads((run / "run.json").read_text())["obs_shape"] == [88]
    status, out, err = cli(capsys, "sample", run, "--steps", 8, "--num", 2, "--out", tmp_path / "roll.png")
    assert status == 0 and "piano-roll plot of 2 samples" in out, err
    try:
        import pretty_midi  # noqa: F401
    except ImportError:
        status, _, err = cli(capsys, "sample", run, "--out", tmp_path / "roll.mid")
        assert status == 2
        one_line_error(err, "needs the optional package pretty_midi", "pip install pretty-midi")
    else:
        status, out, err = cli(capsys, "sample", run, "--steps", 8, "--num", 2, "--out", tmp_path / "roll.mid")
        assert status == 0 and (tmp_path / "roll-1.mid").exists() and (tmp_path / "roll-2.mid").exists(), err


BAD_STARTS = {
    "bad key": (["--set", "hiden=8"], ["has a key 'hiden'", "closest model keys: 'hidden'", "closest training keys:"]),
    "bad value": (["--set", "lr=-1"], ["'lr' must be > 0 (got -1)"]),
    "bad model value": (["--set", "cell=tcn"], ["'cell' must be one of 'gru', 'lstm' (got 'tcn')"]),
    "dimension mismatch": (["--set", "obs_dim=5"], ["obs_dim: expected 29 (the vocabulary size of text:", "got 5 (--set obs_dim=5)"]),
    "kind mismatch": (["--set", "obs=normal"], ["obs: expected 'categorical'", "got 'normal'"]),
    "bad data option": (["--data-opt", "seq_length=20"], ["unknown option 'seq_length'", "'seq_len'"]),
    "not key=value": (["--set", "hidden"], ["--set 'hidden' is not of the form key=value"]),
    "out_dir": (["--set", "out_dir=x"], ["the run directory is --out"]),
}


@pytest.mark.parametrize("case", list(BAD_STARTS))
def test_bad_start_is_one_line_and_leaves_no_run(capsys, tmp_path, text_file, case):
    extra, fragments = BAD_STARTS[case]
    out = tmp_path / "run"
    status, _, err = cli(capsys, "train", "rnn", "--data", f"text:{text_file}", "--out", out, *extra)
    assert status == 2
    one_line_error(err, *fragments)
    assert not out.exists()


def test_bad_data_and_models_are_one_line(capsys, tmp_path, text_file):
    out = tmp_path / "run"
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ".encode("latin-1") * 50)
    (tmp_path / "empty.json").write_text(json.dumps({"train": [], "valid": []}))
    (tmp_path / "broken.json").write_text("{not json")
    cases = [
        (["nosuchmodel", "--data", f"text:{text_file}"], ["plugin 'nosuchmodel'", "no model plugin of that name", "installed:"]),
        (["rnn", "--data", f"text:{tmp_path / 'missing.txt'}"], ["missing.txt: no such file or directory"]),
        (["rnn", "--data", f"text:{tmp_path / 'latin1.txt'}"], ["not UTF-8 text"]),
        (["rnn", "--data", f"text:{tmp_path / 'empty.txt'}"], ["the file is empty"]),
        (["rnn", "--data", f"pianoroll:{tmp_path / 'empty.json'}"], ["split 'train' holds no pieces"]),
        (["rnn", "--data", f"pianoroll:{tmp_path / 'broken.json'}"], ["not valid JSON"]),
        (["rnn", "--data", "lorenz:spiking", "--data-opt", "num=2", "length=5"], ["gives obs='poisson'", "does not take"]),
        (["rnn", "--data", "lorenz", "--set", "obs_dim=7"], ["obs_dim: expected 10 (the observation width of lorenz", "got 7"]),
        (["rnn", "--data", "nosuch:thing"], ["unknown data scheme 'nosuch'"]),
        (["rnn"], ["--data is required"]),
    ]
    for argv, fragments in cases:
        status, _, err = cli(capsys, "train", *argv, "--out", out)
        assert status == 2, argv
        one_line_error(err, *fragments)
        assert not out.exists(), argv


def test_failure_before_the_first_checkpoint_removes_the_run(capsys, tmp_path, text_file, monkeypatch):
    def diverge(self, train, valid=None):
        (tmp_path / self.config.out_dir / "metrics.jsonl").write_text("{}\n")  # something was written by then
        raise TrainingError(1, "nll", float("nan"), "lower lr")

    monkeypatch.setattr(TrainOps, "fit", diverge)
    status, _, err = cli(capsys, "train", "rnn", "--data", f"text:{text_file}", "--out", tmp_path / "run", "--set", *TINY_RNN)
    one_line_error(err, "step 1: nll is nan; lower lr")
    assert status == 2 and not (tmp_path / "run").exists()

    (tmp_path / "empty_out").mkdir()  # an empty directory given as --out stays, emptied again
    cli(capsys, "train", "rnn", "--data", f"text:{text_file}", "--out", tmp_path / "empty_out", "--set", *TINY_RNN)
    assert (tmp_path / "empty_out").is_dir() and not any((tmp_path / "empty_out").iterdir())


@pytest.mark.slow  # one tiny training run
def test_resume_errors(capsys, tmp_path, text_file):
    run = tmp_path / "run"
    assert train_text(capsys, text_file, run, "max_steps=1")[0] == 0
    before = sorted(p.name for p in run.rglob("*"))
    cases = [
        (["train", "iseq", "--out", run, "--resume"], ["is a run of model 'rnn', not 'iseq'", "seqgen train rnn --out"]),
        (["train", "rnn", "--out", run, "--resume", "--set", "hidden=16"], ["trained with hidden=8", "keeps its model config"]),
        (["train", "rnn", "--out", run, "--resume", "--set", "batch_size=0"], ["'batch_size' must be an integer > 0 (got 0)"]),
        (["train", "rnn", "--out", run, "--resume", *LORENZ], ["--data lorenz: does not fit model 'rnn'", "the run was trained on text:"]),
        (["train", "rnn", "--out", tmp_path / "nothing", "--resume"], ["does not exist", "start the run without --resume"]),
        (["train", "rnn", "--data", f"text:{text_file}", "--out", run], ["already holds a run", "pass --resume"]),
        (["sample", tmp_path / "nothing", "--out", tmp_path / "x.npz"], ["does not exist"]),
        (["sample", run, "--out", tmp_path / "x.wav"], ["expected a file ending in .npz, .png, .txt, .mid, got '.wav'"]),
        (["sample", run, "--steps", 0, "--out", tmp_path / "x.npz"], ["--steps must be an integer >= 1 (got 0)"]),
        (["evaluate", run, "--iwae", 3], ["RNNModel does not have capability 'iwae'", "drop --iwae"]),
    ]
    for argv, fragments in cases:
        status, _, err = cli(capsys, *argv)
        assert status == 2, argv
        one_line_error(err, *fragments)
    assert sorted(p.name for p in run.rglob("*")) == before  # nothing touched the run
    status, _, err = cli(capsys, "--debug", "train", "iseq", "--out", run, "--resume")
    assert status == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("seqgen: error:")


def test_set_keys_are_split_between_the_model_and_training():
    spec = load_spec("rnn")
    values = parse_assignments(["hidden=16", "lr=3e-3", "cell=lstm", "decoder_hidden=[8, 8]", "grad_clip=None"], "--set")
    model, train = split_overrides(spec, values)
    assert model == {"hidden": 16, "cell": "lstm", "decoder_hidden": [8, 8]}
    assert train == {"lr": 0.003, "grad_clip": None}
    with pytest.raises(ConfigError, match="closest model keys: 'num_layers'.*closest training keys: .*'num_workers'"):
        split_overrides(spec, {"num_layer": 2})


def test_model_config_takes_the_data_dims(tmp_path, text_file):
    spec = load_spec("rnn")
    text = load_data(f"text:{text_file}", seq_len=20)
    cfg = model_config_for(spec, text, "text:tiny", {"hidden": 8})
    assert (cfg.obs, cfg.obs_dim, cfg.input_dim, cfg.hidden) == ("categorical", len(text.vocab), 0, 8)
    lorenz = load_data("lorenz", num=2, length=5, obs_dim=4)
    assert model_config_for(spec, lorenz, "lorenz", {}).obs_dim == 4
    assert model_config_for(spec, lorenz, "lorenz", {"obs": "beta"}).obs == "beta"  # float kinds: the decoder checks values
    with pytest.raises(ShapeError, match=r"input_dim: expected 0 \(the per-step input width of lorenz\), got 2"):
        model_config_for(spec, lorenz, "lorenz", {"input_dim": 2})
