"""MFPSN module: two-pass training against a hand-written reference, folded eval, quantized taps, caching,
the fused-kernel dispatch (stand-in kernels, and the real Triton kernels when triton is installed), errors and
torch.compile (spec §2).

Without CUDA the real kernels run through the Triton interpreter: TRITON_INTERPRET=1 is set below before any
kernel module is imported (as in ``tests/test_kernels.py``; Triton reads it when a kernel is decorated).
"""
from __future__ import annotations

import math
import os
import sys
import types

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
from torch import nn  # noqa: E402

from mfpsn.backends import batch_stats, temporal_filter  # noqa: E402
from mfpsn.functional import pow2_exponents, temporal_filter_ref  # noqa: E402
from mfpsn.functional.mfpsn import fold_taps, lagged_moments, mean_var  # noqa: E402
from mfpsn.neurons import LIF, MFPSN, NeuronTrace  # noqa: E402

# awkward shapes: odd C, T not a power of two, B = 1, k·d > T, spatial dims
SHAPES = [((7, 3, 5), 3, 2), ((5, 1, 3), 4, 2), ((6, 2, 3, 4), 2, 3), ((3, 2, 5, 2, 3), 2, 1), ((16, 3, 1), 1, 1)]


# ---------------------------------------------------------------------------------------------- references
def _q_ref(w: torch.Tensor, exp_min=None, exp_max=None) -> torch.Tensor:
    """sign(w)·2^clamp(round(log2|w|)) elementwise with Python floats; Q(0) = 0."""
    out = []
    for v in w.flatten().tolist():
        if v == 0:
            out.append(0.0)
            continue
        e = round(math.log2(abs(v)))
        e = e if exp_min is None else max(exp_min, e)
        e = e if exp_max is None else min(exp_max, e)
        out.append(math.copysign(2.0 ** e, v))
    return torch.tensor(out, dtype=w.dtype).reshape(w.shape)


