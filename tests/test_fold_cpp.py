"""The C++ fold glue of the fused training layer (mfpsn.functional.fold_cpp) against the torch forms it replaces:
batch statistics, fold and quantizer bit for bit; the backward and the statistics coefficients to rounding."""
from __future__ import annotations

import copy
import os
import shutil

import pytest
import torch

from mfpsn.functional import fold, fused_cpu

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None,
                                reason="the fused CPU kernel needs a C++ compiler ($CXX or g++)")

RANGES = [(None, None), (-3, 2), (None, 0), (-1, None)]
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=1e-4, atol=1e-5)}


def _inputs(C, k, n, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    scale = float(torch.rand(1, generator=gen)) * 3 + 0.01
    w = (torch.randn(C, k, generator=gen, dtype=torch.float64) * scale).to(dtype)
    w[0, 0] = 0.0                                    # W_f = 0: Q(0) = 0, NaN under ste="round"
    gamma = torch.randn(C, generator=gen, dtype=torch.float64).to(dtype)
    beta = torch.randn(C, generator=gen, dtype=torch.float64).to(dtype)
    y = torch.randn(n, C, generator=gen, dtype=torch.float64) * 2 + 0.5
    sums = torch.stack([y.sum(0), (y * y).sum(0)]).contiguous()
    if C > 1:   # channel 1: ΣY²/n − μ² < 0 by rounding, clamped to 0
        sums[:, 1] = torch.tensor([0.3 * n, 0.09 * n * (1 - 1e-12)], dtype=torch.float64)
        assert float(sums[1, 1] / n - (sums[0, 1] / n) ** 2) < 0
    return sums, w, gamma, beta


def _reference_forward(sums, n, w, gamma, beta, eps, quantize, lo, hi):
    mean64 = sums[0] / n
    mean = mean64.to(w.dtype)
    var = (sums[1] / n - mean64 * mean64).clamp_min_(0.0).to(w.dtype)
    return fold.fold_forward(w, gamma, beta, mean, var, eps, quantize, lo, hi), mean, var, mean64


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(1, 1, 2), (3, 5, 7), (128, 8, 8192), (17, 16, 300)], ids=str)
@pytest.mark.parametrize("quantize,ste", [(True, "whole"), (True, "round"), (False, "whole")])
@pytest.mark.parametrize("rng", RANGES, ids=str)
def test_fold_forward_equals_the_torch_fold_and_backward_agrees(dtype, shape, quantize, ste, rng):
    C, k, n = shape
    lo, hi = rng
    sums, w, gamma, beta = _inputs(C, k, n, dtype, seed=C * 31 + k)
    w_q, theta, mean, var, w_f, g, inv, mean64 = fused_cpu.fused_fold_forward(sums, n, w, gamma, beta, 1e-5,
                                                                               quantize, lo, hi)
    ref, mean_r, var_r, mean64_r = _reference_forward(sums, n, w, gamma, beta, 1e-5, quantize, lo, hi)
    for got, want in ((w_q, ref.w_q), (theta, ref.theta), (w_f, ref.w_f), (g, ref.g), (inv, ref.inv),
                      (mean, mean_r), (var, var_r), (mean64, mean64_r)):
        assert got.dtype == want.dtype and torch.equal(got, want)
    if C > 1:
        assert var[1] == 0

    gen = torch.Generator().manual_seed(7)
    d_wq = torch.randn(C, k, generator=gen, dtype=torch.float64)
    g_sum = torch.randn(C, generator=gen, dtype=torch.float64)
    round_ste = quantize and ste == "round"
    dw, dgamma, dbeta, a_c, b_c = fused_cpu.fused_fold_backward(d_wq, g_sum, w, mean, var, g, inv, w_f, w_q, 1e-5,
                                                                round_ste, lo, hi, n, mean64)
    want = fold.fold_backward(d_wq.to(dtype), (-g_sum).to(dtype), w, mean, var, g, inv, 1e-5,
                              (w_f, w_q, lo, hi) if round_ste else None)
    b_want = 2.0 * want.var.double() / n
    a_want = want.mean.double() / n - b_want * mean64
    for got, ref_value in ((dw, want.weight), (dgamma, want.bn_weight), (dbeta, want.bn_bias)):
        assert got.dtype == dtype
        torch.testing.assert_close(got, ref_value, equal_nan=True, **TOL[dtype])
    for got, ref_value in ((a_c, a_want), (b_c, b_want)):
        torch.testing.assert_close(got, ref_value, equal_nan=True, rtol=TOL[dtype]["rtol"],
                                   atol=TOL[dtype]["atol"] * float(ref_value.nan_to_num().abs().max().clamp_min(1)))
    assert torch.equal(dw.isnan(), want.weight.isnan())
    assert bool(dw.isnan().any()) == (round_ste and bool((w_f == 0).any()))


