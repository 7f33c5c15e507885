"""The machinery shared by every conformance check: the registry, model building, example
batches, and the two comparisons (exact, and "same mean" for stochastic estimates).

Statistical comparisons declare their failure rate (STYLE 13): a mean is judged different when it
is more than ``Z = 6`` standard errors (plus a float32 rounding allowance) away. For a correct
model one compared value fails with probability about 1e-7 with 64 replicates and 1.2e-6 with 32
paired seeds (two-sided Student-t tails at 63 and 31 degrees of freedom; the normal tail is 2e-9).
Every check also fixes its seeds, so a given model either always passes or always fails.
"""

from __future__ import annotations

import contextlib
import functools
import math
import unittest
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import attrs
import torch

from ..capabilities import validate_capabilities
from ..data.batch import SeqBatch
from ..errors import ConfigError
from ..model import SequenceModel
from ..spec import ModelSpec
from ..state import State
from ..train.objectives import GradientObjective, LocalRuleObjective, LossOutput, PhasedObjective
from ._support import random_values

Z = 6.0  # standard errors before two means count as different (see the module docstring)
RTOL, ATOL = 1e-5, 1e-5  # float32 rounding allowance for results that should agree exactly
BATCH, STEPS = 3, 5  # the example batch: tiny, ragged, long enough for recurrence to matter
TRAINABLE = frozenset({"gradient", "local_rule", "adversarial"})
SkipTest = unittest.SkipTest  # what a check raises when it cannot apply here (pytest shows a skip)


@attrs.frozen
class Check:
    """A registered check: ``fn(spec, config)`` and the capabilities that select it.

    It applies to a model that declares every word of ``requires``, at least one word of
    ``any_of`` (when given), and no word of ``excludes``.
    """

    name: str
    fn: Callable[[ModelSpec, Any], None]
    requires: frozenset = frozenset()
    any_of: frozenset = frozenset()
    excludes: frozenset = frozenset()

    def applies_to(self, capabilities) -> bool:
        caps = frozenset(capabilities)
        return self.requires <= caps and (not self.any_of or bool(self.any_of & caps)) and not (self.excludes & caps)

    def __call__(self, spec: ModelSpec, config: Any = None) -> None:
        self.fn(spec, config)


REGISTRY: Dict[str, Check] = {}


def register(*, requires=(), any_of=(), excludes=()):
    """Decorator: register ``check_xxx(spec, config)`` with the capabilities that select it.

    The registered function stays a plain function; it gains a default ``config`` (the spec's
    ``test_config``) and leaves torch's global RNG as it found it.
    """

    def wrap(fn):
        @functools.wraps(fn)
        def check(spec: ModelSpec, config: Any = None) -> None:
            if not isinstance(spec, ModelSpec):
                raise ConfigError("spec", f"spec: expected a seqgen.ModelSpec, got {type(spec).__name__}", "pass the plugin's SPEC")
            cuda = [torch.cuda.current_device()] if torch.cuda.is_available() else []
            with torch.random.fork_rng(devices=cuda):
                fn(spec, default_config(spec, config))

        REGISTRY[fn.__name__] = Check(
            name=fn.__name__,
            fn=check,
            requires=validate_capabilities(requires, owner=f"{fn.__name__} requires"),
            any_of=validate_capabilities(any_of, owner=f"{fn.__name__} any_of"),
            excludes=validate_capabilities(excludes, owner=f"{fn.__name__} excludes"),
        )
        return check

    return wrap


def default_config(spec: ModelSpec, config: Any = None) -> Any:
    """``config``, or the spec's tiny test configuration."""
    return spec.make_config(**spec.test_config) if config is None else config


@contextlib.contextmanager
def during(what: str) -> Iterator[None]:
    """Turn an error raised by model code into an AssertionError that says what was being done."""
    try:
        yield
    except (AssertionError, SkipTest):
        raise
    except Exception as e:
        raise AssertionError(f"{what} raised {type(e).__name__}: {e}") from e


