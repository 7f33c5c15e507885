"""``Alternator``: Rezaei & Dieng, "Alternators for Sequence Modeling" (TMLR 2025, arXiv 2405.11848).

Two time-invariant networks alternate between observation space and a feature space
(Algorithm 1)::

    z_0 ~ N(0, I)
    x_t = √(1−σ_x²) f_θ(z_{t−1}) + σ_x ε^x_t                         (observation trajectory network)
    z_t = √α_t g_φ(x_t) + √(1−α_t−σ_z²) z_{t−1} + σ_z ε^z_t            (feature trajectory network)

Likelihood. With observed ``x`` the feature path is drawn from the model's own conditional
``p(z_t | z_{t−1}, x_t)``, so (see :mod:`seqgen_alternator.paths`)

    p(x_{1:T}) = E_z[ Π_t N(x_t; √(1−σ_x²) f_θ(z_{t−1}), σ_x² I) ]

exactly, and ``p̂_K = (1/K) Σ_k Π_t N(x_t; …, z^k)`` over K whole paths is an unbiased estimate.
Training minimises ``−log p̂_K`` per observed step, a stochastic upper bound on ``−log p(x)``
(Jensen; it tightens as K grows, Burda et al. 2016), reported as ``nll_bound``. K = 1 is the
paper's observation cross-entropy term. When a batch carries ``targets`` z* (the paper's
neural-decoding mode) the loss adds ``λ Σ_{t observed} mean_k ‖z*_t − z^k_t‖²`` per observed step,
``λ = 1 / (2σ_z²)`` by default (see :class:`~seqgen_alternator.AlternatorConfig`).

Per step (GenCore). The latent of step ``t`` in seqgen's latent-model contract is the one ``x_t``
is drawn from, ``z_{t−1}``: ``prior_step`` returns ``N(√(1−σ_x²) f_θ(z_{t−1}), σ_x² I)`` and puts
``z_{t−1}`` and its log-density in ``state.z``/``state.z_log_prob``; ``observe(x_t)`` runs the
feature update (drawing ``ε^z_t``) into ``state.z_next``. So ``prior_log_prob(x, z)`` scores column
1 as ``N(z_0; 0, I)`` and column ``t ≥ 2`` as ``N(z_{t−1}; √α_{t−1} g(x_{t−1}) + b_{t−1} z_{t−2}, σ_z² I)``
— the paper's update shifted by one place, which makes the first column exact.

Shapes: ``x: [batch, time, obs_dim]``, ``mask: [batch, time]``, ``z: [batch, time, z_dim]``.
"""

from __future__ import annotations

import math
from typing import Optional

import pyro.distributions as dist
import torch

import seqgen
from seqgen import ConstantAgent, DataError, GradientObjective, LossOutput, SeqBatch, ShapeError

from .components import check_network, default_components
from .config import AlternatorConfig
from .paths import PathNoise, observed_log_lik, sample_paths, standard_normal_log_prob
from .scan import ScanPlan, scan_plan
from .pyro_program import alternator_guide, alternator_model

__all__ = ["Alternator", "AlternatorState"]

MAX_PLANS = 256  # cached scan plans per model (one per sequence length seen, in practice)


@seqgen.state
class AlternatorState(seqgen.State):
    """z: ``[batch, z_dim]`` this step's latent ``z_{t−1}`` (zeros before the first step);
    z_log_prob: ``[batch]`` its log-density; z_next: ``[batch, z_dim]`` the newest feature
    ``z_t`` (``z_0`` before the first observation); z_next_log_prob: ``[batch]``;
    step: ``[batch]`` long, observations taken in (indexes the α schedule)."""

    z: torch.Tensor
    z_log_prob: torch.Tensor
    z_next: torch.Tensor
    z_next_log_prob: torch.Tensor
    step: torch.Tensor


