"""Conformance checks of the API's form: declared capabilities, per-step and whole-sequence shapes.

Shapes checked (DESIGN §2): ``initial_state(batch) -> State`` whose tensors are ``[batch, …]``;
``prior_step(state, c_t) -> (p_t, state)`` with ``p_t.batch_shape == [batch]`` and
``p_t.event_shape == obs_shape``; ``observe(state, x_t: [batch, *obs_shape]) -> State``;
``elbo``/``log_prob``/``iwae`` of ``x: [batch, time, *obs_shape]`` are finite ``[batch]``.
"""

from __future__ import annotations

from typing import Any, Dict

import torch

from ..capabilities import KNOWN_CAPABILITIES
from ..errors import CapabilityError
from ..spec import ModelSpec
from ..state import State
from ..train.objectives import GradientObjective, LocalRuleObjective, PhasedObjective
from ._harness import BATCH, STEPS, build, during, example_batch, example_inputs, register, sequence_methods, state_tensors

__all__ = ["check_capabilities_declared", "check_step_shapes", "check_sequence_output_shapes"]


def _probes(model, batch) -> Dict[str, tuple]:
    """capability word -> (what is called, a call that needs exactly that word)."""
    x, mask, ctx = batch.x, batch.mask, batch.inputs

    # Called directly, not under poutine.trace: the trace rebuilds a ValueError/RuntimeError as
    # type(e)(message), which seqgen's errors (CapabilityError needs its fields) cannot survive.
    def pyro_programs():
        model.model(x, mask=mask, context=ctx)
        model.guide(x, mask=mask, context=ctx)

    return {
        "elbo": ("elbo(x)", lambda: model.elbo(x, mask=mask, context=ctx)),
        "log_prob": ("log_prob(x)", lambda: model.log_prob(x, mask=mask, context=ctx)),
        "iwae": ("iwae(x, 2)", lambda: model.iwae(x, 2, mask=mask, context=ctx)),
        "latents": ("infer(x)", lambda: model.infer(x, mask=mask, context=ctx)),
        "pyro": ("model(x) and guide(x)", pyro_programs),
        "generate": ("distribution(num_steps)", lambda: model.distribution(STEPS)),
        "forecast": ("condition(x_prefix)", lambda: model.condition(x, mask=mask, context=ctx)),
        "impute": ("impute(x, mask)", lambda: model.impute(x, mask, context=ctx)),
    }


@register()
def check_capabilities_declared(spec: ModelSpec, config: Any = None) -> None:
    """Every word is known; a declared word's method works; an undeclared one raises CapabilityError.

    Also: ``gradient`` models hand TrainOps a Gradient- or PhasedObjective, ``adversarial`` ones a
    PhasedObjective, ``local_rule`` ones a LocalRuleObjective (and no model is both gradient and local_rule).
    """
    caps = spec.capabilities
    unknown = sorted(caps - KNOWN_CAPABILITIES)
    assert not unknown, f"unknown capability words {unknown}; known: {sorted(KNOWN_CAPABILITIES)}"
    cls = spec.model_cls.__name__
    assert frozenset(spec.model_cls.capabilities) == caps, f"spec declares {sorted(caps)} but {cls}.capabilities is {sorted(spec.model_cls.capabilities)}"
    model = build(spec, config)
    assert frozenset(model.capabilities) == caps, f"a built {cls} reports capabilities {sorted(model.capabilities)}, the spec {sorted(caps)}"
    batch = example_batch(model)
    for word, (call, probe) in _probes(model, batch).items():
        if word in caps:
            try:
                probe()
            except CapabilityError as e:
                raise AssertionError(f"{cls} declares {word!r} but {call} raised CapabilityError: {e}; implement its hook (see SequenceModel's docstring)") from e
            except Exception as e:
                raise AssertionError(f"{cls} declares {word!r} but {call} raised {type(e).__name__}: {e}") from e
            continue
        try:
            probe()
        except CapabilityError as e:
            assert e.capability == word, f"{call} on {cls} (without {word!r}) raised CapabilityError for {e.capability!r}, expected {word!r}"
        except Exception as e:
            raise AssertionError(f"{call} on {cls}, which does not declare {word!r}, raised {type(e).__name__} instead of CapabilityError: {e}") from e
        else:
            raise AssertionError(f"{call} on {cls}, which does not declare {word!r}, returned instead of raising CapabilityError; call self.require({word!r}) or declare it")

    assert not {"gradient", "local_rule"} <= caps, f"{cls} declares both 'gradient' and 'local_rule'; an objective is one or the other"
    wanted = {"gradient": (GradientObjective, PhasedObjective), "adversarial": (PhasedObjective,), "local_rule": (LocalRuleObjective,)}
    for word, kinds in wanted.items():
        if word in caps:
            with during("model.objective()"):
                objective = model.objective()
            assert isinstance(objective, kinds), (
                f"{cls} declares {word!r} but objective() returned {type(objective).__name__}, not {' or '.join(k.__name__ for k in kinds)}"
            )


