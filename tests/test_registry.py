"""The plugin registry (DESIGN §5) against fake installed distributions written into tmp dirs.

Each fake is ``<dir>/<dist>-<version>.dist-info/{METADATA,entry_points.txt}`` plus module files;
the registry reads them with ``path=[dir]`` and imports them from ``sys.path`` (monkeypatched).
Module names are unique per test so ``sys.modules`` never serves one test's module to another.
"""

import itertools
import sys
from pathlib import Path

import pytest
import torch

import seqgen
from seqgen import registry

_COUNTER = itertools.count()

TINY_MODEL = '''
import pyro.distributions as dist
import torch
import seqgen

@seqgen.config
class Cfg(seqgen.Config):
    obs_dim: int = 1

class Tiny(seqgen.SequenceModel):
    config_cls = Cfg
    capabilities = frozenset({"generate"})

    @property
    def obs_shape(self):
        return torch.Size([self.config.obs_dim])

    def initial_state(self, batch_size):
        return seqgen.State()

    def prior_step(self, state, context_t):
        return dist.Normal(torch.zeros(1, self.config.obs_dim), 1.0).to_event(1), state

    def observe(self, state, x_t):
        return state

def spec(name):
    return seqgen.ModelSpec(name=name, model_cls=Tiny, config_cls=Cfg, capabilities={"generate"}, version="9.9")
'''


def good_module(*names):
    return TINY_MODEL + "".join(f"SPEC_{n} = spec({n!r})\n" for n in names)


def make_dist(root: Path, dist: str, version: str, entry_points: dict, modules: dict) -> Path:
    """Write a fake installed distribution into ``root``; ``entry_points``: name -> 'module:object'."""
    info = root / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[seqgen.models]\n{lines}")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    return root


@pytest.fixture
def mod():
    """A fresh module-name prefix; modules imported under it are dropped afterwards."""
    prefix = f"seqgen_fake_{next(_COUNTER)}"
    yield prefix
    for name in [m for m in sys.modules if m.startswith(prefix)]:
        del sys.modules[name]


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch):
    for var in (registry.ENV_DISABLE, registry.ENV_NO_AUTOLOAD, registry.ENV_STRICT):
        monkeypatch.delenv(var, raising=False)
    registry.reset()
    yield
    registry.reset()


