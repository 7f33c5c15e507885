"""Conformance checks of how a model treats data: bad input, padding and masked values.

Masks (``mask: [batch, time]``, True = observed) follow the contract in :mod:`seqgen.model`:
padding a batch on the right with unobserved steps never changes a result, and the values at
unobserved steps are never read. Bad input raises the package's errors: NaN or an empty time
axis -> :class:`~seqgen.errors.DataError`, a wrong observation shape -> :class:`~seqgen.errors.ShapeError`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import torch

from ..data.batch import SeqBatch
from ..errors import DataError, ShapeError
from ..model import SequenceModel
from ..spec import ModelSpec
from ..validation import lengths_from_mask
from ._harness import (
    TRAINABLE,
    SkipTest,
    assert_close,
    assert_same_result,
    batch_results,
    build,
    during,
    example_batch,
    example_inputs,
    objective_outputs,
    register,
    sequence_methods,
)
from ._support import random_values

__all__ = ["check_bad_input", "check_right_padding_invariance", "check_masked_values_ignored"]

Probe = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], Any]
SCORED = ("elbo", "log_prob", "iwae", *sorted(TRAINABLE))  # a model with any of these turns a batch into numbers


def _input_probes(model: SequenceModel) -> Dict[str, Probe]:
    """Everything that takes a whole sequence: ``name -> (x, mask, context) -> result``."""
    caps = model.capabilities
    probes: Dict[str, Probe] = dict(sequence_methods(model))
    if "latents" in caps:
        probes["infer"] = lambda x, mask, ctx: model.infer(x, mask=mask, context=ctx)
    if "forecast" in caps:
        probes["condition"] = lambda x, mask, ctx: model.condition(x, mask=mask, context=ctx)
    if "impute" in caps:
        probes["impute"] = lambda x, mask, ctx: model.impute(x, mask, context=ctx)
    if caps & TRAINABLE:

        def loss(x, mask, ctx):
            lengths = lengths_from_mask(mask) if mask.shape[1] else mask.new_zeros(mask.shape[0], dtype=torch.long)
            return objective_outputs(model, SeqBatch(x=x, mask=mask, lengths=lengths, inputs=ctx), explain=False)

        probes["the objective's loss"] = loss
    return probes


def _wrong_shape(model: SequenceModel, batch: SeqBatch) -> torch.Tensor:
    obs = tuple(model.obs_shape)
    wrong = (2,) if not obs else obs[:-1] + (obs[-1] + 1,)
    return random_values(model.obs_support, (batch.batch_size, batch.num_steps, *wrong), dtype=model.dtype, device=model.device)


@register()
def check_bad_input(spec: ModelSpec, config: Any = None) -> None:
    """NaN -> DataError; a wrong trailing shape -> ShapeError; zero steps -> DataError, for every entry point."""
    model = build(spec, config)
    cls = type(model).__name__
    probes = _input_probes(model)
    if not probes:
        raise SkipTest(f"{cls} declares no method that takes a whole sequence")
    batch = example_batch(model)
    x, mask, ctx = batch.x, batch.mask, batch.inputs
    nan_x = x.to(model.dtype).clone()  # tokens become floats so they can hold a NaN
    nan_x.view(-1)[0] = float("nan")  # step 0 of sequence 0, which the mask observes
    wrong = _wrong_shape(model, batch)
    cases = [
        ("x with a NaN at an observed step", (nan_x, mask, ctx), DataError),
        (f"x with trailing shape {tuple(wrong.shape[2:])} (obs_shape is {tuple(model.obs_shape)})", (wrong, mask, ctx), ShapeError),
        ("x with zero time steps", (x[:, :0], mask[:, :0], None if ctx is None else ctx[:, :0]), DataError),
    ]
    for name, probe in probes.items():
        for what, args, expected in cases:
            torch.manual_seed(0)
            try:
                probe(*args)
            except expected:
                continue
            except Exception as e:
                raise AssertionError(f"{cls} {name} on {what} raised {type(e).__name__} ({e}), expected seqgen.{expected.__name__}") from e
            raise AssertionError(
                f"{cls} {name} accepted {what}; expected seqgen.{expected.__name__} (validate through SequenceModel.check_inputs)"
            )


@register(any_of=SCORED)
def check_right_padding_invariance(spec: ModelSpec, config: Any = None) -> None:
    """Appending unobserved steps (any values) to every sequence changes no result.

    Deterministic results must agree to float32 rounding; stochastic estimates by their mean
    (``Z`` standard errors, see :mod:`seqgen.testing._harness`).
    """
    model = build(spec, config)
    cls, pad = type(model).__name__, 3
    batch = example_batch(model)
    torch.manual_seed(1)
    extra = random_values(model.obs_support, (batch.batch_size, pad, *model.obs_shape), dtype=model.dtype, device=model.device)
    inputs = None if batch.inputs is None else torch.cat([batch.inputs, example_inputs(model, batch.batch_size, pad)], 1)
    padded = SeqBatch(
        x=torch.cat([batch.x, extra.to(batch.x.dtype)], 1),  # [batch, time + pad, *obs]
        mask=torch.cat([batch.mask, batch.mask.new_zeros(batch.batch_size, pad)], 1),
        lengths=batch.lengths,
        inputs=inputs,
    )
    results = _results(model, batch)
    for name, fn in results.items():
        with during(f"{cls} {name}"):
            assert_same_result(
                lambda: fn(batch), lambda: fn(padded), f"{cls} {name} after padding every sequence with {pad} unobserved steps"
            )


def _results(model: SequenceModel, batch: SeqBatch) -> Dict[str, Callable[[SeqBatch], torch.Tensor]]:
    """:func:`batch_results`, plus the posterior of a model with ``latents``."""
    results = dict(batch_results(model))
    if "latents" in model.capabilities:
        results.update(_infer_results(model, batch))
    return results


def _infer_results(model: SequenceModel, batch: SeqBatch) -> Dict[str, Callable[[SeqBatch], torch.Tensor]]:
    """``infer(x)[key]`` at the steps before each sequence's length (``[batch, time, …]`` outputs;
    others whole): a posterior that peeks at padding shows here exactly, before any sampling noise."""
    valid = torch.arange(batch.num_steps, device=batch.lengths.device) < batch.lengths.unsqueeze(1)  # [batch, time]

    def at_valid(b: SeqBatch, key: str) -> torch.Tensor:
        v = model.infer(b.x, mask=b.mask, context=b.inputs)[key]
        return v[:, : batch.num_steps][valid] if v.dim() >= 2 and v.shape[1] == b.num_steps else v

    keys = list(model.infer(batch.x, mask=batch.mask, context=batch.inputs))
    return {f"infer(x)[{k!r}]": (lambda b, k=k: at_valid(b, k)) for k in keys}


@register(any_of=SCORED)
def check_masked_values_ignored(spec: ModelSpec, config: Any = None) -> None:
    """Changing the values at unobserved steps (holes and padding) changes no result, under one seed."""
    model = build(spec, config)
    cls = type(model).__name__
    batch = example_batch(model, mask="holes")
    torch.manual_seed(1)
    noise = random_values(model.obs_support, tuple(batch.x.shape), dtype=model.dtype, device=model.device).to(batch.x.dtype)
    hidden = ~batch.mask.reshape(batch.mask.shape + (1,) * len(model.obs_shape))
    changed = SeqBatch(x=torch.where(hidden, noise, batch.x), mask=batch.mask, lengths=batch.lengths, inputs=batch.inputs)
    assert not torch.equal(changed.x, batch.x), "internal: the masked values did not change"
    results = _results(model, batch)
    for name, fn in results.items():
        with during(f"{cls} {name}"):
            torch.manual_seed(0)
            before = fn(batch)
            torch.manual_seed(0)
            after = fn(changed)
        assert_close(
            after, before, f"{cls} {name} read values at unobserved steps (only masked values changed, under one seed); "
            "take x through SequenceModel.check_inputs, which zero-fills them"
        )