def build(spec: ModelSpec, config: Any, *, seed: int = 0) -> SequenceModel:
    """``spec.build(config)`` with parameters initialised under ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    with during(f"building {spec.name!r} from {config!r}"):
        model = spec.build(config)
    assert isinstance(model, SequenceModel), f"spec.build returned {type(model).__name__}, not a seqgen.SequenceModel"
    return model


def example_inputs(model: SequenceModel, batch_size: int, num_steps: int) -> Optional[torch.Tensor]:
    """Given per-step inputs ``[batch, time, input_dim]`` when the model takes them, else None."""
    if model.input_dim == 0:
        return None
    return torch.randn(batch_size, num_steps, model.input_dim, dtype=model.dtype, device=model.device)


def example_mask(batch_size: int, num_steps: int, *, kind: str = "ragged", device=None) -> torch.Tensor:
    """A fixed ``[batch, time]`` mask: ``full``, ``ragged`` (right-padded rows) or ``holes`` (also gaps inside)."""
    mask = torch.ones(batch_size, num_steps, dtype=torch.bool, device=device)
    if kind in ("ragged", "holes"):
        for row in range(1, batch_size):
            mask[row, max(1, num_steps - row) :] = False  # lengths T, T-1, T-2, ... (at least 1)
    if kind == "holes" and num_steps > 2:
        mask[0, 1] = False  # a gap inside the longest row
        if batch_size > 1 and mask[-1].sum() > 1:
            mask[-1, 0] = False  # a row whose first step is missing
    return mask


def example_batch(model: SequenceModel, *, batch_size: int = BATCH, num_steps: int = STEPS, mask: str = "ragged", seed: int = 0) -> SeqBatch:
    """A random batch the model accepts: values in ``model.obs_support``, model dtype and device."""
    torch.manual_seed(seed)
    with during("drawing example data from model.obs_support"):
        x = random_values(model.obs_support, (batch_size, num_steps, *model.obs_shape), dtype=model.dtype, device=model.device)
    m = example_mask(batch_size, num_steps, kind=mask, device=model.device)
    x = torch.where(m.reshape(m.shape + (1,) * len(model.obs_shape)), x, torch.zeros((), dtype=x.dtype, device=x.device))
    return SeqBatch.from_tensor(x, m, inputs=example_inputs(model, batch_size, num_steps))


SequenceFn = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


def sequence_methods(model: SequenceModel) -> Dict[str, SequenceFn]:
    """The declared whole-sequence results, each ``(x, mask, context) -> [batch]``."""
    fns: Dict[str, SequenceFn] = {}
    if "elbo" in model.capabilities:
        fns["elbo"] = lambda x, mask, context: model.elbo(x, mask=mask, context=context)
    if "log_prob" in model.capabilities:
        fns["log_prob"] = lambda x, mask, context: model.log_prob(x, mask=mask, context=context)
    if "iwae" in model.capabilities:
        fns["iwae"] = lambda x, mask, context: model.iwae(x, 3, mask=mask, context=context)
    return fns


def objective_outputs(model: SequenceModel, batch: SeqBatch, *, kl_weight: float = 1.0, explain: bool = True) -> Dict[str, LossOutput]:
    """Every loss the model's objective computes on ``batch``, keyed by where it came from.

    explain: turn the model's errors into AssertionErrors saying which loss raised them (False:
    let them through, for checks that expect a particular error).
    """
    ctx = during if explain else (lambda what: contextlib.nullcontext())
    with ctx("model.objective()"):
        objective = model.objective()
    if isinstance(objective, GradientObjective):
        with ctx("GradientObjective.loss_fn(batch, kl_weight)"):
            return {"loss_fn": objective.loss_fn(batch, kl_weight)}
    if isinstance(objective, PhasedObjective):
        out = {}
        for phase in objective.phases:
            with ctx(f"phase {phase.name!r} loss_fn(batch)"):
                out[f"phase {phase.name!r}"] = phase.loss_fn(batch)
        return out
    if isinstance(objective, LocalRuleObjective):
        with torch.no_grad(), ctx("LocalRuleObjective.statistics_fn(batch)"):
            return {"statistics_fn": objective.statistics_fn(batch)}
    raise AssertionError(f"objective() returned {type(objective).__name__}, not a Gradient-, Phased- or LocalRuleObjective")


def objective_losses(model: SequenceModel, batch: SeqBatch) -> Dict[str, torch.Tensor]:
    """The scalar ``loss`` of every output of :func:`objective_outputs`."""
    return {k: v.loss for k, v in objective_outputs(model, batch).items()}


@contextlib.contextmanager
def restored(model: SequenceModel) -> Iterator[None]:
    """Put every parameter and buffer back afterwards: a local rule may advance persistent buffers
    (e.g. sampling chains), and a comparison must start both calls from the same model state."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        yield
    finally:
        with torch.no_grad():
            for k, v in model.state_dict().items():
                v.copy_(saved[k])


def batch_results(model: SequenceModel) -> Dict[str, Callable[[SeqBatch], torch.Tensor]]:
    """Every result a batch produces: the declared ``[batch]`` methods and the objective's scalar
    losses, each computed from the model's current state (see :func:`restored`)."""
    results: Dict[str, Callable[[SeqBatch], torch.Tensor]] = {
        name: (lambda b, fn=fn: fn(b.x, b.mask, b.inputs)) for name, fn in sequence_methods(model).items()
    }
    if model.capabilities & TRAINABLE:
        with restored(model):
            keys = list(objective_losses(model, example_batch(model, batch_size=1, num_steps=2)))
        for key in keys:
            results[f"{key} loss"] = lambda b, key=key: objective_losses(model, b)[key]

    def pure(fn):
        def call(b: SeqBatch) -> torch.Tensor:
            with restored(model):
                return fn(b)

        return call

    return {name: pure(fn) for name, fn in results.items()}