@pytest.fixture
def site(tmp_path, monkeypatch, mod):
    """A fake site dir with: 'good' (and 'good2'), 'boom' (import raises), 'noattr', 'notspec', 'misnamed'."""
    make_dist(
        tmp_path,
        "fakepkg",
        "1.0",
        {
            "good": f"{mod}_good:SPEC_good",
            "good2": f"{mod}_good:SPEC_good2",
            "boom": f"{mod}_boom:SPEC",
            "noattr": f"{mod}_good:NOPE",
            "notspec": f"{mod}_notspec:SPEC",
            "misnamed": f"{mod}_good:SPEC_other",
        },
        {
            f"{mod}_good": good_module("good", "good2", "other"),
            f"{mod}_boom": "x = 1 / 0\n",
            f"{mod}_notspec": "SPEC = 42\n",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def rows(path):
    return {(r.name, r.distribution): r for r in registry.list_plugins(path=[path])}


def test_listing_reads_metadata_and_imports_nothing(site, mod):
    table = rows(site)
    assert set(table) == {(n, "fakepkg") for n in ("good", "good2", "boom", "noattr", "notspec", "misnamed")}
    good = table["good", "fakepkg"]
    assert (good.version, good.module, good.object, good.status, good.capabilities) == ("1.0", f"{mod}_good", "SPEC_good", "not loaded", None)
    assert not [m for m in sys.modules if m.startswith(mod)]


def test_load_is_lazy_and_cached(site, mod):
    spec = registry.load_spec("good", path=[site])
    assert isinstance(spec, seqgen.ModelSpec) and spec.name == "good"
    assert f"{mod}_boom" not in sys.modules  # loading one plugin imports only its module
    del sys.modules[f"{mod}_good"]
    assert registry.load_spec("good", path=[site]) is spec  # from the cache, not a re-import
    assert f"{mod}_good" not in sys.modules
    info = rows(site)["good", "fakepkg"]
    assert info.status == "loaded" and info.capabilities == frozenset({"generate"})


def test_broken_import_is_recorded_and_never_breaks_the_others(site):
    with pytest.raises(seqgen.PluginError, match="ZeroDivisionError") as err:
        registry.load_spec("boom", path=[site])
    assert isinstance(err.value, ImportError) and err.value.distribution == "fakepkg"
    assert err.value.__cause__ is None and "strict=True" in str(err.value)
    assert registry.load_spec("good", path=[site]).name == "good"
    info = rows(site)["boom", "fakepkg"]
    assert info.status == "broken" and "importing module" in info.reason and "division by zero" in info.reason


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_strict_chains_the_plugins_own_error(site, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv(registry.ENV_STRICT, "1")
    with pytest.raises(seqgen.PluginError, match="boom") as err:
        registry.load_spec("boom", strict=how == "argument", path=[site])
    assert isinstance(err.value.__cause__, ZeroDivisionError)
    with pytest.raises(seqgen.PluginError) as err:
        registry.load_spec("noattr", strict=how == "argument", path=[site])
    assert isinstance(err.value.__cause__, AttributeError)


@pytest.mark.parametrize(
    "name, words",
    [
        ("noattr", ["has no attribute 'NOPE'", "fix the entry point"]),
        ("notspec", ["names a int", "expected a seqgen.ModelSpec"]),
        ("misnamed", ["named 'misnamed'", "ModelSpec(name='other')"]),
    ],
)
def test_malformed_plugins_are_broken_with_the_reason(site, name, words):
    with pytest.raises(seqgen.PluginError) as err:
        registry.load_spec(name, strict=True, path=[site])
    for w in words:
        assert w in str(err.value)
        assert w in rows(site)[name, "fakepkg"].reason
    assert rows(site)[name, "fakepkg"].status == "broken"


def test_invalid_spec_raised_inside_the_plugin_is_reported(tmp_path, monkeypatch, mod):
    source = TINY_MODEL + "SPEC = seqgen.ModelSpec(name='bad', model_cls=Tiny, config_cls=Cfg, capabilities={'elbo'})\n"
    make_dist(tmp_path, "badspec", "0.1", {"bad": f"{mod}_bad:SPEC"}, {f"{mod}_bad": source})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(seqgen.PluginError, match="differ from Tiny.capabilities"):
        registry.load_spec("bad", path=[tmp_path])


def test_unknown_name_suggests_the_closest_and_lists_installed(site):
    with pytest.raises(seqgen.PluginError) as err:
        registry.load_spec("godo", path=[site])
    msg = str(err.value)
    assert "did you mean 'good'" in msg and "installed: boom, good, good2, misnamed, noattr, notspec" in msg


def test_two_distributions_with_one_name_is_an_error_naming_both(tmp_path, monkeypatch, mod):
    make_dist(tmp_path, "alpha", "1.0", {"dup": f"{mod}_a:SPEC_dup", "solo": f"{mod}_a:SPEC_solo"}, {f"{mod}_a": good_module("dup", "solo")})
    make_dist(tmp_path, "beta", "2.0", {"dup": f"{mod}_b:SPEC_dup"}, {f"{mod}_b": good_module("dup")})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(seqgen.PluginError) as err:
        registry.load_spec("dup", path=[tmp_path])
    assert "'alpha' 1.0" in str(err.value) and "'beta' 2.0" in str(err.value)
    table = rows(tmp_path)
    assert table["dup", "alpha"].status == table["dup", "beta"].status == "broken"
    assert "'beta'" in table["dup", "alpha"].reason
    assert registry.load_spec("solo", path=[tmp_path]).name == "solo"  # the other name still works
    assert registry.available_models(path=[tmp_path]) == ["solo"]


def test_one_distribution_seen_twice_on_the_path_is_one_provider(tmp_path, monkeypatch, mod):
    make_dist(tmp_path / "a", "same_dist", "1.0", {"one": f"{mod}_one:SPEC_one"}, {f"{mod}_one": good_module("one")})
    egg = tmp_path / "b" / "Same_Dist.egg-info"  # an in-tree build's metadata, as next to an editable install
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: Same-Dist\nVersion: 1.0\n")
    (egg / "entry_points.txt").write_text(f"[seqgen.models]\none = {mod}_one:SPEC_one\n")
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    listed = registry.list_plugins(path=[tmp_path / "a", tmp_path / "b"])
    assert [(r.name, r.distribution) for r in listed] == [("one", "same_dist")]  # the name METADATA gives
    assert registry.load_spec("one", path=[tmp_path / "a", tmp_path / "b"]).name == "one"


def test_disable_by_name(site, monkeypatch, mod):
    monkeypatch.setenv(registry.ENV_DISABLE, "boom, good")
    table = rows(site)
    assert table["good", "fakepkg"].status == table["boom", "fakepkg"].status == "disabled"
    with pytest.raises(seqgen.PluginError, match="remove 'good' from SEQGEN_DISABLE_PLUGINS to re-enable"):
        registry.load_spec("good", path=[site])
    assert not [m for m in sys.modules if m.startswith(mod)]
    assert registry.load_spec("good2", path=[site]).name == "good2"
    assert "good" not in registry.available_models(path=[site])


def test_disable_autoload_reads_no_entry_points(site, monkeypatch):
    monkeypatch.setenv(registry.ENV_NO_AUTOLOAD, "1")
    assert registry.list_plugins(path=[site]) == []
    with pytest.raises(seqgen.PluginError, match="SEQGEN_DISABLE_PLUGIN_AUTOLOAD"):
        registry.load_spec("good", path=[site])
    monkeypatch.delenv(registry.ENV_NO_AUTOLOAD)
    spec = registry.load_spec("good", path=[site])
    registry.reset()
    monkeypatch.setenv(registry.ENV_NO_AUTOLOAD, "1")
    registry.register(spec)  # explicitly registered specs still work
    assert registry.load_spec("good", path=[site]) is spec
    assert [(r.name, r.distribution, r.status) for r in registry.list_plugins(path=[site])] == [("good", None, "loaded")]


def test_register_shadows_installed_and_guards_replacement(site):
    installed = registry.load_spec("good2", path=[site])
    mine = registry.register(
        seqgen.ModelSpec(name="good2", model_cls=installed.model_cls, config_cls=installed.config_cls, capabilities={"generate"}, version="mine")
    )
    assert registry.load_spec("good2", path=[site]) is mine
    assert [r.version for r in registry.list_plugins(path=[site]) if r.name == "good2"] == ["mine"]
    with pytest.raises(seqgen.PluginError, match="replace=True"):
        registry.register(installed)
    assert registry.register(installed, replace=True) is installed
    assert registry.unregister("good2") is installed
    with pytest.raises(seqgen.PluginError, match="not registered"):
        registry.unregister("good2")
    with pytest.raises(seqgen.PluginError, match="expected a seqgen.ModelSpec"):
        registry.register("good2")


def test_load_model_builds_with_overrides(site):
    spec = registry.register(registry.load_spec("good", path=[site]))  # load_model reads sys.path
    model = seqgen.load_model("good", obs_dim=4)
    assert isinstance(model, spec.model_cls) and model.obs_shape == torch.Size([4])
    cfg = spec.config_cls(obs_dim=2)
    assert seqgen.load_model("good", cfg).config is cfg


def test_reset_forgets_loaded_and_broken(site):
    registry.load_spec("good", path=[site])
    with pytest.raises(seqgen.PluginError):
        registry.load_spec("boom", path=[site])
    registry.reset()
    assert {r.status for r in registry.list_plugins(path=[site])} == {"not loaded"}


def test_version_of_an_egg_info_comes_from_its_metadata(tmp_path, mod):
    info = tmp_path / "eggy.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: eggy\nVersion: 3.2.1\n")
    (info / "entry_points.txt").write_text(f"[seqgen.models]\negg = {mod}_egg:SPEC\n")
    [row] = registry.list_plugins(path=[tmp_path])
    assert (row.name, row.distribution, row.version) == ("egg", "eggy", "3.2.1")


def test_distribution_is_the_published_project_name(tmp_path, mod):
    info = tmp_path / "fake_pkg-2.0.dist-info"  # installers write the folder name normalised
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Fake-Pkg\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text(f"[seqgen.models]\nfp = {mod}_fp:SPEC\n")
    [row] = registry.list_plugins(path=[tmp_path])
    assert (row.distribution, row.version) == ("Fake-Pkg", "2.0")


def test_builtin_models_register_through_entry_points():
    builtins = {r.name: r for r in registry.list_plugins() if r.distribution == "seqgen"}
    assert builtins["rnn"].module == "seqgen.models.rnn" and builtins["rnn"].object == "SPEC"
    assert builtins["iseq"].module == "seqgen.models.iseq" and builtins["iseq"].object == "SPEC"


def test_bad_arguments_are_clear_errors(site, monkeypatch):
    with pytest.raises(seqgen.ConfigError, match=r"path: expected a list of directories.*pass path=\["):
        registry.list_plugins(path=str(site))
    monkeypatch.setenv(registry.ENV_STRICT, "maybe")
    with pytest.raises(seqgen.ConfigError, match="SEQGEN_STRICT_PLUGINS must be 1 or 0"):
        registry.load_spec("good", path=[site])
    with pytest.raises(seqgen.PluginError, match="expected a plugin name"):
        registry.load_spec(3)
