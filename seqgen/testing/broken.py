"""Deliberately broken models: each breaks one promise, so its conformance check must fail.

Each is a reference model of :mod:`seqgen.testing.reference` with one thing overridden, the kind
of slip a plugin author makes. :data:`BROKEN` maps every check's name to the spec that check
must reject; ``tests/test_testing_meta.py`` runs each check on its fixture (it must fail) and on
the references (they must pass).

==========================================  =================================================
check                                        the slip
==========================================  =================================================
``check_capabilities_declared``              declares ``iwae`` without implementing ``_iwae``
``check_step_shapes``                        ``prior_step`` returns a per-dimension Normal (no ``to_event``)
``check_sequence_output_shapes``             ``log_prob`` forgets to sum over time (``[batch, time]``)
``check_bad_input``                          overrides ``log_prob`` and skips ``check_inputs``
``check_right_padding_invariance``           ``log_prob`` sums over padded steps too
``check_masked_values_ignored``              the loss reads ``batch.x`` raw, hidden values included
``check_loss_finite``                        the loss divides by the padded-step count (0 on a full batch)
``check_gradients_reach_every_parameter``    the recurrent state is detached before the readout
``check_mixed_precision``                    the readout is written into a preallocated buffer (``out=``)
``check_seed_determinism``                   ELBO noise from a private ``torch.Generator``
``check_dtype_device_moves``                 ``initial_state`` allocates with ``torch.zeros`` (float32, CPU)
``check_save_load_round_trip``               a random input scaling kept as a plain attribute, not a buffer
``check_sequence_distribution``              ``prior_step`` runs under ``torch.no_grad`` while claiming ``has_rsample``
``check_log_prob_matches_generation``        sampling reads the state one step stale
``check_prior_matches_generation``           the sampling prior reads the previous step's
                                             deterministic state (as an early public SRNN did)
``check_elbo_below_log_prob``                a hand-written Gaussian log-density without ``-½ log 2π``
``check_iwae_non_decreasing``                ``iwae`` subtracts ``K`` instead of ``log K``
==========================================  =================================================
"""

from __future__ import annotations

from typing import Dict

import attrs
import torch
from torch.distributions import Independent

from ..data.batch import SeqBatch
from ..spec import ModelSpec
from ..state import State, state
from ..train.objectives import GradientObjective, LossOutput
from ..validation import lengths_from_mask
from .reference import ARState, LatentState, ReferenceAR, ReferenceConfig, ReferenceLatent, _normal

__all__ = ["BROKEN"]


class MissingHook(ReferenceAR):
    """Declares ``iwae`` but never implements ``_iwae``: ``iwae(x)`` raises CapabilityError."""

    capabilities = ReferenceAR.capabilities | {"iwae"}


class PerDimensionStep(ReferenceAR):
    """``p_t`` has batch ``[batch, obs_dim]`` and event ``()``: the ``Independent`` wrapper is missing."""

    def prior_step(self, state, context_t):
        return self._obs_dist(state.h).base_dist, state


class PerStepLogProb(ReferenceAR):
    """``log_prob`` returns ``[batch, time]``: the sum over time is missing."""

    def _log_prob(self, x, context, mask, lengths):
        lp = self._obs_dist(self._h_prev(x)).log_prob(x)
        return torch.where(mask, lp, lp.new_zeros(()))


class UncheckedInput(ReferenceAR):
    """Overrides the public ``log_prob`` and calls the hook directly: NaN, bad shapes and empty input get through."""

    def log_prob(self, x, *, context=None, mask=None):
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask
        return self._log_prob(x.to(self.dtype), context, mask, lengths_from_mask(mask))


class PaddingLeak(ReferenceAR):
    """``log_prob`` sums the log-density of every step, observed or not (padding and holes read as 0)."""

    def _log_prob(self, x, context, mask, lengths):
        return self._obs_dist(self._h_prev(x)).log_prob(x).sum(1)


class RawBatchLoss(ReferenceAR):
    """The loss calls the hook on ``batch.x`` as given, so hidden values reach the recurrence."""

    def objective(self):
        def loss_fn(batch: SeqBatch, kl_weight: float) -> LossOutput:
            nll = -self._log_prob(batch.x, batch.inputs, batch.mask, batch.lengths).sum() / batch.num_observed
            return LossOutput(loss=nll, metrics={"nll": nll.detach()})

        return GradientObjective(loss_fn=loss_fn)


class WrongCountLoss(ReferenceAR):
    """Normalises the NLL by the number of padded steps instead of observed ones: inf on a full batch."""

    def objective(self):
        def loss_fn(batch: SeqBatch, kl_weight: float) -> LossOutput:
            lp = self.log_prob(batch.x, context=batch.inputs, mask=batch.mask)
            nll = -lp.sum() / (~batch.mask).sum()
            return LossOutput(loss=nll, metrics={"nll": nll.detach()})

        return GradientObjective(loss_fn=loss_fn)


class DetachedState(ReferenceAR):
    """Detaches ``h`` before the readout, so the recurrent cell never gets a gradient."""

    def _h_prev(self, x):
        return super()._h_prev(x).detach()


