"""``LangevinMachine``: the Neural Langevin Machine as a seqgen sequence model.

Yu, Huang & Huang, "Neural Langevin Machine: a local asymmetric learning rule can be creative"
(arXiv:2506.23546, 2025); the equations are in :mod:`seqgen_langevin.dynamics`.

The sequence is the Euler–Maruyama trajectory itself, so the observation at each step *is* the
state ``x_t: [batch, N]`` and there are no latents:

    x_1     ~ N(0, σ₀² I)                                  pure noise (``init_scale`` σ₀)
    x_{t+1} ~ N(x_t + Δt(−∇E(x_t)), 2TΔt · I)             one Langevin step

``x_0`` is therefore not part of a trajectory: the model's initial state holds no value yet
(``started = False``) and its first step is the noise distribution. To continue from a given state
``x_0: [batch, N]`` instead (e.g. a corrupted image to denoise), start from
:meth:`LangevinMachine.state_from` and score with ``step_log_probs(x, x0=x_0)``.

Learning is the local rule (no backpropagation): :meth:`LangevinMachine.objective` is a
``seqgen.LocalRuleObjective`` whose statistics come from the data batch and from ``N_model``
persistent chains (a buffer, saved in checkpoints) advanced ``n_t`` steps per update.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import pyro.distributions as dist
import torch
from torch import nn

import seqgen

from .config import LangevinConfig
from .dynamics import contrastive_statistics, drift, energy, gaussian_log_density, langevin_, local_field
from .images import images_to_states, states_to_images

__all__ = ["LangevinMachine", "LangevinState"]


@seqgen.state
class LangevinState(seqgen.State):
    """x: ``[batch, N]`` the current state (zeros before the first step); started: ``[batch]`` bool."""

    x: torch.Tensor
    started: torch.Tensor


class LangevinMachine(seqgen.SequenceModel):
    """Neural Langevin Machine: ``P(x) ∝ exp(−½‖x − Jφ(x) − b‖² / T)`` sampled by Langevin dynamics.

    Parameters: ``J: [N, N]`` (``J_ij ~ N(0, g²/N)`` at start; diagonal zero if
    ``zero_diagonal``), ``b: [N]`` (zeros; ``None`` when ``bias=False``).
    Buffers: ``chains: [N_model, N]`` persistent chains, ``num_updates`` (learning updates so far).

    Capabilities: ``log_prob`` (exact log-density of a trajectory ``x: [batch, time, N]``),
    ``generate`` (per-step interface), ``local_rule`` (trained by the contrastive local rule).
    agent: must supply no context (default ``ConstantAgent(0)``).
    """

    config_cls = LangevinConfig
    capabilities = frozenset({"log_prob", "generate", "local_rule"})

    def __init__(self, config: LangevinConfig, *, agent: Optional[seqgen.Agent] = None):
        super().__init__(config)
        n = config.num_neurons
        J = torch.randn(n, n) * (config.gain / math.sqrt(n))  # J_ij ~ N(0, g²/N)
        if config.zero_diagonal:
            J.fill_diagonal_(0.0)
        self.J = nn.Parameter(J)
        self.register_parameter("b", nn.Parameter(torch.zeros(n)) if config.bias else None)
        self.register_buffer("chains", torch.randn(config.num_model_chains, n) * config.init_scale)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        agent = seqgen.ConstantAgent(0) if agent is None else agent
        if getattr(agent, "context_dim", None) != 0 or getattr(agent, "input_dim", 0) != 0:
            raise seqgen.ShapeError(
                "agent.context_dim",
                0,
                getattr(agent, "context_dim", None),
                "the Langevin machine takes no context; use seqgen.ConstantAgent(0)",
            )
        self.agent = agent

    # ------------------------------------------------------------------ facts
    @property
    def obs_shape(self) -> torch.Size:
        return torch.Size([self.config.num_neurons])

    @property
    def has_rsample(self) -> bool:
        return True  # every step is a Gaussian with a differentiable mean

    @property
    def step_scale(self) -> float:
        """``√(2TΔt)``, the noise standard deviation of one Langevin step."""
        return math.sqrt(2.0 * self.config.temperature * self.config.dt)

    # ------------------------------------------------------------------ equations
    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``E(x) = ½‖x − Jφ(x) − b‖²``: ``[*, N] -> [*]``."""
        return energy(x, self.J, self.b)

    def drift(self, x: torch.Tensor) -> torch.Tensor:
        """``−∇E(x) = −(x − h) + φ′(x) ⊙ Jᵀ(x − h)``: ``[*, N] -> [*, N]``."""
        return drift(x, self.J, self.b)

    def images_to_states(self, images: torch.Tensor) -> torch.Tensor:
        """Pixels in ``[0, 1]`` (``[n, H, W]`` or ``[n, N]``) to states ``[n, N]`` by the config's data map."""
        c = self.config
        return images_to_states(images, num_neurons=c.num_neurons, data_map=c.data_map, clip=c.data_clip).to(self.J)

    def states_to_images(self, x: torch.Tensor) -> torch.Tensor:
        """States ``[*, N]`` shown as grey levels in ``[0, 1]``."""
        return states_to_images(x, data_map=self.config.data_map)

    # ------------------------------------------------------------------ per-step interface
    def initial_state(self, batch_size: int) -> LangevinState:
        x = self.J.new_zeros(batch_size, self.config.num_neurons)
        return LangevinState(x=x, started=torch.zeros(batch_size, dtype=torch.bool, device=x.device))

    def state_from(self, x0: torch.Tensor) -> LangevinState:
        """A state that continues from given ``x0: [batch, N]`` (the next step is a Langevin step)."""
        x0 = self._check_start(x0)
        return LangevinState(x=x0, started=torch.ones(x0.shape[0], dtype=torch.bool, device=x0.device))

    def prior_step(self, state: LangevinState, context_t: Optional[torch.Tensor]) -> Tuple[torch.distributions.Distribution, LangevinState]:
        """``N(x + Δt(−∇E(x)), 2TΔt I)`` after the first step, ``N(0, σ₀² I)`` before it; batch ``[batch]``."""
        started = state.started.unsqueeze(-1)  # [batch, 1]
        step_loc = state.x + self.config.dt * self.drift(state.x)  # [batch, N]
        loc = torch.where(started, step_loc, torch.zeros_like(step_loc))
        scale = torch.where(started, step_loc.new_tensor(self.step_scale), step_loc.new_tensor(self.config.init_scale))
        return dist.Normal(loc, scale.expand_as(loc)).to_event(1), state

    def observe(self, state: LangevinState, x_t: torch.Tensor) -> LangevinState:
        return LangevinState(x=x_t, started=torch.ones_like(state.started))

    # ------------------------------------------------------------------ fast sampling
    @torch.no_grad()
    def sample_chains(
        self,
        num_chains: int,
        num_steps: int,
        *,
        x0: Optional[torch.Tensor] = None,
        temperature: Optional[float] = None,
        record_at=(),
        trace_neurons: Optional[torch.Tensor] = None,
    ):
        """Run ``num_chains`` fresh chains for ``num_steps`` Langevin steps with the fused sampler.

        Starts from pure noise ``N(0, σ₀² I)`` (or from ``x0: [num_chains, N]``). ``temperature``
        overrides ``T`` for this run only (``0``: noise-free descent of ``E`` to the nearest fixed
        point ``x = Jφ(x) + b``). Returns ``(x: [num_chains, N], snapshots: [len(record_at),
        num_chains, N] or None, traces: [num_steps + 1, num_chains, k] or None)``; see
        :func:`~seqgen_langevin.dynamics.langevin_`. Only the chosen steps are kept.
        """
        for name, value, low in (("num_chains", num_chains, 1), ("num_steps", num_steps, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise seqgen.ConfigError(name, f"'{name}' must be an integer >= {low} (got {value!r})")
        temperature = self.config.temperature if temperature is None else temperature
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
            raise seqgen.ConfigError("temperature", f"'temperature' must be >= 0 (got {temperature!r})", "pass 0 for a noise-free descent")
        if x0 is None:
            x = self.J.new_empty(num_chains, self.config.num_neurons).normal_(0.0, self.config.init_scale)
        else:
            x = self._check_start(x0, batch=num_chains).clone()
        bad = [s for s in record_at if not 0 <= int(s) <= num_steps]
        if bad:
            raise seqgen.ConfigError("record_at", f"'record_at' steps must lie in [0, {num_steps}] (got {bad})", "record steps between 0 and num_steps")
        snaps, traces = langevin_(
            x, self.J, self.b, dt=self.config.dt, temperature=float(temperature),
            num_steps=num_steps, record_at=record_at, trace_neurons=trace_neurons,
        )  # fmt: skip
        return x, snaps, traces

    def field(self, x: torch.Tensor) -> torch.Tensor:
        """The local field ``h = Jφ(x) + b``: ``[*, N] -> [*, N]`` (the state the network drives ``x`` to)."""
        return local_field(x, self.J, self.b)

    # ------------------------------------------------------------------ exact log-probability
    def step_log_probs(self, x: torch.Tensor, *, x0: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Per-step ``log p(x_t | x_{t−1})`` of a trajectory ``x: [batch, time, N]``: ``[batch, time]``.

        Step 1 is the noise ``N(0, σ₀² I)``, or, given ``x0: [batch, N]``, a Langevin step from it.
        Vectorised over time: one drift evaluation on ``[batch, time, N]``.
        """
        x, _, _, _ = self.check_inputs(x)
        start = None if x0 is None else self._check_start(x0, batch=x.shape[0])
        return self._step_log_probs(x, start)

    def _step_log_probs(self, x: torch.Tensor, x0: Optional[torch.Tensor]) -> torch.Tensor:
        if x0 is None:
            first = gaussian_log_density(x[:, :1], torch.zeros_like(x[:, :1]), self.config.init_scale)  # [batch, 1]
            prev, nxt = x[:, :-1], x[:, 1:]  # [batch, time − 1, N]
        else:
            first = x.new_zeros(x.shape[0], 0)
            prev, nxt = torch.cat([x0.unsqueeze(1), x[:, :-1]], dim=1), x  # [batch, time, N]
        loc = prev + self.config.dt * self.drift(prev)
        return torch.cat([first, gaussian_log_density(nxt, loc, self.step_scale)], dim=1)  # [batch, time]

    def _log_prob(self, x, context, mask, lengths) -> torch.Tensor:
        """``Σ_{t observed} log p(x_t | x_{t−1})``: ``[batch]``.

        Exact for right-padded batches (the usual ragged case). A hole inside a sequence is read as
        ``x_t = 0`` (seqgen's zero-fill of masked steps, :func:`seqgen.check_sequence`): the step after
        it is then scored as a Langevin step from 0, not marginalised over the hidden state.
        """
        return (self._step_log_probs(x, None) * mask).sum(1)

    # ------------------------------------------------------------------ learning (local rule)
    def objective(self) -> seqgen.LocalRuleObjective:
        """The local contrastive rule (see :meth:`learning_statistics`), evaluated by :meth:`evaluate_batch`."""
        return seqgen.LocalRuleObjective(statistics_fn=self.learning_statistics, eval_fn=self.evaluate_batch)

    def _data_states(self, batch: seqgen.SeqBatch) -> torch.Tensor:
        """Every observed step of ``batch.x: [B, T, N]`` as one data sample: ``[M, N]``."""
        x = batch.x
        n = self.config.num_neurons
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != n:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            fix = f"map images with model.images_to_states (N = {n} pixels)"
            if isinstance(x, torch.Tensor) and x.dim() == 3:
                fix += f", or build the model with num_neurons={x.shape[-1]}"
            raise seqgen.ShapeError("batch.x", f"[batch, time, num_neurons={n}]", got, fix)
        x, mask, _, _ = self.check_inputs(x, mask=batch.mask, argument="batch.x")
        return x[mask]  # [M, N]: every observed step is a sample of P(x)

    @torch.no_grad()
    def learning_statistics(self, batch: seqgen.SeqBatch) -> seqgen.LossOutput:
        """One update's statistics: advance the chains ``n_t`` steps and contrast data with chains.

        With ``chain_restart = ρ > 0`` each chain first restarts from ``N(0, σ₀² I)`` with
        probability ``ρ`` (torch's global generator).

        Returns ``LossOutput(loss=contrastive gap, metrics, grads={'J': −ΔJ, 'b': −Δb})`` where ``ΔJ``,
        ``Δb`` are the rule's ascent directions (module :mod:`~seqgen_langevin.dynamics`), so the
        optimizer stepping along ``−grads`` ascends the likelihood (see :meth:`_monitor` for the
        logged figures). With ``centered=True`` the directions are the centred ones
        (:class:`LangevinConfig`); the logged gap stays the plain rule's. Raises TrainingError if a
        chain diverges (NaN/inf).
        """
        c = self.config
        x_data = self._data_states(batch)
        if c.zero_diagonal:
            self.J.diagonal().zero_()
        if c.chain_restart > 0:  # each chain restarts from pure noise with probability ρ
            restart = torch.rand(self.chains.shape[0], device=self.chains.device) < c.chain_restart  # [N_model]
            self.chains[restart] = self.chains.new_empty(int(restart.sum()), c.num_neurons).normal_(0.0, c.init_scale)
        langevin_(self.chains, self.J, self.b, dt=c.dt, temperature=c.temperature, num_steps=c.langevin_steps)
        self.num_updates += 1
        if not bool(torch.isfinite(self.chains).all()):
            raise seqgen.TrainingError(
                int(self.num_updates),
                "model chains",
                "NaN/inf (the Langevin chains diverged)",
                "lower dt or the learning rate, or set zero_diagonal=True",
            )
        s = contrastive_statistics(x_data, self.chains, self.J, self.b, temperature=c.temperature)
        if c.zero_diagonal:
            s.delta_J.fill_diagonal_(0.0)
        delta_J, delta_b = s.delta_J, s.delta_b
        if c.centered:  # ΔJ' = ΔJ − Δb μᵀ, Δb' = Δb − ΔJ' μ (see LangevinConfig.centered)
            mu = torch.tanh(x_data).mean(0)  # [N]
            delta_J = delta_J - torch.outer(delta_b, mu)
            if c.zero_diagonal:
                delta_J.fill_diagonal_(0.0)
            delta_b = delta_b - torch.mv(delta_J, mu)  # mv: never cast by autocast
        grads = {"J": delta_J.neg_()}
        if self.b is not None:
            grads["b"] = -delta_b
        return self._monitor(s, grads)

    def _monitor(self, s, grads=None) -> seqgen.LossOutput:
        """``loss`` = the contrastive gap ``sqrt(mean([ΔJ, Δb]²))``: how far the model's statistics are
        from the data's (0 at the rule's fixed point, up to sampling noise). ``energy_gap`` =
        ``⟨E⟩_data/T − ⟨E⟩_model/T`` is logged too; it does not vanish at the fixed point (noise-free
        data sit below the noisy model samples), so it is a diagnostic, not a target."""
        stats = s.delta_J.pow(2).sum() + (0.0 if self.b is None else s.delta_b.pow(2).sum())
        gap = (stats / (s.delta_J.numel() + (0 if self.b is None else s.delta_b.numel()))).sqrt()
        metrics = {
            "contrastive_gap": gap,
            "energy_gap": s.energy_data - s.energy_model,
            "energy_data": s.energy_data,
            "energy_model": s.energy_model,
        }
        return seqgen.LossOutput(loss=gap, metrics=metrics, terms={"contrastive_gap": gap}, grads=grads)

    @torch.no_grad()
    def evaluate_batch(self, batch: seqgen.SeqBatch) -> seqgen.LossOutput:
        """The same monitor on held-out data against the current chains (the chains do not move)."""
        x_data = self._data_states(batch)
        s = contrastive_statistics(x_data, self.chains, self.J, self.b, temperature=self.config.temperature)
        return self._monitor(s)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor, *, chains: bool = False) -> "LangevinMachine":
        """Warm start from data states ``x: [M, N]`` (optional; not part of the original recipe).

        Sets ``b ← ⟨x − Jφ(x)⟩_data``, the bias that zeroes the data's mean residual for the current
        ``J`` (the data half of the ``b`` rule at its fixed point; cf. initialising an RBM's visible
        biases to the data's log-odds, Hinton 2010). It breaks the ``x → −x`` symmetry from the first
        update, so chains started from noise do not settle in inverted basins.
        ``chains=True`` also starts the persistent chains at data samples (drawn with replacement from
        torch's global generator). The chains then never visit the states that pure noise leads to,
        so the rule never removes spurious minima there: in our MNIST runs, generation from noise
        got worse with it. Keep the default unless samples are drawn from data-like starts.
        """
        x = self._check_start(x, argument="x").detach()
        if self.b is not None:
            self.b.copy_((x - local_field(x, self.J, None)).mean(0))
        if chains:
            idx = torch.randint(x.shape[0], (self.chains.shape[0],), device=x.device)
            self.chains.copy_(x[idx])
        return self

    # ------------------------------------------------------------------ checks
    def _check_start(self, x0: torch.Tensor, batch: Optional[int] = None, argument: str = "x0") -> torch.Tensor:
        n = self.config.num_neurons
        want = f"[batch{'' if batch is None else '=' + str(batch)}, num_neurons={n}]"
        if not isinstance(x0, torch.Tensor) or x0.dim() != 2 or x0.shape[1] != n or (batch is not None and x0.shape[0] != batch):
            got = tuple(x0.shape) if isinstance(x0, torch.Tensor) else type(x0).__name__
            raise seqgen.ShapeError(argument, want, got, "pass one state per row (map images with images_to_states)")
        if not x0.is_floating_point() or not bool(torch.isfinite(x0).all()):
            raise seqgen.DataError(argument, "must be a finite floating-point tensor", "clean the states")
        return x0.to(self.J)