def state_tensors(state: Any, prefix: str = "state") -> List[Tuple[str, torch.Tensor]]:
    """``(field path, tensor)`` for every tensor in a :class:`~seqgen.State` (nested States and tuples too)."""
    if isinstance(state, torch.Tensor):
        return [(prefix, state)]
    if isinstance(state, State) and attrs.has(type(state)):
        return [pair for a in attrs.fields(type(state)) for pair in state_tensors(getattr(state, a.name), f"{prefix}.{a.name}")]
    if isinstance(state, (tuple, list)):
        return [pair for i, v in enumerate(state) for pair in state_tensors(v, f"{prefix}[{i}]")]
    return []


def rollout(model: SequenceModel, batch_size: int, num_steps: int, *, record: bool = False):
    """``(rollout, inputs)``: a GenCore run of the model with its own agent, and the example
    inputs ``[batch, time, input_dim]`` it was given (None when the model takes none)."""
    from ..gencore import GenCore

    inputs = example_inputs(model, batch_size, num_steps)
    with during(f"GenCore(model, model.agent).run({batch_size}, {num_steps}, record={record})"):
        return GenCore(model, model.agent).run(batch_size, num_steps, inputs=inputs, record=record), inputs


def seeded(seed: int, fn: Callable[[], Any]) -> Any:
    torch.manual_seed(seed)
    return fn()


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().double() - b.detach().double()).abs().max()) if a.numel() else 0.0


def assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str, *, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Same shape and values within ``atol + rtol * |expected|``."""
    assert tuple(actual.shape) == tuple(expected.shape), f"{what}: shape {tuple(actual.shape)} differs from {tuple(expected.shape)}"
    a, e = actual.detach().double().cpu(), expected.detach().double().cpu()
    assert torch.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True), (
        f"{what}: values differ (max |diff| {max_diff(a, e):.3g}, tolerance {atol} + {rtol}*|value|)\n"
        f"  got      {a.flatten()[:6].tolist()}\n  expected {e.flatten()[:6].tolist()}"
    )


def mean_and_se(samples: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``samples: [n, *] -> (mean [*], standard error [*])`` in float64."""
    s = samples.detach().double()
    return s.mean(0), s.std(0) / math.sqrt(s.shape[0])


def assert_mean_at_most(low: torch.Tensor, high: torch.Tensor, what: str) -> None:
    """``mean(low) <= mean(high)`` up to ``Z`` standard errors: ``low, high: [n, *]`` replicate samples."""
    ml, sl = mean_and_se(low)
    mh, sh = mean_and_se(high)
    slack = Z * (sl**2 + sh**2).sqrt() + ATOL * (1 + mh.abs())
    excess = ml - mh - slack
    assert bool((excess <= 0).all()), (
        f"{what}: mean {ml.flatten()[:6].tolist()} exceeds {mh.flatten()[:6].tolist()} "
        f"by more than {Z} standard errors ({slack.flatten()[:6].tolist()})"
    )


def assert_same_result(fn_a: Callable[[], torch.Tensor], fn_b: Callable[[], torch.Tensor], what: str, *, draws: int = 32) -> None:
    """``fn_a()`` and ``fn_b()`` give the same result.

    Equal under one seed passes. Otherwise a deterministic ``fn_a`` (equal under two seeds) fails,
    and a stochastic one must agree in mean: the paired differences ``fn_a() - fn_b()`` under seeds
    ``0..draws-1`` must average to zero within ``Z`` standard errors. Pairing by seed keeps the test
    sharp when both draw the same noise, and is no weaker than comparing two means when they do not.
    """
    a, b = seeded(0, fn_a), seeded(0, fn_b)
    assert tuple(a.shape) == tuple(b.shape), f"{what}: shape {tuple(b.shape)} differs from {tuple(a.shape)}"
    if torch.allclose(a.detach().double(), b.detach().double(), rtol=RTOL, atol=ATOL):
        return
    if torch.equal(a, seeded(1, fn_a)):  # deterministic: it really changed
        assert_close(b, a, what)
    diffs = torch.stack([seeded(s, fn_a).detach() - seeded(s, fn_b).detach() for s in range(draws)])  # [draws, *]
    mean, se = mean_and_se(diffs)
    slack = Z * se + ATOL * (1 + a.detach().double().abs())
    assert bool((mean.abs() <= slack).all()), (
        f"{what}: a stochastic estimate whose mean moved by {mean.flatten()[:6].tolist()} "
        f"(more than {Z} standard errors, {(Z * se).flatten()[:6].tolist()}, over {draws} seeds)"
    )


def replicate(fn: SequenceFn, batch: SeqBatch, replicates: int) -> torch.Tensor:
    """``fn`` on the batch repeated ``replicates`` times in one call: ``[replicates, batch]``."""
    r = replicates
    x = batch.x.repeat((r,) + (1,) * (batch.x.dim() - 1))  # [r * batch, time, *obs]
    ctx = None if batch.inputs is None else batch.inputs.repeat(r, 1, 1)
    return fn(x, batch.mask.repeat(r, 1), ctx).reshape(r, batch.batch_size)
