"""The hand-written whole-sequence GRU computes what ``torch.nn.GRU`` computes, values and gradients."""

import pytest
import torch
from torch import nn

from seqgen import ShapeError
from seqgen_srnn.gru import GRU, GRUSequence

T, B, IN, H = 6, 3, 5, 4


def _pair(dtype=torch.double):
    """An ``nn.GRU`` and a ``GRU`` built from the same seed: the same initial weights, drawn alike."""
    torch.manual_seed(0)
    ref = nn.GRU(IN, H).to(dtype)
    torch.manual_seed(0)
    ours = GRU(IN, H).to(dtype)
    return ref, ours


def test_parameters_match_nn_gru_names_shapes_and_initialisation():
    ref, ours = _pair(torch.float)
    assert [(k, tuple(v.shape)) for k, v in ref.named_parameters()] == [(k, tuple(v.shape)) for k, v in ours.named_parameters()]
    for (_, a), (_, b) in zip(ref.named_parameters(), ours.named_parameters()):
        assert torch.equal(a, b)
    ours.load_state_dict(nn.GRU(IN, H).state_dict())  # checkpoints load either way
    ref.load_state_dict(ours.state_dict())


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_outputs_and_gradients_equal_nn_gru(reverse, with_h0, loops):
    ref, ours = _pair()
    torch.manual_seed(1)
    x = torch.randn(T, B, IN, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(1, B, H, dtype=torch.double, requires_grad=True) if with_h0 else None
    w_out, w_last = torch.randn(T, B, H, dtype=torch.double), torch.randn(1, B, H, dtype=torch.double)
    inputs = [x] + ([h0] if with_h0 else [])

    def run(module, call):
        out, last = call()
        loss = (w_out * out).sum() + (w_last * last).sum()  # touches every output and h_n
        return [out, last, *torch.autograd.grad(loss, inputs + list(module.parameters()))]

    def ref_call():  # a backward nn.GRU is the forward one on the flipped sequence, flipped back
        out, last = ref(x.flip(0) if reverse else x, h0)
        return (out.flip(0) if reverse else out), last

    expected = run(ref, ref_call)
    for got in (run(ours, lambda: ours(x, h0, reverse=reverse)), run(ours, lambda: ours((x[..., :2], x[..., 2:]), hx=h0, reverse=reverse))):
        for g, e in zip(got, expected):
            torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)  # double: rounding only


@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck(reverse, loops):
    torch.manual_seed(2)
    weights = [p.detach().requires_grad_() for p in _pair()[1].parameters()]
    x1 = torch.randn(4, 2, 2, dtype=torch.double, requires_grad=True)
    x2 = torch.randn(4, 2, 3, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(2, H, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda h, a, b, *w: GRUSequence.apply(h, *w, reverse, None, a, b), (h0, x1, x2, *weights))
    assert torch.autograd.gradcheck(lambda a, *w: GRUSequence.apply(None, *w, reverse, None, a, x2.detach()), (x1, *weights))


def test_input_without_grad_gets_none_and_weights_still_learn():
    _, ours = _pair()
    x = torch.randn(T, B, IN, dtype=torch.double)  # data: no grad wanted
    out, _ = ours(x)
    out.square().sum().backward()
    assert x.grad is None
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in ours.parameters())


def test_float32_matches_nn_gru(loops):
    ref, ours = _pair(torch.float)
    x = torch.randn(T, B, IN)
    torch.testing.assert_close(ours(x)[0], ref(x)[0], rtol=1e-5, atol=1e-6)  # float32 rounding


def test_bad_shapes_are_shape_errors():
    _, ours = _pair()
    with pytest.raises(ShapeError, match="input_size=5"):
        ours(torch.zeros(T, B, IN + 1, dtype=torch.double))
    with pytest.raises(ShapeError, match="hx"):
        ours(torch.zeros(T, B, IN, dtype=torch.double), torch.zeros(B, H, dtype=torch.double))


def test_device_agnostic_on_the_meta_device():
    """Every tensor the forward and backward create follows the input's device (no CPU-only
    allocation): both run on PyTorch's shape-only 'meta' device, as they would on CUDA."""
    ours = GRU(IN, H).to("meta")
    x = torch.empty(T, B, IN, device="meta", requires_grad=True)
    for call in (lambda: ours((x[..., :2], x[..., 2:]), reverse=True), lambda: ours(x, torch.empty(1, B, H, device="meta"))):
        out, last = call()
        (out.sum() + last.sum()).backward()
        assert out.device.type == "meta" and x.grad.device.type == "meta"
        assert all(p.grad.device.type == "meta" for p in ours.parameters())


@pytest.mark.parametrize("reverse", [False, True])
def test_under_autocast_the_long_products_run_in_bf16_and_the_rest_in_fp32(reverse):
    """Under ``torch.autocast('cpu', bfloat16)`` the input projections and the backward's
    whole-sequence products run in bf16 (so the results move), the recurrence and every output
    and gradient stay float32, and both stay within bf16's precision of the float32 run: relative
    error ≤ 2 % (bf16 keeps 8 significant bits; a few products and sums deep)."""
    torch.manual_seed(0)
    gru = GRU(IN, 32)
    x1, x2 = torch.randn(12, 4, 2, requires_grad=True), torch.randn(12, 4, IN - 2, requires_grad=True)
    h0 = torch.randn(1, 4, 32, requires_grad=True)
    runs = []
    for low in (False, True):
        gru.zero_grad(set_to_none=True)
        for t in (x1, x2, h0):
            t.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=low):
            out, last = gru((x1, x2), h0, reverse=reverse)
        assert out.dtype == last.dtype == torch.float32
        (out.pow(2).sum() + last.sum()).backward()
        runs.append([out.detach()] + [t.grad.clone() for t in (x1, x2, h0)] + [p.grad.clone() for p in gru.parameters()])
    for full, low in zip(*runs):
        assert low.dtype == torch.float32
        err = float((low - full).norm() / full.norm())
        assert 0 < err <= 2e-2
