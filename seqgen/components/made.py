"""``MADEDecoder``: dependent bits, ``p(x | f) = Π_k Bern(x_k; σ(ℓ_k(f, x_{<k})))``.

A factorised Bernoulli decoder treats the keys of a piano roll (or the pixels of an image) as
independent given the features, so chords must be explained by the features alone. This decoder
keeps the exact likelihood and lets each bit depend on the bits before it, with one masked
autoencoder (MADE; Germain, Gregor, Murray & Larochelle, ICML 2015) whose biases come from the
features, as the RNN-NADE of Boulanger-Lewandowski, Bengio & Vincent (ICML 2012) conditions a
NADE on an RNN state:

    [b, c] = MLP(f)                                   b: [*, D] output biases, c: [*, H] hidden biases
    u      = relu(c + (M_in ⊙ W_in) x)                hidden unit h sees x_j for j < m(h)
    ℓ      = b + (M_out ⊙ W_out) u + (M_dir ⊙ A) x    ℓ_k sees units with m(h) ≤ k, and x_j for j < k

with 0-based bits ``k = 0 … D-1``, hidden degrees ``m(h) = 1 + (h mod (D-1))`` (each in 1 … D-1;
``D = 1`` has no hidden units), ``M_dir`` strictly lower-triangular. ``ℓ_k`` therefore depends on
``x_{<k}`` only, and ``log p(x | f) = Σ_k log Bern(x_k; σ(ℓ_k))`` is computed for every step at
once (two masked matmuls). Sampling runs over the D bits in order, updating the hidden
pre-activations with one column of ``W_in`` per bit.
"""

from __future__ import annotations

from typing import Sequence

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import constraints

from .decoders import _BitsDecoder
from .mlp import check_int

__all__ = ["MADEDecoder", "MADEBernoulli"]


def made_masks(obs_dim: int, made_hidden: int):
    """``(M_in [H, D], M_out [D, H], M_dir [D, D])`` as float 0/1 tensors for the degrees above."""
    if obs_dim == 1:
        made_hidden = 0
    degree = 1 + torch.arange(made_hidden) % max(obs_dim - 1, 1)  # [H], each in 1 … D-1
    bit = torch.arange(obs_dim)  # [D]
    m_in = (bit[None, :] < degree[:, None]).float()  # unit h reads x_j, j < m(h)
    m_out = (degree[None, :] <= bit[:, None]).float()  # bit k reads unit h, m(h) <= k
    m_dir = (bit[None, :] < bit[:, None]).float()  # bit k reads x_j, j < k
    return m_in, m_out, m_dir


class MADEDecoder(_BitsDecoder):
    """Dependent bits (see the module docstring): ``features: [*, in_dim] -> params [*, obs_dim + made_hidden]``.

    in_dim: feature width; obs_dim: number of bits ``D``; hidden: the feature MLP's hidden layers
    (the MLP that gives the biases); made_hidden: ``H``, the masked autoencoder's hidden units
    (set to 0 when ``D = 1``). Values are 0./1. floats, event ``(obs_dim,)``.
    """

    def __init__(self, in_dim: int, obs_dim: int, *, hidden: Sequence[int] = (), made_hidden: int = 128):
        name = "MADEDecoder"
        obs_dim = check_int(name, "obs_dim", obs_dim)
        m_in, m_out, m_dir = made_masks(obs_dim, check_int(name, "made_hidden", made_hidden, minimum=0))
        super().__init__(in_dim, obs_dim + m_in.shape[0], hidden)
        self.obs_dim, self.made_hidden = obs_dim, m_in.shape[0]
        self.event_shape = torch.Size([obs_dim])
        self.register_buffer("mask_in", m_in, persistent=False)
        self.register_buffer("mask_out", m_out, persistent=False)
        self.register_buffer("mask_dir", m_dir, persistent=False)
        # nn.Linear's uniform initialisation, with the fan-in each unit actually reads
        self.w_in = nn.Parameter(_uniform(self.made_hidden, obs_dim, fan_in=m_in.sum(1)))
        self.w_out = nn.Parameter(_uniform(obs_dim, self.made_hidden, fan_in=m_out.sum(1)))
        self.w_dir = nn.Parameter(torch.zeros(obs_dim, obs_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self._head(features)

    def dist(self, params: torch.Tensor) -> "MADEBernoulli":
        return MADEBernoulli(params, self.w_in * self.mask_in, self.w_out * self.mask_out, self.w_dir * self.mask_dir)


def _uniform(rows: int, cols: int, *, fan_in: torch.Tensor) -> torch.Tensor:
    """``U(−1/√fan_in, 1/√fan_in)`` per row (``fan_in: [rows]``, at least 1)."""
    bound = fan_in.clamp(min=1).rsqrt()[:, None]
    return (2 * torch.rand(rows, cols) - 1) * bound


class MADEBernoulli(dist.TorchDistribution):
    """The distribution of :class:`MADEDecoder`: batch ``params.shape[:-1]``, event ``(D,)``.

    params: ``[*batch, D + H]`` (output biases, then hidden biases); w_in ``[H, D]``, w_out
    ``[D, H]``, w_dir ``[D, D]``: the weights with their masks already applied.
    """

    arg_constraints = {}
    support = constraints.independent(constraints.boolean, 1)

    def __init__(self, params: torch.Tensor, w_in: torch.Tensor, w_out: torch.Tensor, w_dir: torch.Tensor, *, validate_args=None):
        self.params, self.w_in, self.w_out, self.w_dir = params, w_in, w_out, w_dir
        obs_dim = w_dir.shape[0]
        super().__init__(params.shape[:-1], torch.Size([obs_dim]), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(MADEBernoulli, _instance)
        batch_shape = torch.Size(batch_shape)
        new.params = self.params.expand(batch_shape + self.params.shape[-1:])
        new.w_in, new.w_out, new.w_dir = self.w_in, self.w_out, self.w_dir
        super(MADEBernoulli, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def logits(self, value: torch.Tensor) -> torch.Tensor:
        """``value: [*sample, *batch, D] -> ℓ [*sample, *batch, D]``, ``ℓ_k`` a function of ``value_{<k}``."""
        d = self.event_shape[0]
        bias, hidden_bias = self.params[..., :d], self.params[..., d:]
        value = value.to(self.params.dtype)
        units = torch.relu(hidden_bias + value @ self.w_in.T)
        return bias + units @ self.w_out.T + value @ self.w_dir.T

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``value: [*sample, *batch, D] -> [*sample, *batch]``."""
        if self._validate_args:
            self._validate_sample(value)
        logits = self.logits(value)
        return -F.binary_cross_entropy_with_logits(logits, value.to(logits.dtype).expand_as(logits), reduction="none").sum(-1)

    def sample(self, sample_shape=torch.Size()) -> torch.Tensor:
        """Bits in order ``k = 0 … D-1``, each drawn given the ones before it."""
        shape = self._extended_shape(sample_shape)
        d = self.event_shape[0]
        with torch.no_grad():
            params = self.params.expand(shape[:-1] + self.params.shape[-1:])
            bias, pre = params[..., :d], params[..., d:].clone()  # pre: the hidden pre-activations
            x = params.new_zeros(shape)
            for k in range(d):
                logit = bias[..., k] + torch.relu(pre) @ self.w_out[k] + x[..., :k] @ self.w_dir[k, :k]
                x[..., k] = torch.bernoulli(torch.sigmoid(logit))
                pre.add_(x[..., k, None] * self.w_in[:, k])
            return x

    @property
    def mean(self) -> torch.Tensor:
        raise NotImplementedError("MADEBernoulli has no closed-form mean; average samples instead")
