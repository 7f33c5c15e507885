"""``SequenceModel``: the one abstract API every sequence model implements (DESIGN §2).

Implementing a new model
------------------------
1. Declare a config: ``@seqgen.config class MyConfig(seqgen.Config)`` with validated fields.
2. Subclass ``SequenceModel``; set ``config_cls`` and ``capabilities`` (words from
   :mod:`seqgen.capabilities`).
3. Implement the abstract members: ``obs_shape``, ``initial_state``, ``prior_step``, ``observe``.
4. For each capability, implement its hook (the public method in this base validates the input,
   checks the capability, and calls the hook with clean tensors):

   =============  =====================================================================
   capability     hook(s)
   =============  =====================================================================
   ``elbo``       ``_elbo_terms(x, context, mask, lengths) -> ElboTerms`` (per sequence)
   ``log_prob``   ``_log_prob(x, context, mask, lengths) -> [batch]``
   ``iwae``       ``_iwae(x, context, mask, lengths, num_particles) -> [batch]``
   ``latents``    ``_infer(x, context, mask, lengths) -> Mapping[str, Tensor]``
   ``pyro``       ``_model(x, context, mask)`` and ``_guide(x, context, mask)``
   ``forecast``   ``_condition(x, context, mask, lengths) -> State`` (state after the prefix)
   ``impute``     ``_impute(x, context, mask, lengths) -> x_filled`` (a default is given)
   =============  =====================================================================

   Latent models (``latents`` with ``generate``) also keep the sampling prior honest: after each
   full step (``prior_step`` then ``observe``) their state has fields ``z`` (``[batch, z_dim]``, the
   step's latent) and ``z_log_prob`` (``[batch]``, its log-density under the distribution it was
   drawn from), and they implement ``_prior_log_prob(x, z, context, mask, lengths) -> [batch, time]``,
   the teacher-forced ``log p(z_t | z_{<t}, x_{<t})`` exactly as the ELBO uses it. The conformance
   kit checks that the two agree step by step on generated sequences.

Inherited behaviour: ``objective()`` (the ELBO with KL annealing, or the exact NLL),
``evaluate_batch``, ``distribution`` (a Pyro distribution over whole sequences),
``forecast`` (from ``_condition`` and GenCore), input validation, capability errors.

Shapes: ``x: [batch, time, *obs_shape]``, ``mask: [batch, time]`` (bool, True = observed),
``context: [batch, time, input_dim]`` (given inputs to the agent), results ``[batch]`` are sums
over a sequence's observed steps (nats per sequence); per-step figures divide by ``mask.sum()``.

Masks: masked steps are zero-filled before any hook sees ``x``; likelihood terms count only
observed steps; latent (KL) terms count steps ``t < lengths`` (a hole inside a sequence still
has a latent), so padding a sequence on the right never changes a result.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Mapping, Optional, Tuple

import attrs
import torch
from torch import nn
from torch.distributions import constraints

from .capabilities import validate_capabilities
from .components.base import Agent
from .data.batch import SeqBatch
from .errors import CapabilityError, ConfigError
from .state import State
from .train.objectives import GradientObjective, LossOutput, Objective
from .validation import check_sequence

__all__ = ["SequenceModel", "ElboTerms"]


@attrs.frozen(kw_only=True)
class ElboTerms:
    """Per-sequence ELBO pieces: ``elbo = log_lik - kl``.

    log_lik: ``[batch]`` ``Σ_{t observed} E_q[log p(x_t | …)]``.
    kl:      ``[batch]`` ``Σ_{t < length} KL(q_t ‖ p_t)`` (analytic or a one-sample estimate).
    """

    log_lik: torch.Tensor
    kl: torch.Tensor


class SequenceModel(nn.Module, abc.ABC):
    """Abstract base of every sequence model (see the module docstring for the contract).

    Class attributes: ``config_cls`` (a frozen attrs :class:`~seqgen.Config`), ``capabilities``
    (frozenset of capability words). Instance attributes: ``config``, ``agent`` (the default
    :class:`~seqgen.Agent`, or None for models that take no context).
    """

    config_cls: ClassVar[type]
    capabilities: ClassVar[frozenset] = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.capabilities = validate_capabilities(cls.capabilities, owner=f"{cls.__name__}.capabilities")

    def __init__(self, config: Any):
        super().__init__()
        cls = getattr(type(self), "config_cls", None)
        if cls is not None and not isinstance(config, cls):
            raise ConfigError(
                "config",
                f"config: expected {cls.__name__}, got {type(config).__name__}",
                f"build it with {cls.__name__}(...) or {cls.__name__}.from_dict(...)",
            )
        self.config = config
        self.agent: Optional[Agent] = None

    # ------------------------------------------------------------------ abstract per-step API
    @property
    @abc.abstractmethod
    def obs_shape(self) -> torch.Size:
        """Shape of one step's observation (``()`` for tokens)."""

    @abc.abstractmethod
    def initial_state(self, batch_size: int) -> State:
        """The model's state before the first step (on the model's device)."""

    @abc.abstractmethod
    def prior_step(self, state: State, context_t: Optional[torch.Tensor]) -> Tuple[torch.distributions.Distribution, State]:
        """Sample this step's latents from the prior; return ``p(x_t | …)`` (batch ``[batch]``) and the state."""

    @abc.abstractmethod
    def observe(self, state: State, x_t: torch.Tensor) -> State:
        """Update the state with ``x_t: [batch, *obs_shape]`` (sampled or seen)."""

    # ------------------------------------------------------------------ observation facts
    @property
    def obs_support(self) -> constraints.Constraint:
        """Support of one observation (from the decoder where there is one)."""
        dec = getattr(self, "decoder", None)
        return dec.support if dec is not None else constraints.real

    @property
    def obs_discrete(self) -> bool:
        dec = getattr(self, "decoder", None)
        return bool(dec.is_discrete) if dec is not None else False

    @property
    def input_dim(self) -> int:
        """Width of the given per-step inputs (``context=`` argument); 0 when none are taken."""
        return int(self.agent.input_dim) if self.agent is not None else 0

    @property
    def has_rsample(self) -> bool:
        """True when every sampling step is reparameterisable (enables ``rsample``)."""
        return False

    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        for t in self.parameters():
            if t.is_floating_point():
                return t.dtype
        return torch.get_default_dtype()

    # ------------------------------------------------------------------ helpers
    def require(self, capability: str, hint: Optional[str] = None) -> None:
        """Raise CapabilityError unless ``capability`` is declared."""
        if capability not in self.capabilities:
            raise CapabilityError(type(self).__name__, capability, self.capabilities, hint)

    def check_inputs(self, x, *, mask=None, context=None, argument: str = "x"):
        """Validate ``(x, mask, context)`` -> ``(x, mask, lengths, context)`` (see :func:`check_sequence`).

        The returned tensors are on the model's device; ``x`` is long tokens for a discrete decoder
        over scalars (text), otherwise floats of the model's dtype (bits included); ``context`` too.
        """
        dec = getattr(self, "decoder", None)
        x, mask, lengths, context = check_sequence(
            x,
            obs_shape=self.obs_shape,
            discrete=self.obs_discrete,
            # a decoder checks its own support with a message naming the bad value
            support=self.obs_support if dec is None else constraints.real,
            mask=mask,
            context=context,
            input_dim=self.input_dim,
            argument=argument,
        )
        if dec is not None:
            dec.check_values(x[mask], argument)
        # the dtype components read: long tokens for a discrete decoder over scalars, else the model's floats
        token = dec is not None and dec.is_discrete and len(dec.obs_shape) == 0
        x = x.to(self.device, torch.long if token else self.dtype)
        context = None if context is None else context.to(self.device, self.dtype)
        return x, mask.to(self.device), lengths.to(self.device), context

    # ------------------------------------------------------------------ whole-sequence API
    def elbo(self, x, *, context=None, mask=None) -> torch.Tensor:
        """Evidence lower bound per sequence, ``[batch]`` nats (a bound, summed over observed steps)."""
        self.require("elbo")
        x, mask, lengths, context = self.check_inputs(x, mask=mask, context=context)
        t = self._elbo_terms(x, context, mask, lengths)
        return t.log_lik - t.kl

    def log_prob(self, x, *, context=None, mask=None) -> torch.Tensor:
        """Exact ``log p(x_observed)`` per sequence, ``[batch]`` nats."""
        self.require("log_prob", "use elbo(x) or iwae(x, num_particles) for a bound")
        x, mask, lengths, context = self.check_inputs(x, mask=mask, context=context)
        return self._log_prob(x, context, mask, lengths)

    def iwae(self, x, num_particles: int = 10, *, context=None, mask=None) -> torch.Tensor:
        """Importance-weighted estimate with ``num_particles`` samples, ``[batch]`` nats.

        ``log (1/K) Σ_k p(x, z_k)/q(z_k | x)`` over whole-sequence weights: a lower bound on
        ``log p(x)`` in expectation, non-decreasing in K.
        """
        self.require("iwae")
        if not isinstance(num_particles, int) or num_particles < 1:
            raise ConfigError("num_particles", f"'num_particles' must be an integer >= 1 (got {num_particles!r})")
        x, mask, lengths, context = self.check_inputs(x, mask=mask, context=context)
        return self._iwae(x, context, mask, lengths, num_particles)

    def infer(self, x, *, context=None, mask=None) -> Mapping[str, torch.Tensor]:
        """Posterior / filtered latents, e.g. ``{'z_loc': [batch, time, z_dim], 'z_scale': …}``."""
        self.require("latents")
        x, mask, lengths, context = self.check_inputs(x, mask=mask, context=context)
        return self._infer(x, context, mask, lengths)

    def model(self, x, *, context=None, mask=None):
        """The generative model as a Pyro program (sites ``z_t``, ``x_t``), observing ``x``."""
        self.require("pyro")
        x, mask, lengths, context = self.check_inputs(x, mask=mask, context=context)
        return self._model(x, context, mask)

    def guide(self, x, *, context=None, mask=None):
        """The inference network as a Pyro guide for :meth:`model`."""
        self.require("pyro")
        x, mask, lengths, context = self.check_inputs(x, mask=mask, context=context)
        return self._guide(x, context, mask)

    def prior_log_prob(self, x, z, *, context=None, mask=None) -> torch.Tensor:
        """``log p(z_t | z_{<t}, x_{<t})`` per step, ``[batch, time]``, as the ELBO's prior computes it.

        ``z: [batch, time, z_dim]``. Compared by the conformance kit with the densities recorded
        while sampling (``state.z_log_prob``), so sampling and training use one prior.
        """
        self.require("latents")
        x, mask, lengths, context = self.check_inputs(x, mask=mask, context=context)
        return self._prior_log_prob(x, z.to(self.device), context, mask, lengths)

    def condition(self, x_prefix, *, context=None, mask=None) -> State:
        """The model's state after seeing ``x_prefix`` (one posterior/filtered sample per sequence)."""
        self.require("forecast")
        x, mask, lengths, context = self.check_inputs(x_prefix, mask=mask, context=context, argument="x_prefix")
        return self._condition(x, context, mask, lengths)

    def forecast(self, x_prefix, num_steps: int, *, context=None, mask=None, agent=None) -> torch.Tensor:
        """Sample ``num_steps`` continuation steps after ``x_prefix``: ``[batch, num_steps, *obs_shape]``."""
        self.require("forecast")
        return self.distribution(num_steps, prefix=x_prefix, agent=agent).sample()

    def impute(self, x, mask, *, context=None) -> torch.Tensor:
        """``x`` with its unobserved steps (``mask == False``) filled by the model's samples."""
        self.require("impute")
        x, mask, lengths, context = self.check_inputs(x, mask=mask, context=context)
        return self._impute(x, context, mask, lengths)

    def distribution(self, num_steps: int, *, agent: Optional[Agent] = None, prefix=None, inputs=None):
        """A :class:`~seqgen.SequenceDistribution` over ``num_steps``-step sequences (DESIGN §3)."""
        self.require("generate")
        from .sequence_distribution import SequenceDistribution

        return SequenceDistribution(self, num_steps, agent=agent, prefix=prefix, inputs=inputs)

    # ------------------------------------------------------------------ training hooks
    def objective(self) -> Objective:
        """What TrainOps runs. Default: exact NLL (``log_prob``) or the KL-annealed negative ELBO."""
        if "log_prob" in self.capabilities:
            return GradientObjective(loss_fn=self._nll_loss, eval_fn=self.evaluate_batch)
        if "elbo" in self.capabilities:
            return GradientObjective(loss_fn=self._elbo_loss, eval_fn=self.evaluate_batch)
        raise CapabilityError(type(self).__name__, "objective", self.capabilities, "override objective()")

    def _nll_loss(self, batch: SeqBatch, kl_weight: float) -> LossOutput:
        lp = self.log_prob(batch.x, context=batch.inputs, mask=batch.mask)  # [batch]
        nll = -lp.sum() / batch.num_observed
        return LossOutput(loss=nll, metrics={"nll": nll.detach()}, terms={"nll": nll})

    def _elbo_loss(self, batch: SeqBatch, kl_weight: float) -> LossOutput:
        self.require("elbo")
        x, mask, lengths, context = self.check_inputs(batch.x, mask=batch.mask, context=batch.inputs)
        t = self._elbo_terms(x, context, mask, lengths)
        n = batch.num_observed
        rec = -t.log_lik.sum() / n
        kl = t.kl.sum() / n
        loss = rec + kl_weight * kl
        metrics = {"neg_elbo_bound": (rec + kl).detach(), "rec": rec.detach(), "kl": kl.detach()}
        return LossOutput(loss=loss, metrics=metrics, terms={"reconstruction": rec, "kl": kl})

    def evaluate_batch(self, batch: SeqBatch) -> LossOutput:
        """Evaluation metrics in nats per observed step: ``nll`` (exact) or ``neg_elbo_bound``."""
        with torch.no_grad():
            if "log_prob" in self.capabilities:
                return self._nll_loss(batch, 1.0)
            return self._elbo_loss(batch, 1.0)

    # ------------------------------------------------------------------ hooks (capability-gated)
    def _elbo_terms(self, x, context, mask, lengths) -> ElboTerms:
        raise CapabilityError(type(self).__name__, "elbo", self.capabilities)

    def _log_prob(self, x, context, mask, lengths) -> torch.Tensor:
        raise CapabilityError(type(self).__name__, "log_prob", self.capabilities)

    def _iwae(self, x, context, mask, lengths, num_particles) -> torch.Tensor:
        raise CapabilityError(type(self).__name__, "iwae", self.capabilities)

    def _infer(self, x, context, mask, lengths):
        raise CapabilityError(type(self).__name__, "latents", self.capabilities)

    def _model(self, x, context, mask):
        raise CapabilityError(type(self).__name__, "pyro", self.capabilities)

    def _guide(self, x, context, mask):
        raise CapabilityError(type(self).__name__, "pyro", self.capabilities)

    def _prior_log_prob(self, x, z, context, mask, lengths) -> torch.Tensor:
        raise CapabilityError(type(self).__name__, "latents", self.capabilities, "implement _prior_log_prob")

    def _condition(self, x, context, mask, lengths) -> State:
        raise CapabilityError(type(self).__name__, "forecast", self.capabilities)

    def _impute(self, x, context, mask, lengths) -> torch.Tensor:
        """Default: run the model forward, sampling each unobserved step from ``p(x_t | past)``.

        Conditions only on the past (filtering); models with a smoother override this.
        """
        from .gencore import GenCore

        return GenCore(self, self.agent).impute(x, mask, inputs=context)
