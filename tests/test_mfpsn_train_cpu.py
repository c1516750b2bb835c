"""The fused CPU training layer (one autograd node; statistics and spikes without materialising Y or H) against the
reference path."""
from __future__ import annotations

import os
import shutil

import pytest
import torch

from mfpsn.functional import fused_cpu, mfpsn_train_cpu
from mfpsn.backends import mfpsn_train_forward
from mfpsn.functional.surrogate import ATan, Rational, Sigmoid

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None,
                                reason="the fused CPU kernel needs a C++ compiler ($CXX or g++)")

CASES = [((9, 2, 5), 3, 2, torch.float64, ATan()), ((1, 3, 4), 2, 1, torch.float64, Sigmoid()),
         ((20, 2, 3, 2, 3), 4, 3, torch.float64, Rational()), ((30, 3, 7), 8, 2, torch.float32, ATan()),
         ((40, 5, 33), 2, 5, torch.float32, Sigmoid(alpha=3.0)),
         ((12, 4, 75), 3, 2, torch.float64, ATan())]  # 300 columns: past one 256-column block
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-12), torch.float32: dict(rtol=2e-4, atol=2e-5)}


def _run(impl, x, W, g, b, d, sur, up, bn_grad=True, **kw):
    leaves = [t.clone().requires_grad_() for t in (x, W, g, b)]
    out = mfpsn_train_forward(*leaves, dilation=d, eps=1e-5, surrogate=sur, backend=impl, need_h=False,
                              bn_grad=bn_grad, **kw)
    return out, torch.autograd.grad((out.spikes * up).sum(), leaves)


def _case(shape, k, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype) + 0.3
    C = shape[2]
    W = torch.randn(C, k, generator=gen, dtype=torch.float64).to(dtype)
    g = (torch.rand(C, generator=gen, dtype=torch.float64) + 0.5).to(dtype)
    b = (torch.randn(C, generator=gen, dtype=torch.float64) * 0.3).to(dtype)
    up = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
    return x, W, g, b, up


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-k{c[1]}-d{c[2]}-{c[3]}" for c in CASES])
@pytest.mark.parametrize("bn_grad", [True, False])
def test_fused_training_layer_matches_the_reference(case, bn_grad):
    shape, k, d, dtype, sur = case
    x, W, g, b, up = _case(shape, k, dtype, shape[0] * 31 + k)
    out, grads = _run("fused", x, W, g, b, d, sur, up, bn_grad)
    ref, grads_ref = _run("shift_add", x, W, g, b, d, sur, up, bn_grad)
    assert out.h is None
    torch.testing.assert_close(out.batch_mean, ref.batch_mean, **TOL[dtype])
    torch.testing.assert_close(out.batch_var, ref.batch_var, **TOL[dtype])
    assert torch.equal(out.taps, ref.taps)
    if dtype == torch.float64:
        assert torch.equal(out.spikes, ref.spikes)
    else:  # float32 statistics differ in the last bits: a value on the threshold may flip
        assert (out.spikes != ref.spikes).float().mean() < 1e-3
    for a, r in zip(grads, grads_ref):
        torch.testing.assert_close(a, r, **TOL[dtype])


def test_moments_and_grad_pass_match_plain_torch():
    x = torch.randn(17, 3, 4, 5, dtype=torch.float64)
    W = torch.randn(4, 3, dtype=torch.float64)
    from mfpsn.functional.filter import temporal_filter_ref

    y = temporal_filter_ref(x, W, 2)
    s1, s2 = fused_cpu.fused_moments(x, W, 2)
    torch.testing.assert_close(s1, y.sum(dim=(0, 1, 3)))
    torch.testing.assert_close(s2, (y * y).sum(dim=(0, 1, 3)))
    a, bb = torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    xs, Ws = x.clone().requires_grad_(), W.clone().requires_grad_()
    G = a.view(1, 1, 4, 1) + bb.view(1, 1, 4, 1) * temporal_filter_ref(xs, Ws, 2)
    dx_ref, dw_ref = torch.autograd.grad((G.detach() * temporal_filter_ref(xs, Ws, 2)).sum(), [xs, Ws])
    dx, dw, none = fused_cpu.fused_grad_pass(x, W, 2, alpha_c=a, beta_c=bb)
    assert none is None
    torch.testing.assert_close(dx, dx_ref)
    torch.testing.assert_close(dw, dw_ref)


def test_the_module_default_trains_through_the_fused_layer_and_matches_shift_add(monkeypatch):
    from mfpsn.neurons import MFPSN

    calls = []
    real = mfpsn_train_cpu._Layer.apply
    monkeypatch.setattr(mfpsn_train_cpu._Layer, "apply", lambda *a: (calls.append(1), real(*a))[1])
    a = MFPSN(6, order=4, dilation=2, backend="fused").double()
    b = MFPSN(6, order=4, dilation=2, backend="shift_add").double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(25, 3, 6, dtype=torch.float64) + 0.5
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    sa, sb = a(xa), b(xb)
    assert calls == [1] and torch.equal(sa, sb)
    up = torch.randn_like(sa)
    sa.backward(up)
    sb.backward(up)
    torch.testing.assert_close(xa.grad, xb.grad)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad)
    torch.testing.assert_close(a.running_var, b.running_var)
    assert not mfpsn_train_cpu.supports(x.float(), type("S", (ATan,), {})())   # unknown surrogate: reference path


