"""Shared fixtures of the SRNN suite."""

import shutil

import pytest

from seqgen_srnn import _loops


def toolchain_present() -> bool:
    """A C++ compiler and ninja are on PATH, so the compiled loops must build."""
    return shutil.which("ninja") is not None and any(shutil.which(c) for c in ("c++", "g++", "clang++"))


def require_compiled():
    """The compiled loops; skips the test where they cannot be built, fails it where they should."""
    ops = _loops.compiled()
    if ops is None:
        if toolchain_present():
            pytest.fail(f"a compiler and ninja are present but the compiled loops did not build: {_loops.build_error()}")
        pytest.skip("no C++ compiler or ninja here: the compiled loops cannot be built")
    return ops


@pytest.fixture(params=["compiled", "python"])
def loops(request, monkeypatch):
    """Run the test once with the compiled loops (csrc/) and once with the Python loops."""
    monkeypatch.setenv(_loops.ENV_VAR, "1" if request.param == "compiled" else "0")
    if request.param == "compiled":
        require_compiled()
    return request.param


@pytest.fixture
def compiled(monkeypatch):
    """The compiled loops, turned on (for tests that compare them with the Python loops)."""
    monkeypatch.setenv(_loops.ENV_VAR, "1")
    return require_compiled()
