"""Baselines: LIF and PLIF (serial loop), PSN, masked PSN, sliding PSN (spec §4)."""
from __future__ import annotations

import math
import sys
import types

import pytest
import torch

from mfpsn.functional import temporal_filter_ref
from mfpsn.backends import mfpsn_trace
from mfpsn.neurons import LIF, PLIF, PSN, MFPSN, MaskedPSN, NeuronTrace, SlidingPSN


def _spike_ref(u: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Θ(u) forward, ATan surrogate backward (through its primitive)."""
    prim = torch.atan(math.pi / 2 * alpha * u) / math.pi + 0.5
    return (u >= 0).to(u.dtype) + (prim - prim.detach())


# ---------------------------------------------------------------------------------------------- LIF
def test_lif_golden_trace_hard_reset():
    # τ = 2, V_th = 1, V_reset = 0, H[t] = V[t−1] + (X[t] − V[t−1])/2
    # t0: H = 0 + 1.5/2 = 0.75 → S 0, V 0.75;  t1: H = 0.75 + (1.5 − 0.75)/2 = 1.125 → S 1, V 0
    # t2: H = 0 + 0.2/2 = 0.1 → S 0, V 0.1;    t3: H = 0.1 + (3 − 0.1)/2 = 1.55 → S 1, V 0
    x = torch.tensor([1.5, 1.5, 0.2, 3.0], dtype=torch.float64).reshape(4, 1, 1)
    tr = LIF(tau=2.0, v_th=1.0, v_reset=0.0).run(x)
    torch.testing.assert_close(tr.h.flatten(), torch.tensor([0.75, 1.125, 0.1, 1.55], dtype=torch.float64))
    assert tr.spikes.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]
    assert torch.equal(tr.spikes, (tr.h >= tr.v_th).to(tr.spikes.dtype))


def test_lif_golden_trace_soft_reset():
    # soft reset V = H − V_th·S: t1: H = 1.125 → S 1, V 0.125; t2: H = 0.125 + (0.2 − 0.125)/2 = 0.1625
    # t3: H = 0.1625 + (3 − 0.1625)/2 = 1.58125 → S 1
    x = torch.tensor([1.5, 1.5, 0.2, 3.0], dtype=torch.float64).reshape(4, 1, 1)
    tr = LIF(tau=2.0, v_reset=None).run(x)
    torch.testing.assert_close(tr.h.flatten(), torch.tensor([0.75, 1.125, 0.1625, 1.58125], dtype=torch.float64))
    assert tr.spikes.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]


def test_lif_hard_reset_to_a_nonzero_value_and_no_input_decay():
    # V_reset = −0.5, decay_input=False: H = V − (V − V_reset)/τ + X with τ = 4
    # t0: H = 0 − 0.5/4 + 1.25 = 1.125 → S 1, V = −0.5;  t1: H = −0.5 − 0 + 0.25 = −0.25 → S 0
    x = torch.tensor([1.25, 0.25], dtype=torch.float64).reshape(2, 1, 1)
    tr = LIF(tau=4.0, v_reset=-0.5, decay_input=False).run(x)
    torch.testing.assert_close(tr.h.flatten(), torch.tensor([1.125, -0.25], dtype=torch.float64))
    assert tr.spikes.flatten().tolist() == [1.0, 0.0]


def _lif_reference(x, tau, v_th, v_reset, detach_reset):
    """Independent unrolled LIF for gradients: decay_input charge, ATan surrogate, hard or soft reset."""
    v = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        h = v + (x[t] - (v - (v_reset or 0.0))) / tau
        s = _spike_ref(h - v_th)
        r = s.detach() if detach_reset else s
        v = h - v_th * r if v_reset is None else (1 - r) * h + r * v_reset
        out.append(s)
    return torch.stack(out)


@pytest.mark.parametrize("v_reset", [0.0, None])
def test_detach_reset_changes_gradients_and_matches_reference(v_reset):
    x = (torch.randn(9, 2, 3, dtype=torch.float64) + 1.0).requires_grad_(True)
    up = torch.randn(9, 2, 3, dtype=torch.float64)
    grads = {}
    for detach in (True, False):
        xg = x.detach().clone().requires_grad_(True)
        s = LIF(tau=2.0, v_reset=v_reset, detach_reset=detach)(xg)
        s.backward(up)
        xr = x.detach().clone().requires_grad_(True)
        s_ref = _lif_reference(xr, 2.0, 1.0, v_reset, detach)
        s_ref.backward(up)
        assert torch.equal(s, s_ref)
        assert 0 < int(s.sum()) < s.numel()
        torch.testing.assert_close(xg.grad, xr.grad, rtol=1e-12, atol=1e-12)
        grads[detach] = xg.grad
    assert not torch.allclose(grads[True], grads[False])


def _unrolled_lif_matrix(T: int, tau: float) -> torch.Tensor:
    """W[t, i] = τ^−1 (1 − τ^−1)^(t−i) for i ≤ t (Eq. 4)."""
    t = torch.arange(T, dtype=torch.float64)
    lag = t[:, None] - t[None, :]
    return torch.where(lag >= 0, (1 / tau) * (1 - 1 / tau) ** lag.clamp_min(0), torch.zeros(()))


@pytest.mark.parametrize("tau", [2.0, 3.0])
def test_lif_without_reset_is_a_psn_with_the_unrolled_kernel(tau):
    T = 11
    psn = PSN(T).double()
    with torch.no_grad():
        psn.weight.copy_(_unrolled_lif_matrix(T, tau))
    x = torch.randn(T, 2, 3, 2, dtype=torch.float64) + 0.5
    # no spike ever (threshold out of reach): the membranes agree at every step
    lif_h = LIF(tau=tau, v_th=1e9).run(x).h
    torch.testing.assert_close(lif_h, psn.run(x).h, rtol=1e-12, atol=1e-12)
    # with a reachable threshold both agree up to each neuron's first spike (before any reset happens)
    with torch.no_grad():
        psn.threshold.fill_(0.8)
    lif_s = LIF(tau=tau, v_th=0.8).run(x).spikes
    psn_s = psn(x)
    before_first = (torch.cumsum(lif_s, 0) - lif_s) == 0
    assert int(lif_s.sum()) > 0
    assert torch.equal(lif_s[before_first], psn_s[before_first])


def test_lif_step_mode_equals_the_loop_and_reset():
    x = torch.randn(7, 2, 3, 2) + 0.8
    lif = LIF(v_reset=None)
    s = lif(x)
    assert torch.equal(torch.stack([lif.step(x[t]) for t in range(7)]), s)
    with pytest.raises(ValueError, match="stream's"):
        lif.step(torch.randn(3, 3))
    lif.reset()
    assert torch.equal(lif.step(x[0]), s[0])
    assert torch.equal(lif(x), s)  # multi-step calls are stateless


def test_lif_shapes_dtypes_and_errors():
    for shape in [(5, 1, 3), (4, 2, 3, 5), (3, 2, 1, 2, 3)]:
        x = torch.randn(*shape) * 3
        s = LIF()(x)
        assert s.shape == x.shape and s.dtype == x.dtype and bool(((s == 0) | (s == 1)).all())
    with pytest.raises(ValueError, match="at least 3 dims"):
        LIF()(torch.randn(4, 3))
    with pytest.raises(ValueError, match="floating-point.*int32"):
        LIF()(torch.ones(4, 2, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match="tau"):
        LIF(tau=1.0)
    with pytest.raises(ValueError, match="backend"):
        LIF(backend="cuda")
    with pytest.raises(ValueError, match="decay_input"):
        LIF(backend="triton", decay_input=False)


def test_lif_triton_backend_calls_the_fused_kernel(monkeypatch):
    calls = []
    fake = types.ModuleType("mfpsn.kernels")

    def fused_lif(x, tau, v_th, v_reset, detach_reset, surrogate):
        calls.append((tau, v_th, v_reset, detach_reset, surrogate))
        return LIF(tau, v_th, v_reset, detach_reset)(x)

    fake.fused_lif = fused_lif
    fake.require_backend = lambda where: None
    monkeypatch.setitem(sys.modules, "mfpsn.kernels", fake)
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # the CPU stand-in passes the backend's device check
    lif = LIF(tau=3.0, v_th=0.5, v_reset=None, detach_reset=False, backend="triton")
    x = torch.randn(5, 2, 3)
    assert torch.equal(lif(x), LIF(tau=3.0, v_th=0.5, v_reset=None, detach_reset=False)(x))
    assert calls == [(3.0, 0.5, None, False, lif.surrogate)]


def test_plif_starts_as_lif_and_learns_its_time_constant():
    x = torch.randn(8, 2, 3) + 0.7
    plif = PLIF(tau0=2.0)
    assert torch.equal(plif(x), LIF(tau=2.0)(x))
    assert math.isclose(float(torch.sigmoid(PLIF(tau0=3.0).w.detach())), 1 / 3, rel_tol=1e-6)
    assert math.isclose(PLIF(tau0=4.0).tau, 4.0, rel_tol=1e-6)
    plif(x).sum().backward()
    assert plif.w.grad is not None and float(plif.w.grad.abs()) > 0
    tr = plif.run(x)
    assert isinstance(tr, NeuronTrace) and torch.equal(tr.spikes, (tr.h >= tr.v_th).float())


# ---------------------------------------------------------------------------------------------- PSN
def test_psn_is_a_time_mixing_matrix_with_a_per_step_threshold():
    T = 7
    psn = PSN(T).double()
    bound = 1 / math.sqrt(T)
    assert float(psn.weight.detach().abs().max()) <= bound and torch.equal(psn.threshold, torch.ones(T, dtype=torch.float64))
    with torch.no_grad():
        psn.threshold.copy_(torch.linspace(-0.5, 0.5, T))
    x = torch.randn(T, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    tr = psn.run(x)
    h = torch.einsum("tu,ubcs->tbcs", psn.weight, x)
    torch.testing.assert_close(tr.h, h)
    assert tr.v_th.shape == (T, 1, 1, 1)
    assert torch.equal(tr.spikes, (h >= tr.v_th).double())
    tr.spikes.sum().backward()
    assert x.grad is not None and psn.threshold.grad is not None
    with pytest.raises(ValueError, match="T = 7.*found 6"):
        psn(torch.randn(6, 2, 3, dtype=torch.float64))


def test_masked_psn_lambda_schedule_and_mask():
    T, k = 6, 2
    m = MaskedPSN(k, T)
    assert [m.set_lambda(e, 9) for e in (0, 1, 8)] == [0.0, 1.0, 1.0]
    assert m.set_lambda(1, 17) == 0.5
    assert m.set_lambda(0, 1) == 1.0
    band = torch.tensor([[1.0 if j <= i <= j + k - 1 else 0.0 for j in range(T)] for i in range(T)])
    m.lambda_.fill_(0.0)
    assert torch.equal(m.effective_weight(), m.weight)
    m.lambda_.fill_(0.25)
    torch.testing.assert_close(m.effective_weight(), m.weight * (0.25 * band + 0.75))
    m.lambda_.fill_(1.0)
    assert torch.equal(m.effective_weight(), m.weight * band)
    with pytest.raises(ValueError, match="epoch"):
        m.set_lambda(9, 9)
    assert "lambda_" in m.state_dict()


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("T,k,shape", [(5, 2, (1, 3)), (7, 3, (2, 5, 3)), (6, 1, (1, 1))])
def test_masked_psn_forward_and_backward_equal_the_causal_index_form(lam, T, k, shape):
    """H[t] = Σ_j W[t, j]·(λ·[t−k+1 <= j <= t] + 1 − λ)·X[j] with plain loops: the band is causal and
    includes the current step, and the gradients into W, X and θ flow through the mask (zero outside
    the band only once λ = 1)."""
    torch.manual_seed(T * 10 + k)
    m = MaskedPSN(k, T, lambda_init=lam).double()
    with torch.no_grad():
        m.threshold.copy_(torch.linspace(-0.3, 0.2, T))
    x = torch.randn(T, *shape, dtype=torch.float64, requires_grad=True)
    tr = m.run(x)
    W = m.weight.detach().clone().requires_grad_(True)
    theta = m.threshold.detach().clone().requires_grad_(True)
    xr = x.detach().clone().requires_grad_(True)
    H = torch.stack([sum(W[t, j] * (lam * float(t - k + 1 <= j <= t) + 1.0 - lam) * xr[j] for j in range(T))
                     for t in range(T)])
    S = _spike_ref(H - theta.view(T, *[1] * len(shape)))
    torch.testing.assert_close(tr.h, H)
    assert torch.equal(tr.spikes, S.detach())
    g = torch.randn_like(H)
    (tr.spikes * g).sum().backward()
    (S * g).sum().backward()
    torch.testing.assert_close(x.grad, xr.grad)
    torch.testing.assert_close(m.weight.grad, W.grad)
    torch.testing.assert_close(m.threshold.grad, theta.grad)
    outside = (m.weight.grad * (1 - m.mask)).abs().max()
    assert (outside == 0) if lam == 1.0 else (outside > 0 or T <= k)


def test_masked_psn_published_init_leaves_a_band_of_the_drive():
    """A property of the published method, not a bug: W ~ U(−1/√T, 1/√T) as in PSN, so once λ = 1 row t
    keeps min(t + 1, k) of its T inputs and E[H[t]²] = min(t + 1, k)/(3T)·E[X²] instead of 1/3·E[X²]
    (averaged over the initialisation; X = √T·I has E over the batch of X[j]X[l] = δ_jl)."""
    T, k, draws = 8, 2, 400
    torch.manual_seed(0)
    x = math.sqrt(T) * torch.eye(T, dtype=torch.float64).unsqueeze(-1)         # [T, B = T, C = 1]
    ms = {lam: torch.zeros(T, dtype=torch.float64) for lam in (0.0, 1.0)}
    for _ in range(draws):
        m = MaskedPSN(k, T).double()
        for lam in ms:
            m.lambda_.fill_(lam)
            with torch.no_grad():
                ms[lam] += m.run(x).h.pow(2).mean((1, 2)) / draws
    torch.testing.assert_close(ms[0.0], torch.full((T,), 1 / 3, dtype=torch.float64), rtol=0.08, atol=0.0)
    expected = torch.tensor([min(t + 1, k) / (3 * T) for t in range(T)], dtype=torch.float64)
    torch.testing.assert_close(ms[1.0], expected, rtol=0.2, atol=0.0)


def test_masked_psn_single_step_only_once_causal():
    T, k = 7, 3
    m = MaskedPSN(k, T, lambda_init=0.5).double()
    x = torch.randint(-8, 9, (T, 2, 3)).double() / 4          # dyadic inputs and weights: exact sums
    with torch.no_grad():
        m.weight.copy_(torch.round(m.weight * 64) / 64)
    with pytest.raises(RuntimeError, match="lambda_ >= 1"):
        m.step(x[0])
    m.lambda_.fill_(1.0)
    s = m(x)
    assert torch.equal(torch.stack([m.step(x[t]) for t in range(T)]), s)
    with pytest.raises(RuntimeError, match="T = 7"):
        m.step(x[0])
    m.reset()
    assert torch.equal(m.step(x[0]), s[0])


def test_sliding_psn_init_and_sjs_indexing():
    sp = SlidingPSN(4, backend="shift_add").double()
    assert sp.weight.tolist() == [0.125, 0.25, 0.5, 1.0] and float(sp.threshold.detach()) == 1.0
    assert float(SlidingPSN(4, exp_init=False).weight.detach().abs().max()) <= 0.5
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    h = sp.run(x).h
    k = 4
    for t in range(6):   # H[t] = Σ_i W_i X[t − k + 1 + i]
        want = sum(sp.weight[i] * x[t - k + 1 + i] for i in range(k) if t - k + 1 + i >= 0)
        torch.testing.assert_close(h[t], want.detach())


@pytest.mark.parametrize("shape,k", [((7, 3, 5), 3), ((5, 1, 3, 2), 6), ((9, 2, 1, 2, 3), 1)])
def test_sliding_psn_equals_float_mfpsn_with_identical_rows_and_no_bn(shape, k):
    C = shape[2]
    sp = SlidingPSN(k, exp_init=False, backend="shift_add").double()
    with torch.no_grad():
        sp.threshold.fill_(0.3)
    x = torch.randn(*shape, dtype=torch.float64)
    tr = sp.run(x)
    rows = sp.weight.detach().expand(C, k)
    s_mf, h_mf = mfpsn_trace(x, rows, torch.full((C,), 0.3, dtype=torch.float64), 1, MFPSN(C).surrogate,
                                  "reference")
    torch.testing.assert_close(tr.h, h_mf, rtol=1e-12, atol=1e-12)
    assert torch.equal(tr.spikes, s_mf)
    torch.testing.assert_close(tr.h, temporal_filter_ref(x, rows, 1))


def test_sliding_psn_gemm_backend_equals_filter_forward_and_backward():
    x = torch.randn(8, 2, 3, dtype=torch.float64)
    a = SlidingPSN(3, exp_init=False, backend="conv1d").double()
    b = SlidingPSN(3, exp_init=False, backend="gemm").double()
    b.load_state_dict(a.state_dict())
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ta, tb = a.run(xa), b.run(xb)
    torch.testing.assert_close(ta.h, tb.h)
    up = torch.randn_like(x)
    (ta.h * up).sum().backward()
    (tb.h * up).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad)
    torch.testing.assert_close(a.weight.grad, b.weight.grad)
    with pytest.raises(ValueError, match="backend"):
        SlidingPSN(3, backend="conv")


def test_lif_triton_backend_without_triton_says_how_to_install(monkeypatch):
    fake = types.ModuleType("mfpsn.kernels")
    fake.fused_lif = lambda *args: pytest.fail("the kernel must not run without its backend")

    def require_backend(where):
        raise RuntimeError(f"{where} needs Triton: pip install triton")

    fake.require_backend = require_backend
    monkeypatch.setitem(sys.modules, "mfpsn.kernels", fake)
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # the CPU stand-in passes the backend's device check
    with pytest.raises(RuntimeError, match="pip install triton"):
        LIF(backend="triton")(torch.randn(4, 1, 3))
