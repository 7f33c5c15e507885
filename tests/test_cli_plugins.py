"""``seqgen`` CLI framework and its ``plugins`` command, on fake distributions read with ``--path``."""

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seqgen import __version__, registry
from seqgen.cli import COMMANDS, format_table, main

_COUNTER = itertools.count()

GOOD = '''
import pyro.distributions as dist
import torch
import seqgen

@seqgen.config
class Cfg(seqgen.Config):
    obs_dim: int = 1

class Tiny(seqgen.SequenceModel):
    config_cls = Cfg
    capabilities = frozenset({"generate", "gradient"})
    obs_shape = property(lambda self: torch.Size([1]))
    def initial_state(self, batch_size):
        return seqgen.State()
    def prior_step(self, state, context_t):
        return dist.Normal(torch.zeros(1, 1), 1.0).to_event(1), state
    def observe(self, state, x_t):
        return state

SPEC = seqgen.ModelSpec(name="good", model_cls=Tiny, config_cls=Cfg, capabilities=Tiny.capabilities, version="1.0")
'''


def make_dist(root: Path, dist: str, version: str, entry_points: dict, modules: dict) -> Path:
    """Write a fake installed distribution into ``root``; ``entry_points``: name -> 'module:object'."""
    info = root / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text("[seqgen.models]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    return root


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for var in (registry.ENV_DISABLE, registry.ENV_NO_AUTOLOAD, registry.ENV_STRICT):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # `--path` prepends to sys.path; undo it
    registry.reset()
    yield
    registry.reset()


@pytest.fixture
def site(tmp_path):
    """'good' loads; 'boom' raises ZeroDivisionError on import; 'off' is for disabling."""
    mod = f"seqgen_clifake_{next(_COUNTER)}"
    make_dist(
        tmp_path,
        "fakepkg",
        "1.0",
        {"good": f"{mod}_good:SPEC", "boom": f"{mod}_boom:SPEC", "off": f"{mod}_good:SPEC"},
        {f"{mod}_good": GOOD, f"{mod}_boom": "x = 1 / 0\n"},
    )
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith(mod)]:
        del sys.modules[name]


def table_rows(out: str):
    """The printed table as ``{name: [cells…]}`` (cells split on runs of two or more spaces)."""
    lines = out.strip().splitlines()
    assert lines[0].split()[:4] == ["name", "distribution", "version", "status"]
    return {cells[0]: cells for cells in (re.split(r"\s{2,}", line) for line in lines[1:])}


def test_plugins_lists_loaded_and_broken(site, capsys, monkeypatch):
    monkeypatch.setenv(registry.ENV_DISABLE, "off")
    assert main(["plugins", "--path", str(site)]) == 0
    out = capsys.readouterr()
    rows = table_rows(out.out)
    assert rows["good"] == ["good", "fakepkg", "1.0", "loaded", "generate, gradient"]
    assert rows["boom"][:4] == ["boom", "fakepkg", "1.0", "broken"]
    assert "ZeroDivisionError: division by zero" in rows["boom"][4]
    assert rows["off"][3] == "disabled" and "re-enable" in rows["off"][4]
    assert out.err == ""


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_strict_fails_with_one_line(site, capsys, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv(registry.ENV_STRICT, "1")
    argv = ["plugins", "--path", str(site)] + (["--strict"] if how == "flag" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("seqgen: error: plugin 'boom' (from distribution 'fakepkg')")
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["--debug", "plugins", "--strict"], ["plugins", "--strict", "--debug"]])
def test_debug_shows_the_chained_traceback(site, capsys, argv):
    assert main(argv + ["--path", str(site)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "x = 1 / 0" in err and "ZeroDivisionError" in err  # the plugin's own frame
    assert err.strip().splitlines()[-1].startswith("seqgen: error: plugin 'boom'")


def test_a_seqgen_error_anywhere_is_one_line_exit_2(site, capsys, monkeypatch):
    monkeypatch.setenv(registry.ENV_STRICT, "maybe")
    assert main(["plugins", "--path", str(site)]) == 2
    err = capsys.readouterr().err
    assert err == "seqgen: error: environment variable SEQGEN_STRICT_PLUGINS must be 1 or 0 (got 'maybe'); set SEQGEN_STRICT_PLUGINS=1, or unset it\n"


def test_no_plugins_found(tmp_path, capsys, monkeypatch):
    assert main(["plugins", "--path", str(tmp_path)]) == 0
    assert "no model plugins found" in capsys.readouterr().out
    monkeypatch.setenv(registry.ENV_NO_AUTOLOAD, "1")
    assert main(["plugins"]) == 0
    assert "SEQGEN_DISABLE_PLUGIN_AUTOLOAD is set" in capsys.readouterr().out


def test_usage_help_and_version(capsys):
    assert main([]) == 2
    assert "seqgen: error:" in capsys.readouterr().err
    assert main(["no-such-command"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"seqgen {__version__}"
    assert main(["--help"]) == 0
    help_text = capsys.readouterr().out  # read once: a second readouterr() returns nothing
    assert all(name in help_text for name in COMMANDS)


def test_format_table_aligns_columns():
    text = format_table(("a", "bb"), [("xxx", None), ("y", "z")])
    assert text.splitlines() == ["a    bb", "xxx  -", "y    z"]


@pytest.mark.slow  # a fresh interpreter imports torch: seconds on a loaded machine
def test_module_entry_exits_with_the_status(site):
    """The real process: `python -m seqgen.cli` returns main()'s status (the console script does the same)."""
    proc = subprocess.run(
        [sys.executable, "-m", "seqgen.cli", "plugins", "--strict", "--path", str(site)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("seqgen: error: plugin 'boom'") and proc.stderr.count("\n") == 1
