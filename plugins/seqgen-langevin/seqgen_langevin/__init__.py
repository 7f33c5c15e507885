"""seqgen-langevin: the Neural Langevin Machine (Yu, Huang & Huang 2025) as a seqgen plugin.

``P(x) ∝ exp(−½‖x − Jφ(x) − b‖² / T)``, sampled by Euler–Maruyama Langevin dynamics and trained
by the local asymmetric rule ``ΔJ_ij ∝ ⟨r_i φ(x_j)⟩_data − ⟨r_i φ(x_j)⟩_model`` (no backprop).
Registered as the ``langevin`` entry point of ``seqgen.models``::

    model = seqgen.load_model("langevin", num_neurons=784)
    seqgen.train.TrainOps(model, seqgen_langevin.train_config(epochs=100)).fit(train)
"""

from __future__ import annotations

from typing import Any, Mapping

import seqgen

from .config import LangevinConfig
from .data import mnist_states, states_dataset
from .dynamics import contrastive_statistics, drift, energy, langevin_, local_field
from .images import images_to_states, states_to_images
from .model import LangevinMachine, LangevinState

__version__ = "0.1.0"

__all__ = [
    "SPEC",
    "LangevinConfig",
    "LangevinMachine",
    "LangevinState",
    "train_config",
    "images_to_states",
    "states_to_images",
    "states_dataset",
    "mnist_states",
    "local_field",
    "energy",
    "drift",
    "langevin_",
    "contrastive_statistics",
    "STUDY_SETTINGS",
]

#: ``LangevinConfig`` overrides of the MNIST study (``examples/langevin_mnist.py`` and
#: ``benchmarks/quality_langevin.py`` apply them before their ``--set``): ``T = 0.1`` (at ``T = 1`` the
#: thermal noise alone keeps even real digits far from the quality goals) and persistent chains that
#: restart from noise with probability 0.02 per update (plain PCD never removes the spurious
#: attractors that noise falls into).
STUDY_SETTINGS = ("temperature=0.1", "chain_restart=0.02")

#: The original's optimizer settings (Yu, Huang & Huang 2025): plain SGD, lr 5e-4, weight decay 2e-6,
#: batches of 1000 images.
ORIGINAL_TRAINING = {"optimizer": "sgd", "lr": 5e-4, "weight_decay": 2e-6, "momentum": 0.0, "batch_size": 1000}


def train_config(**overrides: Any):
    """A ``seqgen.train.TrainConfig`` with the original's optimizer settings, ``overrides`` applied.

    With ``optimizer='sgd'`` and no momentum, torch's ``weight_decay=λ`` performs
    ``θ ← θ − lr·(−Δθ + λθ) = (1 − lr·λ)θ + lr·Δθ``: on plain SGD L2-coupled and decoupled decay
    are the same update, with a shrink of ``lr·λ`` per step (``1e-9`` at the defaults). A decay
    written as ``θ ← (1 − λ′)θ + lr·Δθ`` is ``weight_decay = λ′ / lr``. For Adam use
    ``optimizer='adamw'`` (decoupled: ``θ ← θ − lr·λ·θ − lr·Adam(g)``).
    """
    from seqgen.train import TrainConfig

    settings: Mapping[str, Any] = {**ORIGINAL_TRAINING, **overrides}
    if settings.get("optimizer") != "sgd" and "momentum" not in overrides:
        settings = {k: v for k, v in settings.items() if k != "momentum"}
    return TrainConfig.from_dict(settings)


def _default_components(config: LangevinConfig) -> Mapping[str, Any]:
    return {"agent": seqgen.ConstantAgent(0)}


SPEC = seqgen.ModelSpec(
    name="langevin",
    model_cls=LangevinMachine,
    config_cls=LangevinConfig,
    capabilities=LangevinMachine.capabilities,
    default_components=_default_components,
    version=__version__,
    description="Neural Langevin Machine (Yu, Huang & Huang 2025): Langevin sampling, local asymmetric learning rule",
    test_config={"num_neurons": 6, "num_model_chains": 8, "langevin_steps": 2, "gain": 1.0},
)
