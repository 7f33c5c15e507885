"""The fused ``z`` loop computes what the plain per-step equations compute, values and gradients."""

import pytest
import torch
import torch.nn.functional as F

from seqgen_srnn.fused import ZChain
from seqgen_srnn.transition import Transition


def _transition(resq=True):
    torch.manual_seed(0)
    return Transition(d_dim=4, a_dim=5, z_dim=3, hidden=6, resq=resq, min_scale=1e-3).double()


def _plain_chain(tr, d, a, eps):
    """The SRNN's z chain written step by step with ``Transition.prior``/``posterior``."""
    z = eps.new_zeros(eps.shape[1], tr.z_dim)
    out = {k: [] for k in ("z", "p_loc", "p_scale", "q_loc", "q_scale")}
    for t in range(eps.shape[0]):
        p_loc, p_scale = tr.prior(d[t], z)
        q_loc, q_scale = tr.posterior(a[t], z, p_loc)
        z = q_loc + q_scale * eps[t]
        for k, v in zip(out, (z, p_loc, p_scale, q_loc, q_scale)):
            out[k].append(v)
    return [torch.stack(v) for v in out.values()]


@pytest.mark.parametrize("resq", [True, False])
def test_fused_chain_equals_plain_chain_values_and_gradients(resq, loops):
    tr = _transition(resq)
    torch.manual_seed(1)
    d = torch.randn(7, 2, 4, dtype=torch.double, requires_grad=True)
    a = torch.randn(7, 2, 5, dtype=torch.double, requires_grad=True)
    eps = torch.randn(7, 2, 3, dtype=torch.double)
    weights = torch.randn(5, 7, 2, 3, dtype=torch.double)  # a loss touching every output

    def grads(outputs):
        loss = sum((w * o).sum() for w, o in zip(weights, outputs))
        return torch.autograd.grad(loss, [d, a, *tr.parameters()])

    fused = list(tr.sample_chain(d, a, eps))
    plain = _plain_chain(tr, d, a, eps)
    for f, p in zip(fused, plain):
        torch.testing.assert_close(f, p, rtol=1e-10, atol=1e-12)
    for f, p in zip(grads(fused), grads(plain)):
        torch.testing.assert_close(f, p, rtol=1e-9, atol=1e-12)


def test_zchain_gradcheck(loops):
    torch.manual_seed(2)
    t, n, zd, h = 4, 2, 2, 3
    pre = torch.randn(t, n, 2 * h, dtype=torch.double, requires_grad=True)
    eps = torch.randn(t, n, zd, dtype=torch.double)
    w_z = torch.randn(zd, 2 * h, dtype=torch.double, requires_grad=True)
    w_o = torch.randn(2 * h, 4 * zd, dtype=torch.double, requires_grad=True)
    b_o = torch.randn(4 * zd, dtype=torch.double, requires_grad=True)
    fn = lambda p, wz, wo, bo: ZChain.apply(p, eps, wz, wo, bo, 1e-3)
    assert torch.autograd.gradcheck(fn, (pre, w_z, w_o, b_o))


def test_prior_chain_equals_plain_prior():
    tr = _transition()
    torch.manual_seed(3)
    d = torch.randn(5, 3, 4, dtype=torch.double)
    z = torch.randn(5, 3, 3, dtype=torch.double)
    loc, scale = tr.prior_chain(d, z)
    z_prev = torch.cat([torch.zeros_like(z[:1]), z[:-1]])
    ref_loc, ref_scale = tr.prior(d, z_prev)
    torch.testing.assert_close(loc, ref_loc, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(scale, ref_scale, rtol=1e-12, atol=1e-12)


def test_scales_stay_above_the_floor():
    tr = _transition()
    with torch.no_grad():
        tr.prior_out.bias.fill_(-50.0)  # softplus underflows to 0
        tr.post_out.bias.fill_(-50.0)
    d, a, eps = torch.zeros(2, 1, 4).double(), torch.zeros(2, 1, 5).double(), torch.zeros(2, 1, 3).double()
    with torch.no_grad():
        chain = tr.sample_chain(d, a, eps)
    assert float(chain.prior_scale.min()) >= 1e-3 and float(chain.post_scale.min()) >= 1e-3
    assert F.softplus(torch.tensor(-50.0, dtype=torch.double)) < 1e-20
