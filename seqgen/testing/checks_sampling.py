"""Conformance checks of sampling and of the bounds: SequenceDistribution, one prior for sampling
and training, and the ordering of the estimators.

- ``SequenceDistribution`` (DESIGN §3): ``sample(S)`` is ``S + batch_shape + (T, *obs_shape)``;
  ``log_prob`` is ``S + batch_shape`` where the model has an exact one, else CapabilityError;
  ``support.event_dim == len(event_shape)``; ``rsample`` is differentiable when ``has_rsample``.
- Exact models: ``Σ_t log p_t(x_t)`` recorded while GenCore samples equals ``model.log_prob(x)``.
- Latent models: the ``z_log_prob`` recorded while sampling equals the teacher-forced
  ``log p(z_t | z_{<t}, x_{<t})`` of :meth:`~seqgen.SequenceModel.prior_log_prob`, step by step.
- ``E[ELBO] <= log p(x)`` and ``E[IWAE_K] <= log p(x)``; ``E[IWAE_K]`` is non-decreasing in ``K``
  (Burda et al., 2016, *Importance Weighted Autoencoders*, Theorem 1). These are compared by
  their means over 64 seeded replicates (``Z`` standard errors, see :mod:`seqgen.testing._harness`).
"""

from __future__ import annotations

from typing import Any

import attrs
import torch

from ..errors import CapabilityError
from ..spec import ModelSpec
from ._harness import (
    BATCH,
    assert_close,
    assert_mean_at_most,
    build,
    during,
    example_batch,
    example_inputs,
    register,
    replicate,
    rollout,
)

__all__ = [
    "check_sequence_distribution",
    "check_log_prob_matches_generation",
    "check_prior_matches_generation",
    "check_elbo_below_log_prob",
    "check_iwae_non_decreasing",
]

REPLICATES = 64
PARTICLES = (1, 4, 16)


@register(requires=("generate",))
def check_sequence_distribution(spec: ModelSpec, config: Any = None) -> None:
    """``model.distribution(T).expand([B])`` has the shapes, support and ``log_prob``/``rsample`` of DESIGN §3."""
    model = build(spec, config)
    cls, B, T, obs = type(model).__name__, 2, 3, tuple(model.obs_shape)
    torch.manual_seed(0)
    inputs = example_inputs(model, 1, T)
    with during(f"{cls}.distribution({T})"):
        d = model.distribution(T, inputs=None if inputs is None else inputs[0])
    assert tuple(d.batch_shape) == () and tuple(d.event_shape) == (T, *obs), (
        f"distribution({T}): batch_shape {tuple(d.batch_shape)}, event_shape {tuple(d.event_shape)}; expected () and {(T, *obs)}"
    )
    with during(f"distribution({T}).expand([{B}])"):
        d = d.expand([B])
    assert tuple(d.batch_shape) == (B,), f"expand([{B}]) gave batch_shape {tuple(d.batch_shape)}"
    assert d.support.event_dim == len(d.event_shape), f"support.event_dim is {d.support.event_dim}, expected len(event_shape) = {len(d.event_shape)}"
    for sample_shape in ((), (2,), (2, 1)):
        with during(f"sample({sample_shape})"):
            x = d.sample(torch.Size(sample_shape))
        want = (*sample_shape, B, T, *obs)
        assert tuple(x.shape) == want, f"sample({sample_shape}) has shape {tuple(x.shape)}, expected sample_shape + batch_shape + (T, *obs_shape) = {want}"
        assert bool(d.support.check(x).all()), f"sample({sample_shape}) lies outside the support {d.support}"
        if "log_prob" in spec.capabilities:
            with during(f"log_prob(sample({sample_shape}))"):
                lp = d.log_prob(x)
            assert tuple(lp.shape) == (*sample_shape, B), f"log_prob of sample({sample_shape}) has shape {tuple(lp.shape)}, expected {(*sample_shape, B)}"
            assert bool(torch.isfinite(lp).all()), f"log_prob of sample({sample_shape}) is not finite: {lp.tolist()}"
        else:
            try:
                d.log_prob(x)
            except CapabilityError:
                continue
            except Exception as e:
                raise AssertionError(f"{cls} has no 'log_prob': SequenceDistribution.log_prob should raise CapabilityError, not {type(e).__name__}: {e}") from e
            raise AssertionError(f"{cls} has no 'log_prob' but SequenceDistribution.log_prob returned a value (an ELBO passed off as a log-probability?)")
    if d.has_rsample:
        with during("rsample()"):
            r = d.rsample()
        assert tuple(r.shape) == (B, T, *obs), f"rsample() has shape {tuple(r.shape)}, expected {(B, T, *obs)}"
        params = [p for p in model.parameters() if p.requires_grad]
        grads = torch.autograd.grad(r.sum(), params, allow_unused=True) if r.requires_grad else [None] * len(params)
        assert any(g is not None and bool((g != 0).any()) for g in grads), (
            f"{cls}.has_rsample is True but rsample() carries no gradient to the parameters; "
            "sample each step with rsample and outside torch.no_grad, or report has_rsample = False"
        )


