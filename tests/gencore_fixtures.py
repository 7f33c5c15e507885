"""A tiny exact-likelihood model for GenCore/SequenceDistribution tests (no built-ins needed).

``x_t ~ N(A x_{t-1} + b, 0.5² I)`` with ``x_0 = 0``: the context is the previous observation.
"""

import pyro.distributions as dist
import torch

import seqgen
from seqgen import Agent, Config, SequenceModel, State, config, state


@state
class PrevState(State):
    prev: torch.Tensor  # [batch, obs_dim]


class PrevAgent(Agent):
    """c_t = x_{t-1} (zeros at t = 0)."""

    input_dim = 0

    def __init__(self, obs_dim):
        super().__init__()
        self.context_dim = obs_dim
        self.obs_shape = torch.Size([obs_dim])

    def initial_state(self, batch_size, *, inputs=None, device=None, dtype=None):
        return PrevState(torch.zeros(batch_size, self.context_dim, device=device, dtype=dtype))

    def context(self, s):
        return s.prev, s

    def observe(self, s, x_t):
        return PrevState(x_t)

    def contexts(self, x, *, inputs=None):
        return torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1)  # [batch, time, obs_dim]


@config
class ARConfig(Config):
    obs_dim: int = 2


@state
class ARState(State):
    step: torch.Tensor  # [batch]


class GaussianAR(SequenceModel):
    config_cls = ARConfig
    capabilities = frozenset({"log_prob", "generate", "forecast", "gradient"})

    def __init__(self, cfg=ARConfig()):
        super().__init__(cfg)
        self.A = torch.nn.Linear(cfg.obs_dim, cfg.obs_dim)
        self.agent = PrevAgent(cfg.obs_dim)

    @property
    def obs_shape(self):
        return torch.Size([self.config.obs_dim])

    @property
    def has_rsample(self):
        return True

    def _dist(self, c):
        return dist.Normal(self.A(c), 0.5).to_event(1)

    def initial_state(self, batch_size):
        return ARState(torch.zeros(batch_size, device=self.device))

    def prior_step(self, s, c_t):
        return self._dist(c_t), ARState(s.step + 1)

    def observe(self, s, x_t):
        return s

    def _log_prob(self, x, context, mask, lengths):
        return (self._dist(self.agent.contexts(x)).log_prob(x) * mask).sum(1)  # [batch]

    def _condition(self, x, context, mask, lengths):
        return ARState(lengths.to(x.dtype))