def test_the_quantizer_of_the_fold_handles_inf_nan_and_huge_exponents_as_torch():
    """Inf, NaN and values whose exponent leaves the dtype's range (Q overflows to inf, underflows to 0)."""
    w = torch.tensor([[float("inf"), -float("inf"), float("nan"), 3e38, 1e-45, -0.0]], dtype=torch.float32)
    C, k = w.shape
    sums = torch.tensor([[0.0], [4.0]], dtype=torch.float64)          # μ = 0, σ² = 1
    for lo, hi in RANGES:
        got = fused_cpu.fused_fold_forward(sums, 4, w, torch.ones(C), torch.zeros(C), 0.0, True, lo, hi)
        ref, *_ = _reference_forward(sums, 4, w, torch.ones(C), torch.zeros(C), 0.0, True, lo, hi)
        assert torch.equal(got[0].isnan(), ref.w_q.isnan())
        assert torch.equal(got[0].nan_to_num(), ref.w_q.nan_to_num())


@pytest.mark.parametrize("options", [dict(), dict(ste="round"), dict(quantize=False), dict(exp_min=-2, exp_max=0),
                                     dict(shared_taps=True)], ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_eval_fold_dispatch_gives_the_torch_fold(options, dtype):
    """MFPSN's eval fold on ``backend="fused"`` is the C++ node, on ``"shift_add"`` the torch node; both give the same
    W_q and θ bit for bit, and the same gradients to rounding."""
    from mfpsn.neurons import MFPSN

    torch.manual_seed(3)
    x = torch.randn(20, 3, 16, dtype=dtype)
    trained = MFPSN(16, order=4, dilation=2, **options).to(dtype)
    for _ in range(3):
        trained(x)
    folds = {}
    for backend in ("fused", "shift_add"):
        m = copy.deepcopy(trained).eval()
        m.backend = backend
        taps, theta = m._compute_fold()
        weights = torch.arange(taps.numel(), dtype=dtype).view_as(taps)
        grads = torch.autograd.grad((taps * weights).sum() + (theta * 3).sum(), [m.weight, m.bn_weight, m.bn_bias])
        folds[backend] = (taps, theta, grads, type(taps.grad_fn).__name__)
    (t0, th0, g0, node0), (t1, th1, g1, node1) = folds["fused"], folds["shift_add"]
    assert (node0, node1) == ("_FoldCPUBackward", "_FoldBackward")
    assert torch.equal(t0, t1) and torch.equal(th0, th1)
    for a, b in zip(g0, g1):
        torch.testing.assert_close(a, b, equal_nan=True, **TOL[dtype])


@pytest.mark.parametrize("ste", ["whole", "round"])
def test_fused_fold_gradients_reach_all_five_inputs_as_the_torch_fold(ste):
    """fused_fold is differentiable in W, γ, β, μ and σ² (batch statistics that need a gradient included)."""
    from mfpsn.functional.fold import fold_taps_fused
    from mfpsn.functional.mfpsn_train_cpu import fused_fold

    gen = torch.Generator().manual_seed(5)
    f64 = dict(generator=gen, dtype=torch.float64)
    inputs = [torch.randn(6, 3, **f64), torch.rand(6, **f64) + 0.5, torch.randn(6, **f64), torch.randn(6, **f64),
              torch.rand(6, **f64) + 0.1]
    up = (torch.randn(6, 3, generator=gen, dtype=torch.float64), torch.randn(6, generator=gen, dtype=torch.float64))
    grads = []
    for fold in (fused_fold, fold_taps_fused):
        leaves = [t.clone().requires_grad_() for t in inputs]
        w_q, theta = fold(*leaves, 1e-5, True, -2, 1, ste)
        grads.append(torch.autograd.grad((w_q * up[0]).sum() + (theta * up[1]).sum(), leaves))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, **TOL[torch.float64])
    with pytest.raises(RuntimeError, match="CPU in float32/float64"):
        fused_fold(*(t.half() for t in inputs), 1e-5, True, None, None)
    with pytest.raises(ValueError, match="ste"):
        fused_fold(*inputs, 1e-5, True, None, None, "nearest")