@register(requires=("log_prob", "generate"), excludes=("latents",))
def check_log_prob_matches_generation(spec: ModelSpec, config: Any = None) -> None:
    """``Σ_t log p_t(x_t)`` recorded by GenCore equals ``model.log_prob(x)`` on the sampled ``x``.

    Only for models without latents: with latents, ``p_t`` is conditioned on the sampled ``z_t``
    and the sum is ``log p(x | z)``, not ``log p(x)``.
    """
    model = build(spec, config)
    cls, T = type(model).__name__, 6
    torch.manual_seed(0)
    r, inputs = rollout(model, BATCH, T, record=True)
    with during(f"{cls}.log_prob on GenCore's samples"):
        exact = model.log_prob(r.x, context=inputs)
    recorded = r.log_probs.sum(1)  # [batch]
    assert_close(
        exact, recorded, f"{cls}.log_prob(x) vs Σ_t log p_t(x_t) recorded while sampling x (sampling and scoring use different p(x_t | x_<t))",
        rtol=1e-4, atol=1e-3,
    )


@register(requires=("latents", "generate"))
def check_prior_matches_generation(spec: ModelSpec, config: Any = None) -> None:
    """The ``z`` and ``z_log_prob`` in the state after each sampled step agree with
    ``model.prior_log_prob(x, z)`` (the prior the ELBO uses), step by step."""
    model = build(spec, config)
    cls, T = type(model).__name__, 6
    torch.manual_seed(0)
    r, inputs = rollout(model, BATCH, T, record=True)
    first = r.states[0]
    fields = {a.name for a in attrs.fields(type(first))} if attrs.has(type(first)) else set()
    assert {"z", "z_log_prob"} <= fields, (
        f"{cls} declares 'latents' and 'generate', so its state after each step needs fields z [batch, z_dim] and "
        f"z_log_prob [batch] (see seqgen.model); {type(first).__name__} has {sorted(fields)}"
    )
    z = torch.stack([s.z for s in r.states], 1)  # [batch, T, z_dim]
    sampled = torch.stack([s.z_log_prob for s in r.states], 1)  # [batch, T]
    assert tuple(sampled.shape) == (BATCH, T), f"state.z_log_prob stacks to {tuple(sampled.shape)}, expected [batch={BATCH}, T={T}]"
    with during(f"{cls}.prior_log_prob(x, z) on GenCore's samples"):
        scored = model.prior_log_prob(r.x, z, context=inputs)
    assert tuple(scored.shape) == (BATCH, T), f"prior_log_prob(x, z) has shape {tuple(scored.shape)}, expected [batch={BATCH}, T={T}]"
    per_step = (scored.detach().double() - sampled.detach().double()).abs().amax(0)  # [T]
    assert_close(
        scored, sampled,
        f"{cls}: prior_log_prob(x, z) vs the z_log_prob recorded while sampling (max |diff| per step "
        f"{[round(float(v), 4) for v in per_step]}); sampling and the ELBO use different priors p(z_t | z_<t, x_<t)",
        rtol=1e-4, atol=1e-3,
    )


def _method(model, name, *args):
    return lambda x, mask, ctx: getattr(model, name)(x, *args, mask=mask, context=ctx)


@register(requires=("elbo", "log_prob"))
def check_elbo_below_log_prob(spec: ModelSpec, config: Any = None) -> None:
    """``E[elbo(x)] <= log_prob(x)`` per sequence (and ``E[iwae(x, K)] <= log_prob(x)`` with ``iwae``)."""
    model = build(spec, config)
    cls = type(model).__name__
    batch = example_batch(model)
    torch.manual_seed(0)
    with during(f"{cls}.log_prob"):
        exact = replicate(_method(model, "log_prob"), batch, 2)  # [2, batch]
    bounds = {"elbo": _method(model, "elbo")}
    if "iwae" in spec.capabilities:
        bounds.update({f"iwae K={k}": _method(model, "iwae", k) for k in PARTICLES[1:]})
    for name, fn in bounds.items():
        with during(f"{cls}.{name}"):
            samples = replicate(fn, batch, REPLICATES)  # [replicates, batch]
        assert_mean_at_most(samples, exact, f"{cls}: {name} (a lower bound on log p(x)) above log_prob(x)")


@register(requires=("iwae",))
def check_iwae_non_decreasing(spec: ModelSpec, config: Any = None) -> None:
    """The batch-average of ``iwae(x, K)`` does not decrease from K = 1 to 4 to 16 (by its mean over replicates)."""
    model = build(spec, config)
    cls = type(model).__name__
    batch = example_batch(model)
    torch.manual_seed(0)
    means = {}
    for k in PARTICLES:
        with during(f"{cls}.iwae(x, {k})"):
            means[k] = replicate(_method(model, "iwae", k), batch, REPLICATES).mean(1)  # [replicates]
    for lo, hi in zip(PARTICLES, PARTICLES[1:]):
        assert_mean_at_most(means[lo], means[hi], f"{cls}: iwae with K={lo} particles above K={hi} (IWAE_K must not decrease in K)")
