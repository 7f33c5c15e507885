"""Tiny models of every objective kind for the TrainOps tests (no built-in models needed).

- :class:`GaussianAR1`: ``x_t ~ N(a ⊙ x_{t-1} + b, diag σ²)``, ``x_0 = 0`` (exact ``log_prob``;
  exact under right padding, where hidden steps come only after the last observed one).
- :class:`TinyLatent`: ``z_t ~ N(0, I)``, ``x_t ~ N(W z_t + b, diag σ²)``, ``q(z_t | x_t) =
  N(A x_t + c, diag s²)``; a one-sample reparameterised ELBO (draws from torch's global RNG, so
  it exercises seeding and RNG restoration) with an analytic KL (exercises KL annealing).
- :class:`TinyPhased`: iid ``x_t ~ N(μ, diag σ²)`` trained by two phases, ``'mean'`` (SGD on μ)
  and ``'scale'`` (Adam on log σ), each loss being the full NLL so gradients reach both groups.
- :class:`TinyLocalRule`: ``μ`` moved towards the batch mean by the descent direction
  ``μ - x̄`` (no backprop); ``frozen`` never gets a direction.
"""

from __future__ import annotations

from typing import Iterable

import attrs
import pyro.distributions as dist
import torch
from torch import nn

from seqgen import Config, LossOutput, SeqBatch, SequenceModel, State, config, positive_int, state
from seqgen.model import ElboTerms
from seqgen.train.objectives import LocalRuleObjective, Phase, PhasedObjective


@config
class ObsConfig(Config):
    obs_dim: int = attrs.field(default=2, validator=positive_int)


@state
class PrevState(State):
    prev: torch.Tensor  # [batch, obs_dim]


class _Base(SequenceModel):
    config_cls = ObsConfig

    @property
    def obs_shape(self):
        return torch.Size([self.config.obs_dim])

    def initial_state(self, batch_size):
        return PrevState(torch.zeros(batch_size, self.config.obs_dim, device=self.device))

    def observe(self, s, x_t):
        return PrevState(x_t)


def _masked_sum(per_step: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (per_step * mask).sum(1)  # [batch, time] -> [batch]


class GaussianAR1(_Base):
    capabilities = frozenset({"log_prob", "generate", "gradient"})

    def __init__(self, cfg: ObsConfig = ObsConfig()):
        super().__init__(cfg)
        d = cfg.obs_dim
        self.coef = nn.Parameter(torch.full((d,), 0.1))
        self.bias = nn.Parameter(torch.zeros(d))
        self.log_scale = nn.Parameter(torch.zeros(d))
        self.poison_calls: set = set()  # loss_fn call numbers (1-based) that return a NaN 'nll'
        self.calls = 0

    def _dist(self, prev):
        return dist.Normal(self.coef * prev + self.bias, self.log_scale.exp()).to_event(1)

    def prior_step(self, s, context_t):
        return self._dist(s.prev), s

    def _log_prob(self, x, context, mask, lengths):
        prev = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1)  # [batch, time, obs_dim]
        return _masked_sum(self._dist(prev).log_prob(x), mask)

    def _nll_loss(self, batch, kl_weight):
        self.calls += 1
        out = super()._nll_loss(batch, kl_weight)
        if self.calls in self.poison_calls:
            nll = out.loss * float("nan")
            return LossOutput(loss=nll, metrics={"nll": nll.detach()}, terms={"nll": nll})
        return out


class TinyLatent(_Base):
    capabilities = frozenset({"elbo", "gradient"})

    def __init__(self, cfg: ObsConfig = ObsConfig()):
        super().__init__(cfg)
        d = cfg.obs_dim
        self.dec = nn.Linear(d, d)
        self.enc = nn.Linear(d, d)
        self.log_sx = nn.Parameter(torch.zeros(d))
        self.log_sq = nn.Parameter(torch.full((d,), -1.0))

    def prior_step(self, s, context_t):
        z = torch.randn_like(s.prev)
        return dist.Normal(self.dec(z), self.log_sx.exp()).to_event(1), s

    def _elbo_terms(self, x, context, mask, lengths):
        loc = self.enc(x)  # [batch, time, d]
        scale = self.log_sq.exp().expand_as(loc)
        z = loc + scale * torch.randn_like(loc)  # reparameterised sample from q
        log_lik = dist.Normal(self.dec(z), self.log_sx.exp()).log_prob(x).sum(-1)  # [batch, time]
        kl = torch.distributions.kl_divergence(dist.Normal(loc, scale), dist.Normal(torch.zeros_like(loc), 1.0)).sum(-1)
        steps = torch.arange(x.shape[1], device=x.device)
        latent = (steps < lengths[:, None]).to(x.dtype)  # [batch, time]
        return ElboTerms(log_lik=_masked_sum(log_lik, mask), kl=_masked_sum(kl, latent))


