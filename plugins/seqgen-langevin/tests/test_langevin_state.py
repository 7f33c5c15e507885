"""Seed determinism, the safetensors round trip and masked values, with the persistent chains held fixed.

The conformance kit compares repeated ``statistics_fn`` calls on one model; with persistent chains
each call moves the chains, so these tests restore the model's state before every call instead.
"""

import os
import tempfile

import torch
from safetensors.torch import load_file, save_file

import seqgen
from seqgen_langevin import SPEC


def _build(seed):
    torch.manual_seed(seed)
    return SPEC.build(**SPEC.test_config)


def _batch(seed=0, holes=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 3, 6, generator=g)
    mask = torch.ones(4, 3, dtype=torch.bool)
    mask[1, 2:] = False
    if holes:
        mask[0, 1] = False
    x = torch.where(mask[..., None], x, torch.zeros(()))
    return seqgen.SeqBatch.from_tensor(x, mask)


def _snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _results(model, batch, seed):
    """Statistics (loss, grads, chains after), log_prob and GenCore samples under ``seed``."""
    torch.manual_seed(seed)
    out = model.learning_statistics(batch)
    torch.manual_seed(seed)
    samples = seqgen.GenCore(model).run(3, 4).x
    with torch.no_grad():
        lp = model.log_prob(batch.x, mask=batch.mask)
    return {"loss": out.loss, "J": out.grads["J"], "b": out.grads["b"], "chains": model.chains.clone(), "samples": samples, "log_prob": lp}


def _assert_equal(a, b):
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_same_seed_same_model_and_results():
    first, second = _build(0), _build(0)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name  # J, b, chains, num_updates
    _assert_equal(_results(first, _batch(), 7), _results(second, _batch(), 7))


def test_statistics_from_one_chain_state_are_deterministic():
    model = _build(0)
    state = _snapshot(model)
    once = _results(model, _batch(), 7)
    assert not torch.equal(state["chains"], model.chains)  # the chains moved ...
    model.load_state_dict(state)
    _assert_equal(once, _results(model, _batch(), 7))  # ... and from the same state they move alike


def test_safetensors_round_trip_keeps_the_chains():
    model = _build(0)
    torch.manual_seed(5)
    model.learning_statistics(_batch(1))  # a trained-for-one-update state, num_updates = 1
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.safetensors")
        save_file({k: v.contiguous() for k, v in _snapshot(model).items()}, path)
        fresh = _build(1)
        fresh.load_state_dict(load_file(path), strict=True)
    assert int(fresh.num_updates) == 1
    _assert_equal(_results(model, _batch(), 3), _results(fresh, _batch(), 3))


def test_masked_values_are_ignored():
    model = _build(0)
    state = _snapshot(model)
    batch = _batch(holes=True)
    noise = torch.randn(batch.x.shape, generator=torch.Generator().manual_seed(9))
    changed = seqgen.SeqBatch(x=torch.where(batch.mask[..., None], batch.x, noise), mask=batch.mask, lengths=batch.lengths)
    before = _results(model, batch, 2)
    model.load_state_dict(state)
    _assert_equal(before, _results(model, changed, 2))