def _assert_state(state: Any, batch_size: int, where: str) -> None:
    assert isinstance(state, State), f"{where} returned {type(state).__name__}, expected a seqgen.State (a @seqgen.state class)"
    for name, t in state_tensors(state):
        assert t.dim() >= 1 and t.shape[0] == batch_size, (
            f"{where}: {name} has shape {tuple(t.shape)}, expected [batch={batch_size}, …] (State tensors are batch-first)"
        )


@register(requires=("generate",))
def check_step_shapes(spec: ModelSpec, config: Any = None) -> None:
    """``initial_state``, ``prior_step`` and ``observe`` for three steps, with the model's own agent.

    ``p_t``: batch ``[batch]``, event ``obs_shape``, samples ``[batch, *obs_shape]`` inside
    ``model.obs_support``, finite ``log_prob`` ``[batch]``.
    """
    model = build(spec, config)
    cls, B, T = type(model).__name__, BATCH, 3
    obs = tuple(model.obs_shape)
    torch.manual_seed(0)
    inputs = example_inputs(model, B, T)
    agent = model.agent
    with during(f"{cls}.initial_state({B})"):
        s = model.initial_state(B)
    _assert_state(s, B, f"{cls}.initial_state({B})")
    if agent is not None:
        with during(f"agent.initial_state({B})"):
            a = agent.initial_state(B, inputs=inputs, device=model.device, dtype=model.dtype)
    for t in range(T):
        c = None
        if agent is not None:
            with during(f"agent.context(state) at step {t}"):
                c, a = agent.context(a)
            assert c.shape[0] == B, f"agent.context at step {t}: c_t has shape {tuple(c.shape)}, expected [batch={B}, context_dim]"
        with during(f"{cls}.prior_step(state, c_t) at step {t}"):
            p, s = model.prior_step(s, c)
        assert isinstance(p, torch.distributions.Distribution), f"prior_step at step {t} returned {type(p).__name__}, expected a Distribution"
        assert tuple(p.batch_shape) == (B,), f"prior_step at step {t}: p_t.batch_shape is {tuple(p.batch_shape)}, expected ({B},); wrap the per-dim distribution in .to_event()"
        assert tuple(p.event_shape) == obs, f"prior_step at step {t}: p_t.event_shape is {tuple(p.event_shape)}, expected obs_shape {obs}"
        _assert_state(s, B, f"{cls}.prior_step at step {t}")
        with during(f"p_t.sample() at step {t}"):
            x_t = p.sample()
        assert tuple(x_t.shape) == (B, *obs), f"p_t.sample() at step {t} has shape {tuple(x_t.shape)}, expected {(B, *obs)}"
        assert bool(model.obs_support.check(x_t).all()), f"p_t.sample() at step {t} lies outside model.obs_support {model.obs_support}"
        with during(f"p_t.log_prob(x_t) at step {t}"):
            lp = p.log_prob(x_t)
        assert tuple(lp.shape) == (B,) and bool(torch.isfinite(lp).all()), f"p_t.log_prob(x_t) at step {t}: shape {tuple(lp.shape)}, values {lp.tolist()}; expected finite [{B}]"
        with during(f"{cls}.observe(state, x_t) at step {t}"):
            s = model.observe(s, x_t)
        _assert_state(s, B, f"{cls}.observe at step {t}")
        if agent is not None:
            with during(f"agent.observe(state, x_t) at step {t}"):
                a = agent.observe(a, x_t)


@register(any_of=("elbo", "log_prob", "iwae"))
def check_sequence_output_shapes(spec: ModelSpec, config: Any = None) -> None:
    """``elbo``/``log_prob``/``iwae`` give finite floating ``[batch]`` results (a ragged batch, and one 1-step sequence)."""
    model = build(spec, config)
    cls = type(model).__name__
    for batch in (example_batch(model), example_batch(model, batch_size=1, num_steps=1)):
        for name, fn in sequence_methods(model).items():
            torch.manual_seed(0)
            with during(f"{cls}.{name} on x of shape {tuple(batch.x.shape)}"):
                out = fn(batch.x, batch.mask, batch.inputs)
            assert isinstance(out, torch.Tensor) and out.is_floating_point(), f"{cls}.{name} returned {type(out).__name__} {getattr(out, 'dtype', '')}, expected a float tensor"
            assert tuple(out.shape) == (batch.batch_size,), (
                f"{cls}.{name}: expected shape [batch={batch.batch_size}] (one value per sequence, summed over steps), got {tuple(out.shape)}"
            )
            assert bool(torch.isfinite(out).all()), f"{cls}.{name} is not finite: {out.tolist()}"