class PreallocatedReadout(ReferenceAR):
    """Writes the readout into a buffer of the parameters' dtype with ``torch.addmm(..., out=)``
    (to save an allocation): under autocast the product is bf16 and the call raises."""

    def _obs_dist(self, h):
        w, b = self.readout.weight, self.readout.bias
        out = h.new_empty(h.shape[:-1] + (w.shape[0],), dtype=w.dtype)
        torch.addmm(b, h.reshape(-1, h.shape[-1]), w.t(), out=out.view(-1, w.shape[0]))
        return Independent(_normal(out), 1)


class PrivateGenerator(ReferenceLatent):
    """Draws its reparameterisation noise from its own ``torch.Generator``, out of ``torch.manual_seed``'s reach."""

    def __init__(self, config):
        super().__init__(config)
        self._generator = torch.Generator()

    def _noise(self, shape, like):
        return torch.randn(shape, generator=self._generator, dtype=like.dtype).to(like.device)


class HardcodedDtype(ReferenceAR):
    """``initial_state`` allocates ``h`` with ``torch.zeros``: float32 on the CPU whatever the model's dtype and device."""

    def initial_state(self, batch_size):
        return ARState(torch.zeros(batch_size, self.config.hidden_dim))


class UnregisteredTensor(ReferenceAR):
    """Scales its input by a random vector kept as a plain attribute: not in ``state_dict``, lost on reload."""

    def __init__(self, config):
        super().__init__(config)
        self.input_scale = torch.rand(config.obs_dim) + 0.5

    def _cell_input(self, x):
        return x * self.input_scale.to(x)


class NoGradSampling(ReferenceAR):
    """``prior_step`` under ``torch.no_grad`` (for speed) while ``has_rsample`` stays True."""

    @torch.no_grad()
    def prior_step(self, state, context_t):
        return super().prior_step(state, context_t)


@state
class StaleARState(State):
    """``h: [batch, hidden_dim]`` (``h_{t-1}``) and ``h_old`` (``h_{t-2}``)."""

    h: torch.Tensor
    h_old: torch.Tensor


class StaleSampling(ReferenceAR):
    """Samples ``x_t`` from ``p(x | h_{t-2})`` while ``log_prob`` scores with ``h_{t-1}``."""

    def initial_state(self, batch_size):
        h = self._h0(batch_size)
        return StaleARState(h, h)

    def prior_step(self, state, context_t):
        return self._obs_dist(state.h_old), state

    def observe(self, state, x_t):
        return StaleARState(self._next_h(state.h, x_t), state.h)


@state
class StaleLatentState(LatentState):
    """:class:`LatentState` plus ``h_old: [batch, hidden_dim]`` (``h_{t-2}``)."""

    h_old: torch.Tensor = None


class StalePrior(ReferenceLatent):
    """The sampling prior reads ``h_{t-2}``; the ELBO's prior (``prior_log_prob``) reads ``h_{t-1}``."""

    def initial_state(self, batch_size):
        s = super().initial_state(batch_size)
        return StaleLatentState(s.h, s.z, s.z_log_prob, s.h)

    def prior_step(self, state, context_t):
        p = self._prior(state.h_old)
        z = p.rsample()
        return self._emission(state.h, z), attrs.evolve(state, z=z, z_log_prob=p.log_prob(z).sum(-1))

    def observe(self, state, x_t):
        return attrs.evolve(state, h=self._next_h(state.h, x_t), h_old=state.h)


class MissingConstant(ReferenceLatent):
    """Writes the Gaussian log-density by hand and drops ``-½ log 2π`` per dimension: the bound rises above ``log p(x)``."""

    def _log_lik(self, h, z, x):
        scale = self._noise_scale()
        return (-0.5 * ((x - z - self.emit(h)) / scale) ** 2 - scale.log()).sum(-1)


class LinearK(ReferenceLatent):
    """``iwae`` subtracts ``K`` where ``log K`` belongs, so it falls as particles are added."""

    def _iwae(self, x, context, mask, lengths, num_particles):
        return torch.logsumexp(self._log_weights(x, mask, num_particles), dim=0) - num_particles


def _spec(cls: type) -> ModelSpec:
    return ModelSpec(name=f"broken_{cls.__name__}", model_cls=cls, config_cls=ReferenceConfig, capabilities=cls.capabilities, description=cls.__doc__.split("\n")[0])


BROKEN: Dict[str, ModelSpec] = {
    "check_capabilities_declared": _spec(MissingHook),
    "check_step_shapes": _spec(PerDimensionStep),
    "check_sequence_output_shapes": _spec(PerStepLogProb),
    "check_bad_input": _spec(UncheckedInput),
    "check_right_padding_invariance": _spec(PaddingLeak),
    "check_masked_values_ignored": _spec(RawBatchLoss),
    "check_loss_finite": _spec(WrongCountLoss),
    "check_gradients_reach_every_parameter": _spec(DetachedState),
    "check_mixed_precision": _spec(PreallocatedReadout),
    "check_seed_determinism": _spec(PrivateGenerator),
    "check_dtype_device_moves": _spec(HardcodedDtype),
    "check_save_load_round_trip": _spec(UnregisteredTensor),
    "check_sequence_distribution": _spec(NoGradSampling),
    "check_log_prob_matches_generation": _spec(StaleSampling),
    "check_prior_matches_generation": _spec(StalePrior),
    "check_elbo_below_log_prob": _spec(MissingConstant),
    "check_iwae_non_decreasing": _spec(LinearK),
}
"""check name -> the spec of the model that check must reject."""