def _iid_nll(x, mask, mu, log_sigma, n):
    lp = dist.Normal(mu, log_sigma.exp()).log_prob(x).sum(-1)  # [batch, time]
    return -_masked_sum(lp, mask).sum() / n


class TinyPhased(_Base):
    capabilities = frozenset({"log_prob", "adversarial"})
    mean_lr, scale_lr, scale_betas = 0.1, 0.05, (0.5, 0.9)

    def __init__(self, cfg: ObsConfig = ObsConfig()):
        super().__init__(cfg)
        self.mu = nn.Parameter(torch.zeros(cfg.obs_dim))
        self.log_sigma = nn.Parameter(torch.zeros(cfg.obs_dim))

    def prior_step(self, s, context_t):
        return dist.Normal(self.mu, self.log_sigma.exp()).expand([s.prev.shape[0], self.config.obs_dim]).to_event(1), s

    def _log_prob(self, x, context, mask, lengths):
        return _masked_sum(dist.Normal(self.mu, self.log_sigma.exp()).log_prob(x).sum(-1), mask)

    def _phase_loss(self, batch):
        nll = _iid_nll(batch.x, batch.mask, self.mu, self.log_sigma, batch.num_observed)
        return LossOutput(loss=nll, metrics={"nll": nll.detach()}, terms={"nll": nll})

    def objective(self):
        return PhasedObjective(
            phases=(
                Phase(name="mean", parameters=(self.mu,), loss_fn=self._phase_loss, lr=self.mean_lr, optimizer="sgd"),
                Phase(name="scale", parameters=(self.log_sigma,), loss_fn=self._phase_loss, lr=self.scale_lr, optimizer="adam", betas=self.scale_betas),
            ),
            eval_fn=self.evaluate_batch,
        )


class TinyLocalRule(_Base):
    capabilities = frozenset({"local_rule"})

    def __init__(self, cfg: ObsConfig = ObsConfig()):
        super().__init__(cfg)
        self.mu = nn.Parameter(torch.zeros(cfg.obs_dim))
        self.frozen = nn.Parameter(torch.ones(cfg.obs_dim))
        self.extra_grads: dict = {}  # merged into the statistics' grads (to test bad keys/shapes)

    def prior_step(self, s, context_t):
        return dist.Normal(self.mu, 1.0).expand([s.prev.shape[0], self.config.obs_dim]).to_event(1), s

    def _batch_mean(self, batch):
        w = batch.mask.unsqueeze(-1).to(batch.x.dtype)  # [batch, time, 1]
        return (batch.x * w).sum((0, 1)) / batch.num_observed  # [obs_dim]

    def _statistics(self, batch):
        direction = self.mu - self._batch_mean(batch)  # ∇_μ ½‖μ - x̄‖²
        sq = 0.5 * direction.pow(2).sum()
        return LossOutput(loss=sq, metrics={"sq_dist": sq}, terms={"sq_dist": sq}, grads={"mu": direction, **self.extra_grads})

    def _eval(self, batch):
        nll = _iid_nll(batch.x, batch.mask, self.mu, torch.zeros_like(self.mu), batch.num_observed)
        return LossOutput(loss=nll, metrics={"nll": nll})

    def objective(self):
        return LocalRuleObjective(statistics_fn=self._statistics, eval_fn=self._eval)


# ------------------------------------------------------------------ data
def ar1_batch(n: int = 32, time: int = 10, obs_dim: int = 2, *, seed: int = 0, ragged: bool = False) -> SeqBatch:
    """``n`` sequences from ``x_t = 0.7 x_{t-1} + 0.3 + 0.5 ε``; ``ragged``: random lengths, right-padded."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, time, obs_dim)
    prev = torch.zeros(n, obs_dim)
    for t in range(time):
        prev = 0.7 * prev + 0.3 + 0.5 * torch.randn(n, obs_dim, generator=g)
        x[:, t] = prev
    if not ragged:
        return SeqBatch.from_tensor(x)
    lengths = torch.randint(max(1, time // 3), time + 1, (n,), generator=g)
    mask = torch.arange(time)[None, :] < lengths[:, None]  # [n, time]
    return SeqBatch.from_tensor(x * mask[..., None], mask)


def stack_collate(items: Iterable[torch.Tensor]) -> SeqBatch:
    """Equal-length ``[time, obs_dim]`` tensors -> a SeqBatch (for list-of-tensor datasets)."""
    return SeqBatch.from_tensor(torch.stack(list(items)))


def params_of(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