@pytest.mark.parametrize("backend", ["fused", "auto"])
def test_the_eval_fold_under_torch_compile_adds_no_graph_break(backend):
    """Inside a trace the eval fold is the torch fold (the C++ "fold" op is a ctypes call) and the quantizer's
    constants are not computed there (an .item() per dtype broke the graph); values equal eager's."""
    from mfpsn.neurons import MFPSN

    m = MFPSN(16, order=4, dilation=2, backend=backend).eval()
    x = torch.randn(20, 3, 16)
    explained = torch._dynamo.explain(m)(x)
    reasons = [str(b.reason) for b in explained.break_reasons]
    assert not [r for r in reasons if "item()" in r or "Unsupported method call" in r], reasons
    assert torch.equal(torch.compile(m, backend="eager")(x), m(x))


def test_the_fold_entry_points_refuse_operands_the_cpp_would_misread():
    """Wrong shape, dtype, device layout or a missing statistic: ValueError naming the operand, nothing read."""
    C, k = 4, 3
    w, v = torch.randn(C, k), torch.rand(C) + 0.5
    sums = torch.rand(2, C, dtype=torch.float64)
    bad = [dict(sums=sums.float()), dict(sums=sums[:, :2]), dict(weight=torch.randn(k, C).t()),
           dict(bn_weight=torch.rand(C, dtype=torch.float64)), dict(bn_bias=torch.zeros(C + 1))]
    for change in bad:
        args = dict(sums=sums, weight=w, bn_weight=v, bn_bias=torch.zeros(C)) | change
        name = next(iter(change))
        with pytest.raises(ValueError, match=f"expected {name} a contiguous CPU tensor"):
            fused_cpu.fused_fold_forward(args["sums"], 8, args["weight"], args["bn_weight"], args["bn_bias"], 1e-5,
                                         True, None, None)
    with pytest.raises(ValueError, match="either sums or mean and var"):
        fused_cpu.fused_fold_forward(None, 8, w, v, torch.zeros(C), 1e-5, True, None, None, mean=v)
    f = fused_cpu.fused_fold_forward(sums, 8, w, v, torch.zeros(C), 1e-5, True, None, None)
    w_q, theta, mean, var, w_f, g, inv, mean64 = f
    with pytest.raises(ValueError, match="expected d_wq a contiguous CPU tensor"):
        fused_cpu.fused_fold_backward(torch.zeros(C, k), torch.zeros(C, dtype=torch.float64), w, mean, var, g, inv,
                                      w_f, w_q, 1e-5, False, None, None, 8, mean64)
    with pytest.raises(ValueError, match="expected inv a contiguous CPU tensor"):
        fused_cpu.fused_fold_backward(torch.zeros(C, k, dtype=torch.float64), torch.zeros(C, dtype=torch.float64), w,
                                      mean, var, g, inv[:2], w_f, w_q, 1e-5, False, None, None, 8, mean64)
