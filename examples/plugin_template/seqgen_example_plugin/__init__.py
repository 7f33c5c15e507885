"""seqgen-example-plugin: a Gaussian autoregressive model, found by seqgen as ``example_ar``.

The distribution's ``pyproject.toml`` declares the entry point::

    [project.entry-points."seqgen.models"]
    example_ar = "seqgen_example_plugin:SPEC"

so ``seqgen.load_model("example_ar", obs_dim=3)`` builds a :class:`GaussianAR` once this package
is installed, and ``seqgen plugins`` lists it. Only public ``seqgen`` names are used.
"""

import seqgen

from .model import ARState, GaussianAR, GaussianARConfig

__version__ = "0.1.0"

SPEC = seqgen.ModelSpec(
    name="example_ar",
    model_cls=GaussianAR,
    config_cls=GaussianARConfig,
    capabilities=GaussianAR.capabilities,
    version=__version__,
    description="Gaussian AR(1): x_t ~ N(A x_{t-1} + b, diag sigma^2), exact log-likelihood",
    test_config={"obs_dim": 3},
)

__all__ = ["SPEC", "GaussianAR", "GaussianARConfig", "ARState", "__version__"]