def test_fused_training_layer_multithreaded(monkeypatch):
    monkeypatch.setattr(fused_cpu, "_SMALL", 1000)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    test_fused_training_layer_matches_the_reference(CASES[4], True)


def test_eval_forward_with_gradient_uses_the_fused_spike_pass_and_matches():
    from mfpsn.neurons import MFPSN

    a = MFPSN(5, order=3, dilation=2, backend="fused").double().eval()
    b = MFPSN(5, order=3, dilation=2, backend="shift_add").double().eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(12, 2, 5, dtype=torch.float64) + 0.8
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    sa, sb = a(xa), b(xb)
    assert sa.grad_fn is not None and "Spikes" in type(sa.grad_fn).__name__
    assert torch.equal(sa, sb)
    up = torch.randn_like(sa)
    sa.backward(up)
    sb.backward(up)
    torch.testing.assert_close(xa.grad, xb.grad)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


@pytest.mark.parametrize("options", [dict(ste="round"), dict(quantize=False), dict(exp_min=-1, exp_max=0),
                                     dict(ste="round", exp_min=-1, exp_max=1)], ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_hand_written_fold_backward_matches_autograd(options, dtype):
    """Both straight-through rules, no quantizer and a clamped exponent range, against the reference path whose
    fold and quantizer autograd differentiates."""
    x, W, g, b, up = _case((21, 3, 70), 3, dtype, 11)   # 210 columns, exponents on both sides of the clamp range
    out, grads = _run("fused", x, W, g, b, 2, ATan(), up, **options)
    ref, grads_ref = _run("shift_add", x, W, g, b, 2, ATan(), up, **options)
    torch.testing.assert_close(out.taps, ref.taps.detach(), **TOL[dtype])   # equal once quantized
    for a, r in zip(grads, grads_ref):
        torch.testing.assert_close(a, r, **TOL[dtype])


def test_round_ste_gives_nan_at_a_zero_folded_tap_as_autograd_does():
    x, W, g, b, up = _case((9, 2, 4), 2, torch.float64, 3)
    W[1, 0] = 0.0                                        # W_f[1, 0] = 0: d round(log2|w|) is NaN there
    out, grads = _run("fused", x, W, g, b, 1, ATan(), up, ste="round")
    ref, grads_ref = _run("shift_add", x, W, g, b, 1, ATan(), up, ste="round")
    for a, r in zip(grads, grads_ref):
        assert torch.equal(a.isnan(), r.isnan())
        torch.testing.assert_close(a.nan_to_num(), r.nan_to_num(), **TOL[torch.float64])
    assert grads[1][1].isnan().all() and not grads[1][0].isnan().any()


def test_one_autograd_node_and_two_layers_sharing_x():
    """The layer is one node in the graph (no fold nodes), and gradients of two layers reading one x accumulate."""
    x, W, g, b, up = _case((23, 3, 70), 3, torch.float64, 5)
    out, _ = _run("fused", x, W, g, b, 2, ATan(), up)
    assert type(out.spikes.grad_fn).__name__ == "_LayerBackward"
    assert {type(f[0]).__name__ for f in out.spikes.grad_fn.next_functions if f[0] is not None} == {"AccumulateGrad"}
    for t in (out.taps, out.theta, out.batch_mean, out.batch_var):
        assert not t.requires_grad

    def grads(backend):
        leaves = [t.clone().requires_grad_() for t in (x, W, g, b)]
        kw = dict(dilation=2, eps=1e-5, surrogate=ATan(), backend=backend, need_h=False)
        loss = (mfpsn_train_forward(*leaves, **kw).spikes * up).sum()
        loss = loss + (mfpsn_train_forward(leaves[0] * 2.0, *leaves[1:], **kw).spikes * up.flip(0)).sum()
        return torch.autograd.grad(loss, leaves)

    for a, r in zip(grads("fused"), grads("shift_add")):
        torch.testing.assert_close(a, r, **TOL[torch.float64])


def test_accumulate_into_adds_and_checks_its_buffer():
    x = torch.randn(9, 2, 5, dtype=torch.float64)
    W = torch.randn(5, 3, dtype=torch.float64)
    a, b = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    dx, dw, _ = fused_cpu.fused_grad_pass(x, W, 2, alpha_c=a, beta_c=b)
    base = torch.randn_like(x)
    into = base.clone()
    dx2, dw2, _ = fused_cpu.fused_grad_pass(x, W, 2, alpha_c=a, beta_c=b, accumulate_into=into)
    assert dx2 is into and torch.equal(into, base + dx) and torch.equal(dw2, dw)
    with pytest.raises(ValueError, match="accumulate_into"):
        fused_cpu.fused_grad_pass(x, W, 2, alpha_c=a, beta_c=b, accumulate_into=base.float())
    with pytest.raises(ValueError, match="accumulate_into"):
        fused_cpu.fused_grad_pass(x, W, 2, alpha_c=a, beta_c=b, accumulate_into=torch.zeros(9, 5, 2).transpose(1, 2))


# The gradient pass runs two loop orders with the same arithmetic: strips of one SIMD vector walking the time axis
# (k <= 8) and whole block rows (k > 8, and the last columns of a block that do not fill a vector). These shapes hit
# both, a time axis shorter than the filter (T < (k - 1)·d + 1), the edges at both ends and a block tail.
LOOP_CASES = [((40, 2, 3, 7), 8, 2), ((40, 3, 100), 9, 1), ((5, 2, 21), 4, 2), ((33, 1, 300), 2, 3),
              ((3, 2, 5), 8, 1), ((64, 4, 16), 1, 1)]


@pytest.mark.parametrize("shape,k,d", LOOP_CASES, ids=[f"{c[0]}-k{c[1]}-d{c[2]}" for c in LOOP_CASES])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("code,sur", [(0, ATan()), (1, Sigmoid(alpha=3.0)), (2, Rational())])
def test_both_grad_pass_loop_orders_match_plain_torch(shape, k, d, dtype, code, sur):
    from mfpsn.functional.filter import temporal_filter_ref

    gen = torch.Generator().manual_seed(k * 100 + d * 10 + shape[0])
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    W = torch.randn(shape[2], k, generator=gen, dtype=torch.float64) * 0.5
    theta = torch.randn(shape[2], generator=gen, dtype=torch.float64) * 0.3
    gs = torch.randn(shape, generator=gen, dtype=torch.float64)
    a, b = torch.randn(shape[2], generator=gen, dtype=torch.float64), torch.randn(shape[2], generator=gen,
                                                                                   dtype=torch.float64)
    view = (1, 1, -1) + (1,) * (len(shape) - 3)
    xs, Ws = x.clone().requires_grad_(), W.clone().requires_grad_()
    h = temporal_filter_ref(xs, Ws, d)
    G_spike = gs * sur.derivative(h.detach() - theta.view(view))
    G_stats = a.view(view) + b.view(view) * h.detach()
    dx_s, dw_s = torch.autograd.grad(h, [xs, Ws], G_spike, retain_graph=True)
    dx_y, dw_y = torch.autograd.grad(h, [xs, Ws], G_stats)
    tol = TOL[dtype] if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-4)
    dx, dw, gsum = fused_cpu.fused_grad_pass(x.to(dtype), W.to(dtype), d, grad_s=gs.to(dtype),
                                             theta=theta.to(dtype), surrogate_code=code,
                                             surrogate_alpha=sur.alpha)
    torch.testing.assert_close(dx.double(), dx_s, **tol)
    torch.testing.assert_close(dw, dw_s, **tol)
    torch.testing.assert_close(gsum, G_spike.transpose(0, 2).reshape(shape[2], -1).sum(1), **tol)
    dx2, dw2, _ = fused_cpu.fused_grad_pass(x.to(dtype), W.to(dtype), d, alpha_c=a, beta_c=b, accumulate_into=dx)
    assert dx2 is dx
    torch.testing.assert_close(dx2.double(), dx_s + dx_y, **tol)
    torch.testing.assert_close(dw2, dw_y, **tol)


