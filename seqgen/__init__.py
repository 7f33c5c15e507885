"""seqgen: generative models of sequences on PyTorch and Pyro.

Roles (``Agent``, ``Encoder``, ``Decoder``, ``DistModule``), one model API
(``SequenceModel``), one sampler (``GenCore`` / ``SequenceDistribution``), one training loop
(``TrainOps``), and models found as plugins (``load_model``). Importing seqgen has no side
effects: no plugin is imported until one is asked for.
"""

from .capabilities import KNOWN_CAPABILITIES
from .components.base import Agent, Decoder, DistModule, Encoder
from .config import Config, config, in_range, non_negative, non_negative_int, one_of, positive, positive_int
from .data.batch import SeqBatch
from .errors import (
    CapabilityError,
    CheckpointError,
    ConfigError,
    DataError,
    PluginError,
    SeqgenError,
    ShapeError,
    TrainingError,
    shape_message,
)
from .model import ElboTerms, SequenceModel
from .spec import ModelSpec
from .state import State, state
from .train.objectives import GradientObjective, LocalRuleObjective, LossOutput, Phase, PhasedObjective
from .validation import check_sequence, lengths_from_mask
from .amp import autocast_dtype, autocast_off

# --- components (decoders, encoders, agents)
from .components import (
    MLP,
    BernoulliDecoder,
    BetaDecoder,
    CategoricalDecoder,
    ChainAgent,
    ConstantAgent,
    ConvEncoder,
    EmbeddingEncoder,
    FlattenEncoder,
    GroupDecoder,
    GroupDistribution,
    HistoryAgent,
    MLPEncoder,
    NormalDecoder,
    ObservationAgent,
    OneHotEncoder,
    PolicyAgent,
)
# --- end components

# --- gencore
from .gencore import GenCore, Rollout
from .sequence_distribution import SequenceDistribution
# --- end gencore

# --- registry
from .registry import PluginInfo, available_models, list_plugins, load_model, load_spec, register, unregister
# --- end registry

# --- data
from .data import (
    CharTextDataset,
    CsvDataset,
    LorenzDataset,
    MNISTDataset,
    NpzDataset,
    PianoRollDataset,
    SequenceDataset,
    Vocabulary,
    collate,
    load_data,
)
# --- end data

# --- train
from .train import History, TrainConfig, TrainOps, seed_everything
# --- end train

# --- envs
from .envs import EnvCore, EnvState, Episodes, OptionalDependencyError, policy_of, reinforce_loss, rollout, split_observation, with_policy
# --- end envs

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "autocast_dtype",
    "autocast_off",
    "KNOWN_CAPABILITIES",
    "Agent",
    "Decoder",
    "DistModule",
    "Encoder",
    "Config",
    "config",
    "in_range",
    "non_negative",
    "non_negative_int",
    "one_of",
    "positive",
    "positive_int",
    "SeqBatch",
    "CapabilityError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "PluginError",
    "SeqgenError",
    "ShapeError",
    "TrainingError",
    "shape_message",
    "ElboTerms",
    "SequenceModel",
    "ModelSpec",
    "State",
    "state",
    "GradientObjective",
    "LocalRuleObjective",
    "LossOutput",
    "Phase",
    "PhasedObjective",
    "check_sequence",
    "lengths_from_mask",
    # --- components __all__
    "MLP",
    "BernoulliDecoder",
    "BetaDecoder",
    "CategoricalDecoder",
    "GroupDecoder",
    "GroupDistribution",
    "NormalDecoder",
    "ConvEncoder",
    "EmbeddingEncoder",
    "FlattenEncoder",
    "MLPEncoder",
    "OneHotEncoder",
    "ChainAgent",
    "ConstantAgent",
    "HistoryAgent",
    "ObservationAgent",
    "PolicyAgent",
    # --- end components __all__
    # --- gencore __all__
    "GenCore",
    "Rollout",
    "SequenceDistribution",
    # --- end gencore __all__
    # --- registry __all__
    "PluginInfo",
    "available_models",
    "list_plugins",
    "load_model",
    "load_spec",
    "register",
    "unregister",
    # --- end registry __all__
    # --- data __all__
    "CharTextDataset",
    "CsvDataset",
    "LorenzDataset",
    "MNISTDataset",
    "NpzDataset",
    "PianoRollDataset",
    "SequenceDataset",
    "Vocabulary",
    "collate",
    "load_data",
    # --- end data __all__
    # --- train __all__
    "History",
    "TrainConfig",
    "TrainOps",
    "seed_everything",
    # --- end train __all__
    # --- envs __all__
    "EnvCore",
    "EnvState",
    "Episodes",
    "OptionalDependencyError",
    "policy_of",
    "reinforce_loss",
    "rollout",
    "split_observation",
    "with_policy",
    # --- end envs __all__
]
