"""The SRNN's loops over time compiled as torch operators (``csrc/``), with the Python loops as fallback.

The two GRU recurrences and the ``z`` loop (forward and backward) do one small matrix product and a
handful of element-wise ops a step. From Python each of those ops costs ~10–20 µs of dispatch on a
CPU, several times its arithmetic, and that overhead is about half of a training step at the
reference sizes. ``csrc/loops.cpp`` runs each loop as one operator call (the product through ATen,
the element-wise work of the step as one vectorised pass, ``csrc/kernels.cpp``).

It is built on first use with ``torch.utils.cpp_extension.load`` (a C++ compiler and ninja; ~20 s
once, then cached under ``TORCH_EXTENSIONS_DIR``, by default ``~/.cache/torch_extensions``) and used
for CPU tensors of float32 or float64. Everything else (CUDA, other dtypes, a machine without a
compiler) runs the Python loops in ``gru.py`` and ``fused.py``, which compute the same values; a
failed build warns once. ``SEQGEN_SRNN_COMPILED=0`` turns the compiled loops off.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Optional

import torch

__all__ = ["ENV_VAR", "build_error", "compiled", "for_tensors"]

ENV_VAR = "SEQGEN_SRNN_COMPILED"
_NAME = "seqgen_srnn_loops"
_SOURCES = ("loops.cpp", "kernels.cpp")
_DTYPES = (torch.float32, torch.float64)
_log = logging.getLogger(__name__)
_lock = threading.Lock()
_state: dict = {}  # "ops": the operator namespace once built; "error": why the build failed


def _flags() -> list:
    """Compiler flags for this CPU (torch's own dispatch level); the build is cached per flag set."""
    flags = ["-O3", "-fno-math-errno", "-fopenmp-simd"]
    capability = torch.backends.cpu.get_cpu_capability()
    if capability == "AVX512":  # 16 float lanes: the step's exp calls ~1.5x faster than with AVX2
        flags += ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mfma", "-mprefer-vector-width=512"]
    elif capability == "AVX2":
        flags += ["-mavx2", "-mfma"]
    return flags


# torch's build lock is a file that a killed build leaves behind, and the next build waits on it
# forever; a build takes ~20 s, so a lock older than this is stale.
_STALE_LOCK_S = 600


def _clear_stale_lock(build_dir: Path) -> None:
    lock = build_dir / "lock"
    try:
        if time.time() - lock.stat().st_mtime > _STALE_LOCK_S:
            lock.unlink()
            warnings.warn(f"seqgen-srnn: removed a stale build lock ({lock}) left by an interrupted build", RuntimeWarning, stacklevel=4)
    except FileNotFoundError:
        pass


def _build():
    from torch.utils import cpp_extension

    src = Path(__file__).with_name("csrc")
    _clear_stale_lock(Path(cpp_extension._get_build_directory(_NAME, False)))
    cpp_extension.load(
        name=_NAME,
        sources=[str(src / name) for name in _SOURCES],
        extra_cflags=_flags(),
        extra_include_paths=[str(src)],
        is_python_module=False,
        verbose=False,
    )
    return getattr(torch.ops, _NAME)


def compiled():
    """The compiled operators (``torch.ops.seqgen_srnn_loops``), or None when turned off
    (``SEQGEN_SRNN_COMPILED=0``) or when they cannot be built here (warned once)."""
    if os.environ.get(ENV_VAR, "1").strip() == "0":
        return None
    if "ops" in _state or "error" in _state:
        return _state.get("ops")
    with _lock:
        if "ops" not in _state and "error" not in _state:
            try:
                _log.info("seqgen-srnn: loading the compiled loops (built on first use on this machine, ~20 s, then cached)")
                _state["ops"] = _build()
            except Exception as exc:  # no compiler or ninja, a read-only cache, a build error
                _state["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
                warnings.warn(
                    f"seqgen-srnn: the compiled loops could not be built ({_state['error']}); using the Python loops, "
                    f"which compute the same values about 1.5x slower. Install a C++ compiler and ninja to build them, "
                    f"or set {ENV_VAR}=0 to silence this.",
                    RuntimeWarning,
                    stacklevel=3,
                )
    return _state.get("ops")


def build_error() -> Optional[str]:
    """Why the compiled loops could not be built in this process, or None (built, or not tried)."""
    return _state.get("error")


def for_tensors(*tensors: torch.Tensor) -> Optional[object]:
    """The compiled operators if they apply to these tensors (all on the CPU, one dtype of
    float32/float64) and are available, else None (run the Python loop)."""
    dtype = tensors[0].dtype
    if dtype not in _DTYPES or any(t.device.type != "cpu" or t.dtype != dtype for t in tensors):
        return None
    return compiled()