def test_fused_layer_and_filter_give_the_same_bits_for_every_thread_count(monkeypatch):
    """Partial sums (batch moments, dW, dθ, the filter's dtaps) are kept per fixed chunk of column blocks and added
    in chunk order, so 1, 2 and 3 threads give the same bits, although the threads take chunks dynamically."""
    from mfpsn.neurons import MFPSN
    from mfpsn.backends import temporal_filter

    f64 = torch.float64                        # float64: a different grouping of the sums shows in the last bits
    x = torch.randn(6, 37, 260, dtype=f64) + 0.5          # M = 9,620 columns: 38 blocks in 16 uneven chunks
    up = torch.randn(6, 37, 260, dtype=f64)
    taps = torch.randn(260, 4, dtype=f64)
    ref = None
    for n in (1, 2, 3):
        monkeypatch.setattr(torch, "get_num_threads", lambda n=n: n)
        torch.manual_seed(0)
        m = MFPSN(260, order=4, dilation=3, backend="fused").double().train()
        xs, ws = x.clone().requires_grad_(), taps.clone().requires_grad_()
        s = m(xs)
        s.backward(up)
        y = temporal_filter(xs, ws, 2, "fused")
        dx_f, dw_f = torch.autograd.grad((y * up).sum(), [xs, ws])
        got = [s, xs.grad, m.running_mean, m.running_var, *(p.grad for p in m.parameters()), y, dx_f, dw_f]
        if ref is None:
            ref = got
        else:
            assert all(torch.equal(a, b) for a, b in zip(ref, got)), n
