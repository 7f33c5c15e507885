"""The plugin template installs as a real distribution and the registry finds, loads and builds it.

``pip install --no-deps --no-build-isolation --no-index --target TMP`` builds a wheel from a copy
of ``examples/plugin_template`` (so no build files land in the checkout) without the network,
then the registry reads ``TMP`` as a site directory.
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import seqgen
from seqgen import registry

TEMPLATE = Path(__file__).resolve().parents[1] / "examples" / "plugin_template"
PACKAGE = "seqgen_example_plugin"


def _pip_available() -> str | None:
    """None when pip and setuptools are importable, else why not."""
    for module in ("pip", "setuptools"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed in this environment, so the template cannot be built offline"
    return None


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The template installed into a fresh target directory; returns that directory."""
    why = _pip_available()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("template")
    source, target = root / "src", root / "site"
    shutil.copytree(TEMPLATE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"))
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
           "--disable-pip-version-check", "--no-cache-dir", "--target", str(target), str(source)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip(f"cannot build the template offline: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    return target


@pytest.fixture
def fresh_import(monkeypatch):
    """Import the plugin from the installed copy only, then restore ``sys.modules`` as it was."""
    saved = {k: v for k, v in sys.modules.items() if k == PACKAGE or k.startswith(PACKAGE + ".")}
    for k in saved:
        del sys.modules[k]
    registry.reset()
    yield
    for k in [k for k in sys.modules if k == PACKAGE or k.startswith(PACKAGE + ".")]:
        del sys.modules[k]
    sys.modules.update(saved)
    registry.reset()


def test_template_installs_and_is_found_loaded_and_built(installed, fresh_import, monkeypatch):
    monkeypatch.delenv(registry.ENV_DISABLE, raising=False)
    monkeypatch.delenv(registry.ENV_NO_AUTOLOAD, raising=False)
    monkeypatch.syspath_prepend(str(installed))

    [info] = [r for r in registry.list_plugins(path=[installed]) if r.name == "example_ar"]
    assert (info.distribution, info.version, info.module, info.object, info.status) == (
        "seqgen-example-plugin", "0.1.0", PACKAGE, "SPEC", "not loaded",
    )  # fmt: skip
    assert PACKAGE not in sys.modules  # listing imported nothing

    spec = registry.load_spec("example_ar", path=[installed])
    assert Path(sys.modules[PACKAGE].__file__).resolve().is_relative_to(installed.resolve())  # the installed copy
    assert spec.capabilities == frozenset({"log_prob", "generate", "gradient", "forecast"})
    model = spec.build(obs_dim=2)
    torch.manual_seed(0)
    x = torch.randn(3, 5, 2)  # [batch, time, obs_dim]
    log_p = model.log_prob(x)
    assert log_p.shape == (3,) and torch.isfinite(log_p).all()
    assert isinstance(model, seqgen.SequenceModel)
