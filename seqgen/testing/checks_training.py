"""Conformance checks of what TrainOps relies on: finite losses, gradients everywhere, mixed
precision, seeds, dtype/device moves, and a safetensors save/load round trip (DESIGN §4).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Iterable, Tuple

import torch
from safetensors.torch import load_file, save_file

from ..amp import autocast_off
from ..model import SequenceModel
from ..spec import ModelSpec
from ..train.objectives import GradientObjective, LocalRuleObjective, LossOutput, PhasedObjective
from ._harness import (
    BATCH,
    TRAINABLE,
    assert_close,
    batch_results,
    build,
    during,
    example_batch,
    max_diff,
    objective_outputs,
    register,
    rollout,
    state_tensors,
)

__all__ = [
    "check_loss_finite",
    "check_gradients_reach_every_parameter",
    "check_mixed_precision",
    "check_seed_determinism",
    "check_dtype_device_moves",
    "check_save_load_round_trip",
]


def _scalars(out: LossOutput) -> Iterable[Tuple[str, Any]]:
    yield "loss", out.loss
    for k, v in out.metrics.items():
        yield f"metrics[{k!r}]", v
    for k, v in out.terms.items():
        yield f"terms[{k!r}]", v


@register(any_of=tuple(TRAINABLE))
def check_loss_finite(spec: ModelSpec, config: Any = None) -> None:
    """The objective's loss, metrics and terms are finite scalars (full and ragged batches, kl_weight 0.5),
    and so is ``objective.evaluate``; a LocalRuleObjective's ``grads`` are finite and shaped like their parameters."""
    model = build(spec, config)
    cls = type(model).__name__
    params = dict(model.named_parameters())
    for kind in ("full", "ragged"):
        batch = example_batch(model, mask=kind)
        torch.manual_seed(0)
        outputs = dict(objective_outputs(model, batch, kl_weight=0.5))
        with during("objective.evaluate(batch)"):
            outputs["evaluate"] = model.objective().evaluate(batch)
        for where, out in outputs.items():
            assert isinstance(out, LossOutput), f"{cls} {where} returned {type(out).__name__}, expected a LossOutput"
            assert isinstance(out.loss, torch.Tensor) and out.loss.dim() == 0, f"{cls} {where}: loss must be a scalar tensor, got {out.loss!r}"
            for name, value in _scalars(out):
                v = torch.as_tensor(value).detach()
                assert bool(torch.isfinite(v).all()), f"{cls} {where}: {name} is {v.tolist()} on a {kind} batch (a finite value was expected)"
            for pname, g in (out.grads or {}).items():
                assert pname in params, f"{cls} {where}: grads names {pname!r}, which is not a parameter; names are {sorted(params)}"
                assert g.shape == params[pname].shape, f"{cls} {where}: grads[{pname!r}] has shape {tuple(g.shape)}, the parameter {tuple(params[pname].shape)}"
                assert bool(torch.isfinite(g).all()), f"{cls} {where}: grads[{pname!r}] is not finite"


@register(requires=("gradient",))
def check_gradients_reach_every_parameter(spec: ModelSpec, config: Any = None) -> None:
    """Every ``requires_grad`` parameter gets a finite, not-all-zero gradient from the loss
    (a PhasedObjective: from at least one of its phases)."""
    model = build(spec, config)
    cls = type(model).__name__
    batch = example_batch(model)
    with during("model.objective()"):
        objective = model.objective()
    if isinstance(objective, GradientObjective):
        losses = [("loss_fn", lambda: objective.loss_fn(batch, 1.0))]
    elif isinstance(objective, PhasedObjective):
        losses = [(f"phase {p.name!r}", lambda p=p: p.loss_fn(batch)) for p in objective.phases]
    else:
        raise AssertionError(f"{cls} declares 'gradient' but objective() returned {type(objective).__name__}")
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert params, f"{cls} declares 'gradient' but has no parameter that requires a gradient"
    reached = set()
    for where, loss_fn in losses:
        model.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        with during(f"{where} and backward()"):
            loss_fn().loss.backward()
        for name, p in params.items():
            if p.grad is None:
                continue
            assert bool(torch.isfinite(p.grad).all()), f"{cls}: {where} gives {name} a non-finite gradient"
            if bool((p.grad != 0).any()):
                reached.add(name)
    model.zero_grad(set_to_none=True)
    missing = [n for n in params if n not in reached]
    assert not missing, (
        f"{cls}: parameters {missing} get no gradient (None or all zero) from {', '.join(w for w, _ in losses)}; "
        "a detached tensor, an unused layer, or a parameter that should be a buffer"
    )


@register(any_of=tuple(TRAINABLE))
def check_mixed_precision(spec: ModelSpec, config: Any = None) -> None:
    """Under ``torch.autocast`` (bf16 on the CPU, as TrainConfig ``precision='bf16'`` runs it, and
    fp16 on CUDA when a GPU is present) every loss the objective computes is a finite scalar, and
    backward gives each parameter a finite gradient of the parameter's own dtype.

    Catches preallocated buffers (``out=``, in-place ops) that meet autocast's low-precision
    products. How close those losses come to the full-precision ones depends on the model (and a
    stochastic loss may draw its noise differently), so that is for a model's own tests."""
    runs = [("cpu", torch.bfloat16)] + ([("cuda", torch.float16)] if torch.cuda.is_available() else [])
    for device, low in runs:
        model = build(spec, config).to(device)
        cls, where_run = type(model).__name__, f"torch.autocast({device!r}, {low})"
        batch = example_batch(model)
        torch.manual_seed(0)
        with torch.autocast(device, dtype=low), during(f"the objective under {where_run}"):
            outputs = objective_outputs(model, batch, explain=False)
        for where, out in outputs.items():
            loss = out.loss
            assert isinstance(loss, torch.Tensor) and loss.dim() == 0 and bool(torch.isfinite(loss.detach())), f"{cls} {where} under {where_run}: loss {loss!r} (a finite scalar was expected)"
            if not loss.requires_grad:
                continue
            model.zero_grad(set_to_none=True)
            with autocast_off(device), during(f"{where}: backward() of the loss computed under {where_run}"):
                loss.backward()
            for name, p in model.named_parameters():
                if p.grad is None:
                    continue
                assert p.grad.dtype == p.dtype, f"{cls} {where} under {where_run}: {name}.grad is {p.grad.dtype}, the parameter {p.dtype}"
                assert bool(torch.isfinite(p.grad).all()), f"{cls} {where} under {where_run}: {name} gets a non-finite gradient"


