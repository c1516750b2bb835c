"""The one-node fold (mfpsn.functional.fold) against the plain autograd fold_taps: the same W_q and θ bit for bit,
the same gradients up to rounding, for every option (quantizer on/off, both straight-through rules, exponent
clamps, W_f = 0, shared taps, float64, gradients through the statistics)."""
import itertools

import pytest
import torch

from mfpsn.functional.fold import fold_taps_fused
from mfpsn.functional.mfpsn import fold_taps


def _inputs(C, k, dtype, seed, zero_tap=False, shared=False):
    g = torch.Generator().manual_seed(seed)
    w = (torch.randn(1 if shared else C, k, generator=g, dtype=dtype) * 0.4)
    if zero_tap:
        w[0, 1] = 0.0
    gamma = torch.rand(C, generator=g, dtype=dtype) + 0.5
    beta = torch.randn(C, generator=g, dtype=dtype)
    mean = torch.randn(C, generator=g, dtype=dtype)
    var = torch.rand(C, generator=g, dtype=dtype) + 0.1
    leaves = [t.clone().requires_grad_() for t in (w, gamma, beta, mean, var)]
    return leaves, g


def _run(fn, leaves, C, k, shared, opts, g_wq, g_th):
    w, gamma, beta, mean, var = leaves
    taps = w.expand(C, k) if shared else w
    wq, th = fn(taps, gamma, beta, mean, var, 1e-5, *opts)
    torch.autograd.backward((wq, th), (g_wq, g_th))
    return wq.detach(), th.detach(), [t.grad.clone() for t in leaves]


CASES = list(itertools.product(
    [True, False],                       # quantize
    ["whole", "round"],                  # ste
    [(None, None), (-3, 0), (-1, None)],  # exponent range
    [torch.float32, torch.float64],
))


@pytest.mark.parametrize("quantize,ste,rng,dtype", CASES)
@pytest.mark.parametrize("shared", [False, True])
def test_one_node_fold_matches_autograd_fold(quantize, ste, rng, dtype, shared):
    C, k = 7, 5
    ref_leaves, gen = _inputs(C, k, dtype, 3, shared=shared)
    new_leaves = [t.detach().clone().requires_grad_() for t in ref_leaves]
    g_wq = torch.randn(C, k, generator=gen, dtype=dtype)
    g_th = torch.randn(C, generator=gen, dtype=dtype)
    opts = (quantize, *rng, ste)
    wq0, th0, grads0 = _run(fold_taps, ref_leaves, C, k, shared, opts, g_wq, g_th)
    wq1, th1, grads1 = _run(fold_taps_fused, new_leaves, C, k, shared, opts, g_wq, g_th)
    assert torch.equal(wq0, wq1) and torch.equal(th0, th1)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-13)
    for name, a, b in zip(("W", "gamma", "beta", "mean", "var"), grads0, grads1):
        torch.testing.assert_close(b, a, **tol, msg=lambda m, n=name: f"d{n}: {m}")


def test_round_ste_gives_nan_where_a_folded_tap_is_zero_as_autograd_does():
    C, k = 4, 3
    ref_leaves, gen = _inputs(C, k, torch.float64, 5, zero_tap=True)
    new_leaves = [t.detach().clone().requires_grad_() for t in ref_leaves]
    g_wq, g_th = torch.ones(C, k, dtype=torch.float64), torch.ones(C, dtype=torch.float64)
    _, _, grads0 = _run(fold_taps, ref_leaves, C, k, False, (True, None, None, "round"), g_wq, g_th)
    _, _, grads1 = _run(fold_taps_fused, new_leaves, C, k, False, (True, None, None, "round"), g_wq, g_th)
    assert torch.isnan(grads0[0][0, 1]) and torch.isnan(grads1[0][0, 1])
    torch.testing.assert_close(grads1[0], grads0[0], equal_nan=True)


def test_one_node_fold_passes_gradcheck():
    C, k = 3, 4
    leaves, _ = _inputs(C, k, torch.float64, 9)
    fn = lambda w, ga, be, mu, var: fold_taps_fused(w, ga, be, mu, var, 1e-5, False, None, None)  # noqa: E731
    assert torch.autograd.gradcheck(fn, tuple(leaves))


def test_one_node_fold_rejects_an_unknown_straight_through_rule():
    leaves, _ = _inputs(2, 2, torch.float32, 0)
    with pytest.raises(ValueError, match="ste"):
        fold_taps_fused(*leaves, 1e-5, True, None, None, "identity")
