"""Random-number state: seeding, and capturing/restoring it for exact resumption.

Training draws from four generators: torch's CPU generator, torch's CUDA generators, numpy's
legacy global generator and Python's ``random``. :func:`seed_everything` seeds all four;
:func:`capture_rng` returns their states as uint8 tensors (torch, for the safetensors file) and
plain JSON values (numpy, Python); :func:`restore_rng` puts them back. CUDA states are captured
only when CUDA has been initialised, so a CPU run never starts a CUDA context.
"""

from __future__ import annotations

import random
from typing import Any, Dict, Mapping, Tuple

import numpy as np
import torch

__all__ = ["seed_everything", "capture_rng", "restore_rng"]


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and every CUDA device), numpy's global generator and Python's ``random``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng() -> Tuple[Dict[str, torch.Tensor], Dict[str, Any]]:
    """``(tensors, json)``: torch states as uint8 tensors, numpy/Python states as JSON values."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i in range(torch.cuda.device_count()):
            tensors[f"cuda/{i}"] = torch.cuda.get_rng_state(i)
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    meta = {
        "numpy": {"kind": kind, "keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }
    return tensors, meta


def restore_rng(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
    """Put back states from :func:`capture_rng` (CUDA states only for devices present)."""
    torch.set_rng_state(tensors["torch_cpu"].to(torch.uint8).cpu())
    if torch.cuda.is_available():
        for key, state in tensors.items():
            if key.startswith("cuda/") and int(key.split("/", 1)[1]) < torch.cuda.device_count():
                torch.cuda.set_rng_state(state.to(torch.uint8).cpu(), int(key.split("/", 1)[1]))
    npm = meta["numpy"]
    np.random.set_state((npm["kind"], np.asarray(npm["keys"], dtype=np.uint32), npm["pos"], npm["has_gauss"], npm["cached_gaussian"]))
    py = meta["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))