def _samples(model: SequenceModel) -> torch.Tensor:
    return rollout(model, BATCH, 4)[0].x


@register()
def check_seed_determinism(spec: ModelSpec, config: Any = None) -> None:
    """The same ``torch.manual_seed`` gives the same parameters, results, losses and samples."""
    cls = spec.model_cls.__name__
    first, second = build(spec, config), build(spec, config)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), f"{cls}: building twice under torch.manual_seed(0) gave two different {name}; an RNG that torch.manual_seed does not reach (numpy, random, a private torch.Generator)"
    batch = example_batch(first)
    results = dict(batch_results(first))
    if "generate" in spec.capabilities:
        results["samples from GenCore"] = lambda b: _samples(first)
    for name, fn in results.items():
        with during(f"{cls} {name}"):
            torch.manual_seed(7)
            once = fn(batch)
            torch.manual_seed(7)
            again = fn(batch)
        assert torch.equal(once, again), (
            f"{cls} {name} differs between two runs under torch.manual_seed(7) (max |diff| "
            f"{max_diff(once, again):.3g}); draw every random number from torch's global RNG"
        )


def _assert_follows(what: str, tensors: Iterable[Tuple[str, torch.Tensor]], dtype: torch.dtype, device: torch.device) -> None:
    for name, t in tensors:
        assert t.device.type == device.type, f"{what}: {name} is on {t.device}, expected {device}; allocate from existing tensors (x.new_zeros)"
        if t.is_floating_point():
            assert t.dtype == dtype, f"{what}: {name} is {t.dtype}, expected {dtype}; allocate from existing tensors (x.new_zeros) or pass dtype="


def _follows(spec: ModelSpec, config: Any, label: str, move) -> None:
    model = build(spec, config)
    with during(f"model.{label}"):
        model = move(model)
    dtype, device = model.dtype, model.device
    what = f"{type(model).__name__} after model.{label}"
    batch = example_batch(model)
    torch.manual_seed(0)
    if "generate" in spec.capabilities:
        with during(f"{what}: initial_state"):
            _assert_follows(what, state_tensors(model.initial_state(BATCH), "initial_state"), dtype, device)
        r, _ = rollout(model, BATCH, 3, record=True)
        _assert_follows(what, [("GenCore sample x", r.x), ("GenCore log_probs", r.log_probs)], dtype, device)
        for t, s in enumerate(r.states):
            _assert_follows(what, state_tensors(s, f"state after step {t}"), dtype, device)
    for name, fn in batch_results(model).items():
        with during(f"{what}: {name}"):
            _assert_follows(what, [(name, fn(batch))], dtype, device)
    if "latents" in spec.capabilities:
        with during(f"{what}: infer"):
            _assert_follows(what, model.infer(batch.x, mask=batch.mask, context=batch.inputs).items(), dtype, device)
    with during(f"{what}: objective()"):
        objective = model.objective() if spec.capabilities & TRAINABLE else None
    if isinstance(objective, LocalRuleObjective):
        with torch.no_grad(), during(f"{what}: statistics_fn"):
            _assert_follows(what, (objective.statistics_fn(batch).grads or {}).items(), dtype, device)


@register()
def check_dtype_device_moves(spec: ModelSpec, config: Any = None) -> None:
    """After ``model.double()`` states, samples, results and losses are float64; with CUDA, the same on ``cuda``.

    Catches tensors allocated with ``torch.zeros(...)`` instead of from the model's own tensors.
    """
    _follows(spec, config, "double()", lambda m: m.double())
    if torch.cuda.is_available():
        _follows(spec, config, "to('cuda')", lambda m: m.to("cuda"))


@register()
def check_save_load_round_trip(spec: ModelSpec, config: Any = None) -> None:
    """``state_dict`` through safetensors into a fresh model (built from the same config under
    another seed) gives identical results, losses and samples under one seed."""
    model = build(spec, config, seed=0)
    cls = type(model).__name__
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.safetensors")
        # clone: safetensors refuses tensors that share storage (tied weights)
        with during("safetensors save_file(model.state_dict())"):
            save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, path)
        fresh = build(spec, config, seed=1)
        with during("fresh.load_state_dict(load_file(path), strict=True)"):
            fresh.load_state_dict(load_file(path), strict=True)
    batch = example_batch(model)
    reloaded = batch_results(fresh)
    pairs = {name: (fn, reloaded[name]) for name, fn in batch_results(model).items()}
    if "generate" in spec.capabilities:
        pairs["samples from GenCore"] = (lambda b: _samples(model), lambda b: _samples(fresh))
    for name, (saved, loaded) in pairs.items():
        with during(f"{cls} {name}"):
            torch.manual_seed(3)
            want = saved(batch)
            torch.manual_seed(3)
            got = loaded(batch)
        assert_close(got, want, f"{cls} {name} after a safetensors save/load round trip (state the model keeps outside state_dict?)")
