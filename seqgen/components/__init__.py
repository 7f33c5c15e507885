"""The component roles and the stock components (DESIGN §1).

Roles: :class:`DistModule`, :class:`Decoder`, :class:`Encoder`, :class:`Agent` (``base``).
Stock components: :class:`MLP`; decoders (Bernoulli, MADE, Normal, Categorical, Beta, Group); encoders
(Flatten, MLP, Embedding, OneHot, Conv); agents (Observation, Constant, History, Chain, Policy) and
their state containers.
"""

from .agents import (
    ChainAgent,
    ChainAgentState,
    ConstantAgent,
    ConstantAgentState,
    HistoryAgent,
    HistoryAgentState,
    ObservationAgent,
    ObservationAgentState,
    PolicyAgent,
    PolicyAgentState,
)
from .base import Agent, Decoder, DistModule, Encoder
from .decoders import BernoulliDecoder, BetaDecoder, CategoricalDecoder, GroupDecoder, GroupDistribution, NormalDecoder
from .made import MADEBernoulli, MADEDecoder
from .encoders import ConvEncoder, EmbeddingEncoder, FlattenEncoder, MLPEncoder, OneHotEncoder
from .mlp import ACTIVATIONS, MLP

#: The stock decoders by observation kind (a model's ``obs`` config field): each is built as
#: ``DECODERS[obs](in_dim, obs_dim, hidden=...)``, ``obs_dim`` being the vocabulary size for tokens.
DECODERS = {
    "bernoulli": BernoulliDecoder,
    "made": MADEDecoder,
    "normal": NormalDecoder,
    "categorical": CategoricalDecoder,
    "beta": BetaDecoder,
}

__all__ = [
    "Agent",
    "Decoder",
    "DistModule",
    "Encoder",
    "MLP",
    "ACTIVATIONS",
    "BernoulliDecoder",
    "NormalDecoder",
    "CategoricalDecoder",
    "BetaDecoder",
    "GroupDecoder",
    "GroupDistribution",
    "MADEDecoder",
    "MADEBernoulli",
    "DECODERS",
    "FlattenEncoder",
    "MLPEncoder",
    "EmbeddingEncoder",
    "OneHotEncoder",
    "ConvEncoder",
    "ObservationAgent",
    "ObservationAgentState",
    "ConstantAgent",
    "ConstantAgentState",
    "HistoryAgent",
    "HistoryAgentState",
    "ChainAgent",
    "ChainAgentState",
    "PolicyAgent",
    "PolicyAgentState",
]
