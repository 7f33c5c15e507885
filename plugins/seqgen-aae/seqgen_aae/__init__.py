"""seqgen-aae: adversarial autoencoders (Makhzani et al. 2016, arXiv 1511.05644) for images and
sequences, as a seqgen plugin.

A GRU encoder maps each sequence to one code ``z``; a decoder GRU generates the sequence step by
step from ``z``; a discriminator on ``z`` makes the aggregated posterior match a prior that need
only be sampled. Trained by TrainOps through a three-phase ``PhasedObjective``. Registered as the
``aae`` entry point of ``seqgen.models``::

    model = seqgen.load_model("aae", obs_dim=784, z_dim=8)      # an image: a sequence of one step
    seqgen.TrainOps(model, seqgen_aae.train_config(epochs=20)).fit(train)
"""

from __future__ import annotations

from typing import Any

import seqgen

from .adversarial import check_labels, discriminator_loss, evaluate, generator_loss, label_one_hot, phased_objective, reconstruction_loss
from .args import boolean
from .components import check_components, default_components, make_agent, make_decoder
from .config import AAEConfig, CONTEXT_KINDS, ENCODER_KINDS, OBS_KINDS
from .data import mnist_images, windows
from .evaluation import discriminative_score
from .model import AAEModel, AAEState
from .networks import Discriminator, SequenceEncoder
from .priors import PRIORS, CategoricalPrior, GaussianPrior, MixturePrior, Prior, SwissRollPrior, UniformPrior, make_prior

__version__ = "0.1.0"

__all__ = [
    "SPEC",
    "AAEConfig",
    "AAEModel",
    "AAEState",
    "OBS_KINDS",
    "ENCODER_KINDS",
    "CONTEXT_KINDS",
    "Prior",
    "GaussianPrior",
    "UniformPrior",
    "MixturePrior",
    "SwissRollPrior",
    "CategoricalPrior",
    "PRIORS",
    "make_prior",
    "SequenceEncoder",
    "Discriminator",
    "default_components",
    "make_decoder",
    "make_agent",
    "check_components",
    "reconstruction_loss",
    "discriminator_loss",
    "generator_loss",
    "evaluate",
    "phased_objective",
    "check_labels",
    "label_one_hot",
    "discriminative_score",
    "mnist_images",
    "windows",
    "boolean",
    "train_config",
    "TRAINING_DEFAULTS",
]

#: TrainOps settings the examples start from: minibatches of 100 (the paper's), a constant learning
#: rate (each phase's rate comes from AAEConfig; no schedule decays it within or across epochs).
TRAINING_DEFAULTS = {"batch_size": 100, "lr_schedule": "constant", "epochs": 20}


def train_config(**overrides: Any):
    """A :class:`seqgen.TrainConfig` from :data:`TRAINING_DEFAULTS` with ``overrides`` applied."""
    return seqgen.TrainConfig.from_dict({**TRAINING_DEFAULTS, **overrides})


SPEC = seqgen.ModelSpec(
    name="aae",
    model_cls=AAEModel,
    config_cls=AAEConfig,
    capabilities=AAEModel.capabilities,
    default_components=default_components,
    version=__version__,
    description="adversarial autoencoder (Makhzani et al. 2016): GRU encoder, one code per sequence, sample-only priors",
    test_config={
        "obs_dim": 3,
        "obs": "normal",
        "encoder": "gaussian",
        "z_dim": 2,
        "hidden": 8,
        "embed_dim": 4,
        "encoder_rnn": 8,
        "code_hidden": (8,),
        "context_dim": 4,
        "disc_hidden": (8,),
    },
)
