"""GPU-only kernel checks (marked ``cuda``, skipped without a CUDA device): the autotuned launch path (inputs of
at least AUTOTUNE_MIN_NUMEL values), bfloat16 at that size, run-to-run determinism and torch.compile with
inductor. The small-shape equivalence tests of tests/test_kernels.py also run on CUDA when one is visible.
``python -m mfpsn.bench.gpu_check`` runs this file."""
import pytest
import torch
from conftest import requires_cuda

from mfpsn.functional.filter import temporal_filter_ref
from mfpsn.functional.surrogate import ATan

pytestmark = [pytest.mark.cuda, requires_cuda]

TOL = dict(atol=1e-4, rtol=1e-4)
SHAPE = (16, 512, 128)          # 2^20 values: the autotuned path


def _kernels():
    pytest.importorskip("triton", reason="needs triton (pip install triton)")
    import mfpsn.kernels as k
    from mfpsn.kernels import filter as kfilter

    assert not kfilter.INTERPRETED, "TRITON_INTERPRET is set: unset it to test the compiled kernels"
    return k


def _leaves(*ts, dtype=None):
    return [t.detach().to(dtype or t.dtype).clone().requires_grad_() for t in ts]


def test_autotuned_spikes_and_filter_match_reference():
    k = _kernels()
    x = torch.randn(SHAPE, device="cuda")
    taps = torch.randn(128, 8, device="cuda") * 0.4
    theta = torch.randn(128, device="cuda") * 0.3
    g = torch.randn(SHAPE, device="cuda")
    a = _leaves(x, taps, theta)
    s = k.fused_mfpsn_spikes(*a, 2, ATan())
    grads = torch.autograd.grad(s, a, g)
    r = _leaves(x, taps, theta, dtype=torch.float64)
    h_ref = temporal_filter_ref(r[0], r[1], 2)
    s_ref = ATan()(h_ref - r[2].view(-1))
    grads_ref = torch.autograd.grad(s_ref, r, g.double())
    mismatch = (s.double() != s_ref).float().mean().item()
    assert mismatch < 1e-5, mismatch
    for got, ref in zip(grads, grads_ref):
        torch.testing.assert_close(got.double(), ref, atol=1e-3, rtol=1e-4)
    h = k.triton_temporal_filter(x, taps, 2)
    torch.testing.assert_close(h.double(), h_ref.detach(), **TOL)


def test_autotuned_bf16_filter_within_float32_accumulation_error():
    k = _kernels()
    x = torch.randn(SHAPE, device="cuda").bfloat16()
    taps = (torch.randn(128, 8, device="cuda") * 0.4).bfloat16()
    h = k.triton_temporal_filter(x, taps, 2)
    ref = temporal_filter_ref(x.double(), taps.double(), 2)
    ulp = torch.finfo(torch.bfloat16).eps
    assert ((h.double() - ref).abs() <= ulp * ref.abs() + 1e-5).all()      # one rounding of a float32 sum


def test_autotuned_lif_matches_loop():
    k = _kernels()
    x = (torch.rand(SHAPE, device="cuda") * 2.5).requires_grad_()
    g = torch.randn(SHAPE, device="cuda")
    s = k.fused_lif(x, 2.0, 1.0, 0.0, True, ATan())
    (dx,) = torch.autograd.grad(s, x, g)
    xr = x.detach().double().requires_grad_()
    s_ref = k.lif_ref(xr, 2.0, 1.0, 0.0, True, ATan())
    (dx_ref,) = torch.autograd.grad(s_ref, xr, g.double())
    assert (s.double() != s_ref).float().mean().item() < 1e-5
    torch.testing.assert_close(dx.double(), dx_ref, atol=1e-3, rtol=1e-4)


def test_backward_is_deterministic_at_scale():
    k = _kernels()
    x = torch.randn(SHAPE, device="cuda")
    taps = torch.randn(128, 8, device="cuda")
    theta = torch.zeros(128, device="cuda")
    g = torch.randn(SHAPE, device="cuda")
    runs = []
    for _ in range(2):
        a = _leaves(x, taps, theta)
        runs.append(torch.autograd.grad(k.fused_mfpsn_spikes(*a, 2, ATan()), a, g))
    for u, v in zip(*runs):
        assert torch.equal(u, v)


def test_inductor_compiles_around_the_custom_ops():
    k = _kernels()
    x = torch.randn(64, 32, 128, device="cuda")
    taps = torch.randn(128, 4, device="cuda")
    theta = torch.full((128,), 0.5, device="cuda")

    def layer(a, w, th):
        return k.fused_mfpsn_spikes(a * 2.0 + 0.1, w, th, 3, ATan()).sum(0)

    out = torch.compile(layer, fullgraph=True)(x, taps, theta)
    torch.testing.assert_close(out, layer(x, taps, theta))


def test_lagged_moments_at_scale():
    k = _kernels()
    x = torch.randn(SHAPE, device="cuda") + 0.2
    m1, m2 = k.lagged_moments(x, 8, 2)
    r1, r2 = k.lagged_moments_ref(x, 8, 2)
    torch.testing.assert_close(m1.double(), r1, **TOL)
    torch.testing.assert_close(m2.double(), r2, **TOL)
