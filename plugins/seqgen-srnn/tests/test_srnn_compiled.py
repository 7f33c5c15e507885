"""The compiled loops (``csrc/``, loaded by ``seqgen_srnn/_loops.py``) compute what the Python loops
compute, are used where they apply, and a machine that cannot build them falls back with a warning."""

import os
import warnings

import pytest
import torch

import seqgen
import seqgen_srnn
from seqgen_srnn import _loops
from seqgen_srnn.fused import ZChain
from seqgen_srnn.gru import GRU


def _gru_run(dtype, reverse, with_h0):
    """Outputs and every gradient of a GRU over a [T=9, B=5, in=7] input, hidden 6."""
    torch.manual_seed(0)
    gru = GRU(7, 6).to(dtype)
    torch.manual_seed(1)
    x = torch.randn(9, 5, 7, dtype=dtype, requires_grad=True)
    h0 = torch.randn(1, 5, 6, dtype=dtype, requires_grad=True) if with_h0 else None
    out, last = gru((x[..., :3], x[..., 3:]), h0, reverse=reverse)
    w = torch.randn_like(out)
    loss = (w * out).sum() + last.square().sum()
    grads = torch.autograd.grad(loss, [x] + ([h0] if with_h0 else []) + list(gru.parameters()))
    return [out, last, *grads]


def _zchain_run(dtype):
    torch.manual_seed(2)
    pre = torch.randn(9, 5, 8, dtype=dtype, requires_grad=True)
    eps = torch.randn(9, 5, 3, dtype=dtype)
    w_z = (0.5 * torch.randn(3, 8, dtype=dtype)).requires_grad_()
    w_o = (0.5 * torch.randn(8, 12, dtype=dtype)).requires_grad_()
    b_o = torch.randn(12, dtype=dtype)
    b_o[9] = 25.0  # s^q of z's first dim above softplus' threshold (20): both branches run
    b_o.requires_grad_()
    o, z = ZChain.apply(pre, eps, w_z, w_o, b_o, 1e-3)
    loss = (torch.randn_like(o) * o).sum() + (torch.randn_like(z) * z).sum()
    return [o, z, *torch.autograd.grad(loss, [pre, w_z, w_o, b_o])]


def _both(monkeypatch, fn, *args):
    monkeypatch.setenv(_loops.ENV_VAR, "1")
    compiled = fn(*args)
    monkeypatch.setenv(_loops.ENV_VAR, "0")
    return compiled, fn(*args)


def test_where_they_build_they_are_used_for_cpu_float_tensors(compiled):
    assert _loops.for_tensors(torch.zeros(2), torch.zeros(2)) is compiled
    assert _loops.for_tensors(torch.zeros(2, dtype=torch.float64)) is compiled


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_compiled_gru_equals_the_python_loop(compiled, monkeypatch, dtype, tol, reverse, with_h0):
    compiled, python = _both(monkeypatch, _gru_run, dtype, reverse, with_h0)
    for c, p in zip(compiled, python):
        torch.testing.assert_close(c, p, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_compiled_zchain_equals_the_python_loop(compiled, monkeypatch, dtype, tol):
    compiled, python = _both(monkeypatch, _zchain_run, dtype)
    for c, p in zip(compiled, python):
        torch.testing.assert_close(c, p, rtol=tol, atol=tol)


def test_a_seeded_training_loss_is_the_same_either_way(compiled, monkeypatch):
    x = (torch.rand(4, 12, 10, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    data = seqgen.SeqBatch.from_tensor(x)

    def loss_and_grads():
        torch.manual_seed(3)
        model = seqgen_srnn.SPEC.build(obs_dim=10, d_dim=8, a_dim=8, z_dim=3, mlp_hidden=8, decoder_hidden=(8,))
        loss = model.objective().loss_fn(data, 1.0).loss
        return [loss, *torch.autograd.grad(loss, list(model.parameters()))]

    compiled, python = _both(monkeypatch, loss_and_grads)
    for c, p in zip(compiled, python):
        torch.testing.assert_close(c, p, rtol=1e-5, atol=1e-6)


def test_the_operators_check_the_shapes_they_index(compiled):
    t, b, h = 4, 2, 3
    gates, gh_n, out = torch.zeros(t, b, 3 * h), torch.zeros(t, b, h), torch.zeros(t, b, h)
    with pytest.raises(RuntimeError, match=r"gh_n: expected shape \[4, 2, 3\], got \[4, 2, 5\]"):
        compiled.gru_forward(gates, torch.zeros(t, b, 5), out, torch.zeros(b, h), torch.zeros(h, 3 * h), torch.zeros(3 * h), False)
    with pytest.raises(RuntimeError, match="expected a contiguous tensor"):
        compiled.gru_forward(gates, gh_n, torch.zeros(t, b, 2 * h)[..., :h], torch.zeros(b, h), torch.zeros(h, 3 * h), torch.zeros(3 * h), False)
    with pytest.raises(RuntimeError, match="expected at least one time step"):
        z = torch.zeros(0, b, 2)
        compiled.zchain_forward(torch.zeros(0, b, 6), torch.zeros(0, b, 8), z, z, torch.zeros(2, 6), torch.zeros(6, 8), torch.zeros(8), 1e-3)


def test_other_dtypes_and_devices_use_the_python_loops():
    assert _loops.for_tensors(torch.zeros(2, dtype=torch.bfloat16)) is None
    assert _loops.for_tensors(torch.zeros(2), torch.zeros(2, dtype=torch.float64)) is None  # mixed
    assert _loops.for_tensors(torch.zeros(2, device="meta")) is None


def test_turned_off_by_the_environment(monkeypatch):
    monkeypatch.setenv(_loops.ENV_VAR, "0")
    assert _loops.compiled() is None


def test_a_stale_build_lock_is_removed_and_a_fresh_one_kept(tmp_path):
    lock = tmp_path / "lock"
    lock.write_text("")
    _loops._clear_stale_lock(tmp_path)  # fresh: another process may be building
    assert lock.exists()
    old = lock.stat().st_mtime - _loops._STALE_LOCK_S - 1
    os.utime(lock, (old, old))
    with pytest.warns(RuntimeWarning, match="stale build lock"):
        _loops._clear_stale_lock(tmp_path)
    assert not lock.exists()
    _loops._clear_stale_lock(tmp_path)  # no lock: nothing to do


def test_a_failed_build_warns_once_and_falls_back(monkeypatch):
    def broken():
        raise RuntimeError("Ninja is required to load C++ extensions")

    monkeypatch.setenv(_loops.ENV_VAR, "1")
    monkeypatch.setattr(_loops, "_state", {})
    monkeypatch.setattr(_loops, "_build", broken)
    with pytest.warns(RuntimeWarning, match="could not be built.*Ninja is required.*SEQGEN_SRNN_COMPILED=0"):
        assert _loops.compiled() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _loops.compiled() is None  # no second warning
        torch.manual_seed(0)
        out, _ = GRU(3, 4)(torch.randn(5, 2, 3))  # still computes, with the Python loop
    assert out.shape == (5, 2, 4)