def _spike_ref(u: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Θ(u) forward, ATan surrogate backward through its primitive arctan(π/2·α·u)/π + 1/2."""
    prim = torch.atan(math.pi / 2 * alpha * u) / math.pi + 0.5
    return (u >= 0).to(u.dtype) + (prim - prim.detach())


def _reference_train_forward(x, W, gamma, beta, d, eps, quantize=True, bn_grad=True):
    """BatchNorm1d on Y (for the running statistics), fuse, quantize (whole STE), filter, threshold."""
    C = W.shape[0]
    y = temporal_filter_ref(x, W, d)
    dims = [i for i in range(y.dim()) if i != 2]
    mu = y.mean(dim=dims)
    var = ((y - mu.reshape(1, 1, C, *[1] * (y.dim() - 3))) ** 2).mean(dim=dims)
    if not bn_grad:
        mu, var = mu.detach(), var.detach()
    g = gamma / torch.sqrt(var + eps)
    w_f = g[:, None] * W
    w_q = w_f + (_q_ref(w_f.detach()) - w_f).detach() if quantize else w_f
    theta = g * mu - beta
    h = temporal_filter_ref(x, w_q, d)
    return _spike_ref(h - theta.reshape(1, 1, C, *[1] * (h.dim() - 3))), y


def _bn1d_on(y: torch.Tensor) -> nn.BatchNorm1d:
    """An nn.BatchNorm1d (float64) that has seen Y once in training mode: [T, B, C, *] → [N, C]."""
    C = y.shape[2]
    bn = nn.BatchNorm1d(C, dtype=torch.float64)
    bn(y.detach().movedim(2, -1).reshape(-1, C))
    return bn


def _is_pow2_or_zero(t: torch.Tensor) -> bool:
    nz = t[t != 0].double()
    return bool(torch.all(torch.log2(nz.abs()) == torch.round(torch.log2(nz.abs()))))


# ---------------------------------------------------------------------------------------------- training
@pytest.mark.parametrize("shape,k,d", SHAPES)
@pytest.mark.parametrize("quantize", [True, False])
def test_train_forward_and_backward_equal_reference(shape, k, d, quantize):
    C = shape[2]
    m = MFPSN(C, order=k, dilation=d, quantize=quantize, backend="shift_add").double()
    with torch.no_grad():
        m.bn_weight.uniform_(0.7, 1.3)
        m.bn_bias.uniform_(-0.8, 0.3)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    W, g, b = (p.detach().clone().requires_grad_(True) for p in (m.weight, m.bn_weight, m.bn_bias))
    s = m(x)
    s_ref, y = _reference_train_forward(x_ref, W, g, b, d, m.eps, quantize)
    assert torch.equal(s, s_ref)
    assert 0 < int(s.sum()) < s.numel()
    upstream = torch.randn_like(s)
    s.backward(upstream)
    s_ref.backward(upstream)
    for got, want in ((x.grad, x_ref.grad), (m.weight.grad, W.grad), (m.bn_weight.grad, g.grad),
                      (m.bn_bias.grad, b.grad)):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    bn = _bn1d_on(y)  # running statistics as nn.BatchNorm1d updates them
    torch.testing.assert_close(m.running_mean, bn.running_mean, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(m.running_var, bn.running_var, rtol=1e-12, atol=1e-14)
    assert int(m.num_batches_tracked) == 1


def test_bn_grad_false_detaches_the_batch_statistics():
    shape, k, d = (8, 3, 5), 3, 2
    m = MFPSN(5, order=k, dilation=d, bn_grad=False, backend="shift_add").double()
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    W, g, b = (p.detach().clone().requires_grad_(True) for p in (m.weight, m.bn_weight, m.bn_bias))
    s = m(x)
    s_ref, _ = _reference_train_forward(x_ref, W, g, b, d, m.eps, bn_grad=False)
    upstream = torch.randn_like(s)
    s.backward(upstream)
    s_ref.backward(upstream)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(m.weight.grad, W.grad, rtol=1e-9, atol=1e-12)
    # and it differs from the default, which differentiates through μ_B and σ²_B
    m2 = MFPSN(5, order=k, dilation=d, backend="shift_add").double()
    m2.load_state_dict({**m.state_dict(), "running_mean": torch.zeros(5), "running_var": torch.ones(5),
                        "num_batches_tracked": torch.tensor(0)})
    x2 = x.detach().clone().requires_grad_(True)
    m2(x2).backward(upstream)
    assert not torch.allclose(x2.grad, x.grad)


def test_quantize_false_is_batchnorm_on_the_float_filter():
    x = torch.randn(11, 3, 7, dtype=torch.float64)
    m = MFPSN(7, order=4, dilation=2, quantize=False, backend="conv1d").double()
    tr = m.run(x)
    y = temporal_filter_ref(x, m.weight.detach(), 2)
    bn = nn.BatchNorm1d(7, dtype=torch.float64)
    with torch.no_grad():
        bn.bias.fill_(-1.0)
        want = bn(y.movedim(2, -1).reshape(-1, 7)).reshape(11, 3, 7)
    torch.testing.assert_close(tr.h - tr.v_th, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(m.running_var, bn.running_var)
    m.eval()
    taps, theta = m.folded()
    assert not _is_pow2_or_zero(taps)  # float taps: the ablation really skips Q
    g = 1 / torch.sqrt(m.running_var + m.eps)
    torch.testing.assert_close(taps, g[:, None] * m.weight.detach(), rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(9, 2, 5), (7, 1, 3, 4, 2)])
@pytest.mark.parametrize("k,d", [(3, 2), (4, 3), (1, 1)])
def test_moments_statistics_equal_materialized(shape, k, d):
    C = shape[2]
    torch.manual_seed(3)
    x = torch.randn(*shape, dtype=torch.float64) + 0.3
    W = torch.randn(C, k, dtype=torch.float64)
    mean_a, var_a, _ = batch_stats(x, W, d, "reference", "materialize")
    mean_b, var_b, _ = batch_stats(x, W, d, "reference", "moments")
    torch.testing.assert_close(mean_b, mean_a, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(var_b, var_a, rtol=1e-12, atol=1e-14)
    # the modules agree forward, backward and in the running statistics
    a = MFPSN(C, order=k, dilation=d, backend="shift_add", stats="materialize").double()
    b = MFPSN(C, order=k, dilation=d, backend="shift_add", stats="moments").double()
    b.load_state_dict(a.state_dict())
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    sa, sb = a(xa), b(xb)
    assert torch.equal(sa, sb)
    up = torch.randn_like(sa)
    sa.backward(up)
    sb.backward(up)
    torch.testing.assert_close(xb.grad, xa.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(b.weight.grad, a.weight.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(b.bn_weight.grad, a.bn_weight.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(b.running_var, a.running_var, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", [(7, 3, 5), (4, 2, 3, 5, 2), (5, 1, 1)])
def test_mean_var_against_torch_and_gradcheck(shape):
    y = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    mean, var = mean_var(y)
    dims = [i for i in range(y.dim()) if i != 2]
    torch.testing.assert_close(mean, y.mean(dim=dims))
    torch.testing.assert_close(var, y.var(dim=dims, unbiased=False))
    assert torch.autograd.gradcheck(mean_var, (y,))
    assert torch.autograd.gradcheck(lambda t: mean_var(t)[1], (y,))   # one output unused: a None gradient


def test_lagged_moments_by_brute_force():
    T, k, d = 6, 3, 2
    x = torch.randn(T, 2, 3, dtype=torch.float64)
    m, M = lagged_moments(x, k, d)
    shifted = [torch.cat([torch.zeros(lag, 2, 3, dtype=x.dtype), x[: T - lag]]) if lag < T else torch.zeros_like(x)
               for lag in [(k - 1 - i) * d for i in range(k)]]
    for i in range(k):
        torch.testing.assert_close(m[:, i], shifted[i].mean(dim=(0, 1)))
        for j in range(k):
            torch.testing.assert_close(M[:, i, j], (shifted[i] * shifted[j]).mean(dim=(0, 1)))


def test_momentum_none_is_a_cumulative_average_like_batchnorm():
    m = MFPSN(4, order=2, momentum=None, quantize=False, backend="shift_add").double()
    bn = nn.BatchNorm1d(4, momentum=None, dtype=torch.float64)
    for _ in range(3):
        x = torch.randn(6, 2, 4, dtype=torch.float64) * 2 + 1
        m(x)
        bn(temporal_filter_ref(x, m.weight.detach(), 1).movedim(2, -1).reshape(-1, 4))
    torch.testing.assert_close(m.running_mean, bn.running_mean)
    torch.testing.assert_close(m.running_var, bn.running_var)
    assert int(m.num_batches_tracked) == 3


# ---------------------------------------------------------------------------------------------- eval
def _trained(C=5, k=3, d=2, **kw) -> MFPSN:
    m = MFPSN(C, order=k, dilation=d, backend="shift_add", **kw).double()
    for _ in range(2):
        m(torch.randn(10, 4, C, dtype=torch.float64) * 1.5 + 0.2)
    with torch.no_grad():
        m.bn_weight.uniform_(0.5, 2.0)
        m.bn_bias.uniform_(-2.0, 0.5)
    return m.eval()


@pytest.mark.parametrize("exp_range", [(None, None), (-3, 1)])
def test_folded_taps_are_powers_of_two_and_theta_is_the_fused_bias(exp_range):
    m = _trained(exp_min=exp_range[0], exp_max=exp_range[1])
    taps, theta = m.folded()
    assert taps.shape == (5, 3) and theta.shape == (5,)
    assert _is_pow2_or_zero(taps)
    sign, e = pow2_exponents(taps)
    if exp_range[0] is not None:
        assert int(e[sign != 0].min()) >= exp_range[0] and int(e[sign != 0].max()) <= exp_range[1]
    g = m.bn_weight.detach() / torch.sqrt(m.running_var + m.eps)
    torch.testing.assert_close(taps, _q_ref(g[:, None] * m.weight.detach(), *exp_range), rtol=0, atol=0)
    torch.testing.assert_close(theta, g * m.running_mean - m.bn_bias.detach(), rtol=0, atol=0)


@pytest.mark.parametrize("shape,k,d", SHAPES)
def test_folded_eval_equals_unfolded_computation(shape, k, d):
    C = shape[2]
    m = _trained(C, k, d)
    x = torch.randn(*shape, dtype=torch.float64)
    # unfolded: BatchNorm (running statistics) on the float filter, then quantize the fused taps by hand
    g = m.bn_weight.detach() / torch.sqrt(m.running_var + m.eps)
    w_q = _q_ref(g[:, None] * m.weight.detach())
    h = temporal_filter_ref(x, w_q, d)
    theta = g * m.running_mean - m.bn_bias.detach()
    want = (h >= theta.reshape(1, 1, C, *[1] * (x.dim() - 3))).double()
    with torch.no_grad():
        s = m(x)
        tr = m.run(x)
    assert torch.equal(s, want)
    assert torch.equal(tr.spikes, want)
    torch.testing.assert_close(tr.h, h, rtol=1e-12, atol=1e-12)
    assert tr.v_th.shape == (1, 1, C, *[1] * (x.dim() - 3))
    assert torch.equal(tr.spikes, (tr.h >= tr.v_th).to(tr.spikes.dtype))


def test_eval_without_quantization_equals_batchnorm_eval():
    m = _trained(6, 3, 1, quantize=False)
    x = torch.randn(8, 2, 6, dtype=torch.float64)
    bn = nn.BatchNorm1d(6, dtype=torch.float64).eval()
    bn.load_state_dict({"weight": m.bn_weight.detach(), "bias": m.bn_bias.detach(), "running_mean": m.running_mean,
                        "running_var": m.running_var, "num_batches_tracked": m.num_batches_tracked})
    with torch.no_grad():
        tr = m.run(x)
        want = bn(temporal_filter_ref(x, m.weight.detach(), 1).reshape(-1, 6)).reshape(8, 2, 6)
    torch.testing.assert_close(tr.h - tr.v_th, want, rtol=1e-10, atol=1e-12)


def test_spikes_are_exactly_zero_or_one_in_both_modes_and_dtypes():
    for dtype in (torch.float32, torch.float64):
        m = MFPSN(5, order=3, dilation=2, backend="shift_add").to(dtype)
        x = torch.randn(7, 3, 5, 2, dtype=dtype)
        for mode in (True, False):
            m.train(mode)
            s = m(x)
            assert s.dtype == dtype and s.shape == x.shape
            assert bool(((s == 0) | (s == 1)).all())
            assert 0 < int(s.sum()) < s.numel()


def test_eval_with_gradients_reaches_the_parameters():
    m = _trained().requires_grad_(True)
    x = torch.randn(6, 2, 5, dtype=torch.float64, requires_grad=True)
    m(x).sum().backward()
    assert x.grad is not None and m.weight.grad is not None and m.bn_bias.grad is not None
    assert float(m.bn_bias.grad.abs().sum()) > 0
    m.zero_grad()
    m(x).sum().backward()  # a second call rebuilds the graph (no stale cached graph)


def _assert_fold_is_fresh(m: MFPSN) -> None:
    """m.folded() equals the fold computed now from the module's current tensors (no cache)."""
    with torch.no_grad():
        want = fold_taps(m.weight, m.bn_weight, m.bn_bias, m.running_mean, m.running_var, m.eps, m.quantize,
                         m.exp_min, m.exp_max)
    got = m.folded()
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_fold_cache_follows_parameter_and_buffer_changes():
    m = _trained()
    x = torch.randn(9, 3, 5, dtype=torch.float64)
    taps0, _ = m.folded()
    with torch.no_grad():
        m(x)
    cached = m._fold_cache
    with torch.no_grad():
        m(x)
    assert m._fold_cache is cached  # unchanged tensors: served from the cache
    # an optimizer step on the weight
    m.weight.grad = torch.ones_like(m.weight)
    torch.optim.SGD(m.parameters(), lr=0.3).step()
    assert not torch.equal(m.folded()[0], taps0)
    _assert_fold_is_fresh(m)
    with torch.no_grad():
        taps, theta = m.folded()
        want = (temporal_filter_ref(x, taps, 2) >= theta.reshape(1, 1, -1)).double()
        assert torch.equal(m(x), want)
    # load_state_dict of other values
    other = _trained()
    m.load_state_dict(other.state_dict())
    assert torch.equal(m.folded()[0], other.folded()[0]) and torch.equal(m.folded()[1], other.folded()[1])
    # a training step changes the running statistics, hence θ
    theta_before = m.folded()[1]
    m.train()
    m(torch.randn(9, 3, 5, dtype=torch.float64) + 3.0)
    m.eval()
    assert not torch.equal(m.folded()[1], theta_before)
    _assert_fold_is_fresh(m)
    # in-place edits of a buffer and a parameter under no_grad
    with torch.no_grad():
        m.running_mean.add_(1.0)
    _assert_fold_is_fresh(m)
    with torch.no_grad():
        m.bn_weight.mul_(2.0)
    _assert_fold_is_fresh(m)
    # a change of the exponent range
    m.exp_max = -4
    assert float(m.folded()[0].abs().max()) <= 2.0 ** -4
    _assert_fold_is_fresh(m)
    # dtype conversion
    m.float()
    assert m.folded()[0].dtype == torch.float32
    _assert_fold_is_fresh(m)


def test_inference_mode_eval_and_later_gradients():
    m = _trained()
    x = torch.randn(9, 2, 5, dtype=torch.float64)
    with torch.inference_mode():
        a = m(x)
        tr = m.run(x)
    with torch.no_grad():
        assert torch.equal(a, m(x)) and torch.equal(tr.spikes, a)
    xg = x.clone().requires_grad_(True)
    m(xg).sum().backward()          # the fold cached under inference_mode does not leak into autograd
    assert xg.grad is not None and m.weight.grad is not None


def test_folded_returns_copies():
    m = _trained()
    taps, theta = m.folded()
    taps.zero_()
    theta.zero_()
    assert float(m.folded()[0].abs().sum()) > 0


def test_auto_impl_runs_and_matches():
    m = _trained()
    m.backend = "auto"
    x = torch.randn(8, 2, 5, dtype=torch.float64)
    with torch.no_grad():
        a = m(x)
        m.backend = "reference"
        b = m(x)
    assert torch.equal(a, b)


# ---------------------------------------------------------------------------------------------- fused kernel
def _fake_kernels(monkeypatch, calls):
    fake = types.ModuleType("mfpsn.kernels")

    def fused_mfpsn_spikes(x, taps, theta, dilation, surrogate):
        calls.append((x, taps, theta, dilation, surrogate))
        return surrogate(temporal_filter(x, taps, dilation, "reference") - theta.reshape(1, 1, -1))

    def triton_temporal_filter(x, taps, dilation):
        return temporal_filter(x, taps, dilation, "reference")

    fake.fused_mfpsn_spikes = fused_mfpsn_spikes
    fake.triton_temporal_filter = triton_temporal_filter
    fake.require_backend = lambda where: None  # the stand-in needs no Triton
    monkeypatch.setitem(sys.modules, "mfpsn.kernels", fake)
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # the CPU stand-in passes temporal_filter's device check


def test_triton_impl_dispatches_the_eval_forward_to_the_fused_kernel(monkeypatch):
    calls = []
    _fake_kernels(monkeypatch, calls)
    m = _trained()
    m.backend = "triton"
    x = torch.randn(7, 2, 5, dtype=torch.float64)
    with torch.no_grad():
        s = m(x)
    assert len(calls) == 1
    _, taps, theta, dilation, surrogate = calls[0]
    taps_f, theta_f = m.folded()
    assert torch.equal(taps, taps_f) and torch.equal(theta, theta_f)
    assert dilation == 2 and surrogate == m.surrogate
    m.backend = "shift_add"
    with torch.no_grad():
        assert torch.equal(s, m(x))


@pytest.mark.parametrize("stats", ["materialize", "moments"])
def test_triton_impl_in_training_uses_the_fused_kernel_for_pass_two(monkeypatch, stats):
    calls = []
    _fake_kernels(monkeypatch, calls)
    moment_calls = []

    def kernel_moments(x, order, dilation):
        moment_calls.append((order, dilation))
        m1, m2 = lagged_moments(x, order, dilation)
        return m1.float(), m2.float()

    sys.modules["mfpsn.kernels"].lagged_moments = kernel_moments
    a = MFPSN(5, order=3, dilation=2, backend="triton", stats=stats).double()
    b = MFPSN(5, order=3, dilation=2, backend="shift_add", stats=stats).double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(7, 2, 5, dtype=torch.float64)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    sa, sb = a(xa), b(xb)
    assert len(calls) == 1 and torch.equal(sa, sb)
    assert moment_calls == ([(3, 2)] if stats == "moments" else [])
    up = torch.randn_like(sa)
    sa.backward(up)
    sb.backward(up)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(a.weight.grad, b.weight.grad, rtol=1e-6, atol=1e-9)
    a.run(x)                       # run needs H: the plain filter, not the fused kernel
    assert len(calls) == 1


def test_triton_impl_without_kernels_fails_loudly(monkeypatch):
    monkeypatch.setitem(sys.modules, "mfpsn.kernels", None)
    m = _trained()
    m.backend = "triton"
    with pytest.raises(RuntimeError, match="fused_mfpsn_spikes"):
        with torch.no_grad():
            m(torch.randn(4, 1, 5, dtype=torch.float64))


def _real_kernels_or_skip():
    pytest.importorskip("triton", reason="the Triton kernels need triton (pip install triton)")
    from mfpsn.kernels import filter as kfilter

    if not torch.cuda.is_available() and not kfilter.INTERPRETED:
        pytest.skip("no CUDA, and the kernels were imported before TRITON_INTERPRET=1 was set")
    return "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize("stats", ["materialize", "moments"])
def test_real_triton_kernels_match_the_eager_layer(stats):
    device = _real_kernels_or_skip()
    a = MFPSN(5, order=3, dilation=2, backend="triton", stats=stats).to(device)
    b = MFPSN(5, order=3, dilation=2, backend="shift_add", stats=stats).to(device)
    b.load_state_dict(a.state_dict())
    x = torch.randn(7, 2, 5, device=device)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    sa, sb = a(xa), b(xb)
    assert torch.equal(sa, sb)
    up = torch.randn_like(sa)
    sa.backward(up)
    sb.backward(up)
    for got, want in ((xa.grad, xb.grad), (a.weight.grad, b.weight.grad), (a.bn_weight.grad, b.bn_weight.grad),
                      (a.bn_bias.grad, b.bn_bias.grad)):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=2e-5)
    torch.testing.assert_close(a.running_var, b.running_var, rtol=1e-5, atol=1e-6)
    a.eval()
    b.eval()
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