class Alternator(seqgen.SequenceModel):
    """An alternator (see the module docstring).

    ``Alternator(config, *, observation_net=None, feature_net=None)``: ``observation_net`` is
    ``f_θ: [*, z_dim] → [*, obs_dim]``, ``feature_net`` is ``g_φ: [*, obs_dim] → [*, z_dim]``
    (default MLPs, :func:`~seqgen_alternator.default_components`); one that does not fit raises
    ShapeError. The model takes no per-step inputs (its agent is ``ConstantAgent(0)``).
    """

    config_cls = AlternatorConfig
    capabilities = frozenset({"iwae", "latents", "generate", "forecast", "impute", "pyro", "gradient"})

    def __init__(self, config: AlternatorConfig, *, observation_net=None, feature_net=None):
        super().__init__(config)
        if observation_net is None or feature_net is None:
            defaults = default_components(config)
            observation_net = defaults["observation_net"] if observation_net is None else observation_net
            feature_net = defaults["feature_net"] if feature_net is None else feature_net
        self.observation_net = check_network("observation_net", observation_net, config.z_dim, config.obs_dim, "f_θ: z → x")
        self.feature_net = check_network("feature_net", feature_net, config.obs_dim, config.z_dim, "g_φ: x → z")
        self.agent = ConstantAgent(0)
        # an empty buffer that follows .to()/.double(), so new tensors take the model's device and dtype
        self.register_buffer("_probe", torch.empty(0), persistent=False)
        self._sqrt_alpha = tuple(math.sqrt(a) for a in config.schedule)  # √α_t, t = 1 … L (L = 1: constant)
        self._decay = tuple(math.sqrt(1.0 - a - config.sigma_z**2) for a in config.schedule)  # √(1 − α_t − σ_z²)
        self.obs_coef = math.sqrt(1.0 - config.sigma_x**2)
        self._plans: dict = {}  # (start, length, dtype, device) -> ScanPlan; the decays never change

    # ------------------------------------------------------------------ observation facts
    @property
    def obs_shape(self) -> torch.Size:
        return torch.Size((self.config.obs_dim,))

    @property
    def has_rsample(self) -> bool:
        """Both noises are additive Gaussians, so every step is reparameterisable."""
        return True

    # ------------------------------------------------------------------ the schedule
    def coefficients(self, num_steps: int, *, like: torch.Tensor, start: int = 0):
        """``(√α_t, √(1−α_t−σ_z²))`` for steps ``start+1 … start+num_steps``: two ``[num_steps]`` tensors."""
        if self.config.constant_alpha:
            return like.new_full((num_steps,), self._sqrt_alpha[0]), like.new_full((num_steps,), self._decay[0])
        length = len(self._sqrt_alpha)
        if start + num_steps > length:
            raise ShapeError(
                "x (time)", f"at most {length} steps (the length of the alpha schedule)", f"{start + num_steps} steps",
                "give alpha a schedule covering the longest sequence, or a constant alpha",
            )
        steps = slice(start, start + num_steps)
        return like.new_tensor(self._sqrt_alpha[steps]), like.new_tensor(self._decay[steps])

    def scan_plan(self, start: int, length: int, *, like: torch.Tensor) -> ScanPlan:
        """The cached :func:`~seqgen_alternator.scan.scan_plan` of steps ``start+1 … start+length``."""
        key = (0 if self.config.constant_alpha else start, length, like.dtype, like.device)
        plan = self._plans.get(key)
        if plan is None:
            _, decay = self.coefficients(length, like=like, start=start)
            plan = scan_plan(decay)
            if len(self._plans) >= MAX_PLANS:
                self._plans.pop(next(iter(self._plans)))  # oldest first
            self._plans[key] = plan
        return plan

    def _update_coefficients(self, step: torch.Tensor, like: torch.Tensor):
        """``(√α, √(1−α−σ_z²))`` of each row's next update: floats, or ``[batch, 1]`` for a schedule."""
        if self.config.constant_alpha:
            return self._sqrt_alpha[0], self._decay[0]
        length = len(self._sqrt_alpha)
        if bool((step >= length).any()):
            raise ShapeError(
                "step", f"at most {length} steps (the length of the alpha schedule)", f"step {int(step.max()) + 1}",
                "give alpha a schedule covering every generated step, or a constant alpha",
            )
        return like.new_tensor(self._sqrt_alpha)[step][:, None], like.new_tensor(self._decay)[step][:, None]  # [batch, 1] each

    # ------------------------------------------------------------------ per step
    def initial_state(self, batch_size: int) -> AlternatorState:
        """``z_0 ~ N(0, I)`` in ``z_next``; ``z = 0`` and ``z_log_prob = 0`` until the first step."""
        z0 = self._probe.new_empty(batch_size, self.config.z_dim).normal_()  # [batch, z_dim]
        zeros = z0.new_zeros(batch_size)
        step = torch.zeros(batch_size, dtype=torch.long, device=z0.device)
        return AlternatorState(z=torch.zeros_like(z0), z_log_prob=zeros, z_next=z0, z_next_log_prob=standard_normal_log_prob(z0), step=step)

    def prior_step(self, state: AlternatorState, context_t: Optional[torch.Tensor]):
        """``p(x_t | z_{t−1}) = N(√(1−σ_x²) f_θ(z_{t−1}), σ_x² I)`` (batch ``[batch]``); ``state.z = z_{t−1}``."""
        batch = state.z_next.shape[0]
        if context_t is not None and (context_t.dim() != 2 or tuple(context_t.shape) != (batch, 0)):
            raise ShapeError("context_t", f"None or [batch={batch}, 0] (the alternator takes no inputs)", tuple(context_t.shape), "drive it with ConstantAgent(0)")
        z = state.z_next  # [batch, z_dim]
        # loc comes from the network and σ_x was validated by the config: skip per-step validation
        p = dist.Normal(self.obs_coef * self.observation_net(z), self.config.sigma_x, validate_args=False).to_event(1)  # batch [batch]
        return p, AlternatorState(z, state.z_next_log_prob, z, state.z_next_log_prob, state.step)

    def observe(self, state: AlternatorState, x_t: torch.Tensor) -> AlternatorState:
        """``z_t = √α_t g_φ(x_t) + √(1−α_t−σ_z²) z_{t−1} + σ_z ε`` from ``x_t: [batch, obs_dim]``."""
        batch = state.z_next.shape[0]
        if not isinstance(x_t, torch.Tensor) or tuple(x_t.shape) != (batch, self.config.obs_dim):
            got = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
            raise ShapeError("x_t", f"[batch={batch}, obs_dim={self.config.obs_dim}]", got, "pass one observation per sequence")
        z = state.z_next  # z_{t−1}: [batch, z_dim]
        sqrt_alpha, decay = self._update_coefficients(state.step, z)
        loc = sqrt_alpha * self.feature_net(x_t.to(z.dtype)) + decay * z
        eps = torch.randn_like(z)
        log_prob = standard_normal_log_prob(eps) - self.config.z_dim * math.log(self.config.sigma_z)  # [batch]
        return AlternatorState(state.z, state.z_log_prob, loc + self.config.sigma_z * eps, log_prob, state.step + 1)

    # ------------------------------------------------------------------ paths
    def _paths(self, x, mask, lengths, num_paths: int, *, fill_trailing: bool = False):
        """``num_paths`` paths per sequence (path index fastest): ``(Paths, x_k, mask_k)``, rows ``[batch * K]``.

        Hidden steps before each sequence's length are filled by the model's samples;
        ``fill_trailing`` also fills those after it (imputation of whole rows).
        """
        rep = (lambda t: t.repeat_interleave(num_paths, dim=0)) if num_paths > 1 else (lambda t: t)
        x_k, mask_k, len_k = rep(x), rep(mask), rep(lengths)
        steps = x.shape[1]
        fill = ~mask_k
        if not fill_trailing:
            fill = fill & (torch.arange(steps, device=x.device) < len_k[:, None])  # [N, T]
        noise = PathNoise.draw(x, x_k.shape[0], steps, self.config.z_dim, self.config.obs_dim, with_x=bool(fill.any()))
        return sample_paths(self, x_k, mask_k, fill, noise), x_k, mask_k

    def _log_weights(self, x, mask, lengths, num_paths: int):
        """``(log w: [batch, K], Paths)`` with ``log w = Σ_{t observed} log N(x_t; √(1−σ_x²) f(z_{t−1}), σ_x²)``."""
        paths, x_k, mask_k = self._paths(x, mask, lengths, num_paths)
        return observed_log_lik(paths, x_k, mask_k, self.config.sigma_x).reshape(x.shape[0], num_paths), paths

    # ------------------------------------------------------------------ capability hooks
    def _iwae(self, x, context, mask, lengths, num_particles) -> torch.Tensor:
        """``log p̂_K = log (1/K) Σ_k w_k``, ``[batch]``: unbiased for ``p(x)`` before the log."""
        log_w, _ = self._log_weights(x, mask, lengths, num_particles)
        return torch.logsumexp(log_w, dim=1) - math.log(num_particles)

    def _infer(self, x, context, mask, lengths):
        """``{'z_loc', 'z_scale'}``, ``[batch, time, z_dim]``: mean and standard deviation over
        ``config.infer_paths`` paths of the filtered feature ``z_t`` (after taking in ``x_t``)."""
        k = self.config.infer_paths
        paths, _, _ = self._paths(x, mask, lengths, k)
        z = paths.z[:, 1:].reshape(x.shape[0], k, x.shape[1], self.config.z_dim)  # [batch, K, time, z_dim]
        return {"z_loc": z.mean(1), "z_scale": z.std(1, correction=1 if k > 1 else 0)}

    def _prior_log_prob(self, x, z, context, mask, lengths) -> torch.Tensor:
        """Column 1: ``log N(z_0; 0, I)``; column ``t ≥ 2``: ``log N(z_{t−1}; √α g(x_{t−1}) + b z_{t−2}, σ_z²)``."""
        batch, steps = x.shape[:2]
        want = (batch, steps, self.config.z_dim)
        if tuple(z.shape) != want:
            raise ShapeError("z", f"[batch={batch}, time={steps}, z_dim={self.config.z_dim}]", tuple(z.shape), "pass one latent per step of x")
        z = z.to(self.dtype)
        first = standard_normal_log_prob(z[:, 0])[:, None]  # [batch, 1]
        if steps == 1:
            return first
        sqrt_alpha, decay = self.coefficients(steps - 1, like=z)  # [T-1]
        loc = sqrt_alpha[None, :, None] * self.feature_net(x[:, :-1]) + decay[None, :, None] * z[:, :-1]  # [batch, T-1, z_dim]
        rest = standard_normal_log_prob((z[:, 1:] - loc) / self.config.sigma_z) - self.config.z_dim * math.log(self.config.sigma_z)
        return torch.cat([first, rest], dim=1)

    def _model(self, x, context, mask):
        return alternator_model(self, x, mask)

    def _guide(self, x, context, mask):
        return alternator_guide(self, x, mask)

    def _condition(self, x, context, mask, lengths) -> AlternatorState:
        """One path through each prefix; the state after its last observed step (``step = length``)."""
        paths, _, _ = self._paths(x, mask, lengths, 1)
        rows = torch.arange(x.shape[0], device=x.device)
        return AlternatorState(
            z=paths.z[rows, lengths - 1], z_log_prob=paths.z_log_prob[rows, lengths - 1],
            z_next=paths.z[rows, lengths], z_next_log_prob=paths.z_log_prob[rows, lengths], step=lengths.clone(),
        )

    def _impute(self, x, context, mask, lengths) -> torch.Tensor:
        """``x`` with every unobserved step replaced by the path's own sample (one path, filtering)."""
        paths, _, _ = self._paths(x, mask, lengths, 1, fill_trailing=True)
        return paths.x

    # ------------------------------------------------------------------ training
    def objective(self) -> GradientObjective:
        """``−log p̂_K`` per observed step (``nll_bound``), plus the supervised features term with ``targets``."""
        return GradientObjective(loss_fn=self._loss, eval_fn=self.evaluate_batch)

    def evaluate_batch(self, batch: SeqBatch) -> LossOutput:
        """The same figures with ``config.eval_paths`` paths, without gradients."""
        with torch.no_grad():
            return self._batch_loss(batch, self.config.eval_paths)

    def _loss(self, batch: SeqBatch, kl_weight: float) -> LossOutput:
        return self._batch_loss(batch, self.config.num_paths)  # no KL term: kl_weight does not apply

    def _batch_loss(self, batch: SeqBatch, num_paths: int) -> LossOutput:
        x, mask, lengths, _ = self.check_inputs(batch.x, mask=batch.mask, context=batch.inputs)
        weight = self.config.supervised_weight
        targets = self._check_targets(batch.targets, mask) if batch.targets is not None and weight > 0 else None
        log_w, paths = self._log_weights(x, mask, lengths, num_paths)  # [batch, K]
        n = mask.sum()
        nll = -(torch.logsumexp(log_w, dim=1) - math.log(num_paths)).sum() / n
        metrics, terms, loss = {"nll_bound": nll.detach()}, {"nll_bound": nll}, nll
        if targets is not None:
            z = paths.z[:, 1:].reshape(x.shape[0], num_paths, x.shape[1], -1)  # [batch, K, time, z_dim]
            sq = (z - targets[:, None]).pow(2).sum(-1).mean(1)  # [batch, time], averaged over paths
            features = torch.where(mask, sq, sq.new_zeros(())).sum() / n
            loss = loss + weight * features
            metrics["features_sq_err"] = features.detach()
            terms["features"] = weight * features
        return LossOutput(loss=loss, metrics=metrics, terms=terms)

    def _check_targets(self, targets, mask: torch.Tensor) -> torch.Tensor:
        """``targets: [batch, time, z_dim]`` finite at observed steps → zero-filled elsewhere, model dtype."""
        batch, steps = mask.shape
        want = f"[batch={batch}, time={steps}, z_dim={self.config.z_dim}]"
        if not isinstance(targets, torch.Tensor):
            raise DataError("batch.targets", f"expected a float tensor {want}, got {type(targets).__name__}", "convert with torch.as_tensor")
        if targets.dim() != 3 or tuple(targets.shape[:2]) != (batch, steps) or targets.shape[2] != self.config.z_dim:
            fix = f"build the model with z_dim={targets.shape[-1]}, or set feature_weight=0 to ignore the targets" if targets.dim() == 3 else "give one target vector per step"
            raise ShapeError("batch.targets", want, tuple(targets.shape), fix)
        if not targets.is_floating_point():
            raise DataError("batch.targets", f"expected a floating-point tensor, got dtype {targets.dtype}", "call targets.float()")
        targets = targets.to(device=mask.device, dtype=self.dtype)
        targets = torch.where(mask[..., None], targets, targets.new_zeros(()))  # hidden steps are never read
        if not bool(torch.isfinite(targets).all()):
            raise DataError("batch.targets", "contains NaN or inf at an observed step", "clean the targets or mask those steps")
        return targets

