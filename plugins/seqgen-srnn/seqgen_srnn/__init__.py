"""seqgen-srnn: the stochastic recurrent network (SRNN) of Fraccaro, Sønderby, Paquet & Winther,
"Sequential Neural Models with Stochastic Layers" (NeurIPS 2016), as a seqgen model plugin.

Registered as ``[project.entry-points."seqgen.models"] srnn = "seqgen_srnn:SPEC"``.
"""

from __future__ import annotations

import seqgen

from .components import default_components
from .config import SRNNConfig
from .model import SRNN, SRNNState

__version__ = "0.1.0"

__all__ = ["SPEC", "SRNN", "SRNNConfig", "SRNNState", "default_components", "__version__"]

SPEC = seqgen.ModelSpec(
    name="srnn",
    model_cls=SRNN,
    config_cls=SRNNConfig,
    capabilities=SRNN.capabilities,
    default_components=default_components,
    version=__version__,
    description="stochastic recurrent network (Fraccaro et al. 2016): GRU + stochastic z chain, smoothing inference",
    test_config={"obs_dim": 3, "z_dim": 2, "d_dim": 8, "a_dim": 8, "mlp_hidden": 8, "decoder_hidden": (8,)},
)