def test_real_triton_lif_matches_the_loop():
    device = _real_kernels_or_skip()
    x = torch.randn(9, 2, 3, device=device) + 0.8
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    sa = LIF(v_reset=None, backend="triton")(xa)
    sb = LIF(v_reset=None)(xb)
    assert torch.equal(sa, sb) and 0 < int(sa.sum()) < sa.numel()
    up = torch.randn_like(sa)
    sa.backward(up)
    sb.backward(up)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=2e-5)


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs,match", [
    ({"order": 0}, "order k"), ({"dilation": 0}, "dilation d"), ({"order": 2.0}, "order k"),
    ({"backend": "fast"}, "backend"), ({"stats": "x"}, "stats"), ({"ste": "none"}, "ste"),
    ({"exp_min": 2, "exp_max": 1}, "exp_min"), ({"momentum": 2.0}, "momentum"), ({"eps": 0.0}, "eps"),
    ({"surrogate": "relu"}, "surrogate"),
])
def test_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MFPSN(3, **kwargs)
    with pytest.raises(ValueError, match="channels"):
        MFPSN(0)


@pytest.mark.parametrize("x,match", [
    (torch.randn(4, 3), "at least 3 dims"),
    (torch.randn(4, 2, 5), "expected 3 channels in dim 2.*found 5"),
    (torch.ones(4, 2, 3, dtype=torch.int64), "floating-point.*int64"),
    (torch.ones(4, 2, 3, dtype=torch.bool), "floating-point.*bool"),
])
def test_input_errors_name_expected_and_found(x, match):
    m = MFPSN(3, backend="shift_add")
    for mode in (True, False):
        m.train(mode)
        with pytest.raises(ValueError, match=match):
            m(x)


def test_training_with_a_single_value_per_channel_is_refused():
    with pytest.raises(ValueError, match="more than one value per channel"):
        MFPSN(3, backend="shift_add")(torch.randn(1, 1, 3))


# ---------------------------------------------------------------------------------------------- compile
def test_torch_compile_smoke():
    m = MFPSN(4, order=3, dilation=2, backend="shift_add")
    ref = MFPSN(4, order=3, dilation=2, backend="shift_add")
    ref.load_state_dict(m.state_dict())
    compiled = torch.compile(m, backend="eager")
    x = torch.randn(6, 2, 4)
    s = compiled(x)
    assert torch.equal(s, ref(x))
    s.sum().backward()
    assert m.weight.grad is not None
    m.eval()
    ref.eval()
    with torch.no_grad():
        assert torch.equal(compiled(x), ref(x))


def test_trace_type_and_repr():
    m = MFPSN(3, backend="shift_add").eval()
    tr = m.run(torch.randn(4, 2, 3))
    assert isinstance(tr, NeuronTrace)
    assert "order=2" in repr(m)
