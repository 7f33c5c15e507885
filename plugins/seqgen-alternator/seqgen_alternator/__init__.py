"""seqgen-alternator: the alternators of Rezaei & Dieng, "Alternators for Sequence Modeling"
(TMLR 2025, arXiv 2405.11848), as a seqgen model plugin.

Registered as ``[project.entry-points."seqgen.models"] alternator = "seqgen_alternator:SPEC"``.
"""

from __future__ import annotations

import seqgen

from .components import check_network, default_components
from .config import AlternatorConfig
from .model import Alternator, AlternatorState
from .scan import linear_scan, linear_scan_loop

__version__ = "0.1.0"

__all__ = [
    "SPEC",
    "Alternator",
    "AlternatorConfig",
    "AlternatorState",
    "default_components",
    "check_network",
    "linear_scan",
    "linear_scan_loop",
    "__version__",
]

SPEC = seqgen.ModelSpec(
    name="alternator",
    model_cls=Alternator,
    config_cls=AlternatorConfig,
    capabilities=Alternator.capabilities,
    default_components=default_components,
    version=__version__,
    description="alternator (Rezaei & Dieng 2025): observation and feature networks alternating over time",
    test_config={"obs_dim": 3, "z_dim": 2, "hidden": (8,), "sigma_x": 0.5, "sigma_z": 0.3, "alpha": 0.4, "eval_paths": 2, "infer_paths": 4},
)
