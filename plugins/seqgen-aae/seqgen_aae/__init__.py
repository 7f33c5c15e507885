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
    "SEQUENCE_SETTINGS",
    "SEQUENCE_EPOCHS",
]

#: TrainOps settings the examples start from: minibatches of 100 (the paper's), a constant learning
#: rate (each phase's rate comes from AAEConfig; no schedule decays it within or across epochs).
TRAINING_DEFAULTS = {"batch_size": 100, "lr_schedule": "constant", "epochs": 20}


#: The recurrent AAEs of the sequence study (``examples/aae_timeseries.py`` and
#: ``benchmarks/quality_aae.py``): ``AAEConfig`` fields per data set, ``N(0, I)`` prior.
#: Lorenz: a Normal decoder that reads only the code (``context='none'``: ``x_t = f_t(z) + noise`` is
#: how these data are made, a deterministic flow from the start seen through a noisy readout, so
#: sampled noise is never fed back), a Gaussian encoder. JSB: a Bernoulli decoder that also reads
#: the previous step (notes are held across steps); ``lr_generator=1e-3`` because at 2e-4 the
#: discriminator won outright and the codes stayed far from ``N(0, I)``, so prior draws decoded to
#: rolls with twice the data's notes (see the README).
SEQUENCE_SETTINGS = {
    "lorenz": dict(obs_dim=10, obs="normal", z_dim=8, hidden=64, context="none", encoder="gaussian", embed_dim=32,
                   encoder_rnn=64, code_hidden=(64,), disc_hidden=(64, 64), lr_generator=5e-4),
    "jsb": dict(obs_dim=88, obs="bernoulli", z_dim=16, hidden=128, context_dim=32, embed_dim=64, encoder_rnn=128,
                code_hidden=(128,), disc_hidden=(128, 128), lr_generator=1e-3),
}  # fmt: skip
#: Training epochs of the sequence study's figures, per data set.
SEQUENCE_EPOCHS = {"lorenz": 100, "jsb": 60}


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
