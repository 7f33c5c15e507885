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
