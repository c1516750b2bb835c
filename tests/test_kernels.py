"""Triton kernels against their float64 references: forward and every gradient, one shared upstream gradient,
awkward shapes (odd C, T not a power of two, k·d > T, B = 1, 4-D and 5-D input).

Without CUDA the kernels run on CPU tensors through the Triton interpreter: TRITON_INTERPRET=1 is set below
before the kernel modules are first imported (Triton reads it when a kernel is decorated), and
``test_interpreter_is_active`` plus the launch counters prove that the Triton path really ran. With CUDA the
same tests run the compiled kernels.
"""
import os

import torch

if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402

pytest.importorskip("triton", reason="the kernel tests need triton (pip install triton)")

from mfpsn.backends import temporal_filter  # noqa: E402
from mfpsn.functional.filter import filter_shift_add, temporal_filter_ref  # noqa: E402
from mfpsn.functional.surrogate import ATan, Rational, Sigmoid  # noqa: E402
from mfpsn.kernels import (fused_lif, fused_mfpsn_spikes, lagged_moments, lif_ref,  # noqa: E402
                           mfpsn_spikes_ref, triton_temporal_filter)
from mfpsn.kernels import filter as kfilter  # noqa: E402
from mfpsn.kernels import lif as klif  # noqa: E402
from mfpsn.kernels import moments as kmoments  # noqa: E402
from mfpsn.kernels.moments import lagged_moments_ref  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
FP32_TOL = dict(atol=2e-5, rtol=1e-4)        # float32 kernel against the float64 reference

# (id, shape [T, B, C, *], order k, dilation d)
CASES = [
    ("odd-C_T11_d2", (11, 2, 5), 3, 2),
    ("5D_B1", (9, 1, 3, 2, 3), 4, 3),
    ("kd-gt-T", (5, 2, 3), 3, 3),
    ("k1", (13, 3, 7), 1, 1),
    ("4D", (10, 2, 3, 5), 2, 4),
    ("5D_k8_several-column-blocks", (6, 1, 3, 6, 9), 8, 1),      # C·S = 162 > BLOCK_M of the reductions
]
CASE_IDS = [c[0] for c in CASES]


class _Counting:
    """Wraps a Triton kernel object and counts its launches (``kernel[grid](...)``)."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.calls = 0

    def __getitem__(self, grid):
        self.calls += 1
        return self.kernel[grid]


@pytest.fixture
def launches(monkeypatch) -> dict[str, _Counting]:
    """Count the launches of every kernel (plain and autotuned objects share one counter name)."""
    counters: dict[str, _Counting] = {}
    for mod, names in [(kfilter, ["_filter_kernel", "_filter_kernel_tuned", "_grad_stats_kernel"]),
                       (klif, ["_lif_fwd_kernel", "_lif_fwd_tuned", "_lif_bwd_kernel", "_lif_bwd_tuned"]),
                       (kmoments, ["_moments_kernel", "_moments_bwd_kernel"])]:
        for name in names:
            counter = _Counting(getattr(mod, name))
            monkeypatch.setattr(mod, name, counter)
            counters[name] = counter
    return counters


def _calls(launches: dict[str, _Counting], *names: str) -> int:
    return sum(launches[n].calls for n in names)


def _leaves(*tensors: torch.Tensor, dtype: torch.dtype | None = None) -> list[torch.Tensor]:
    return [t.detach().to(dtype or t.dtype).clone().requires_grad_() for t in tensors]


def _run(fn, inputs: list[torch.Tensor], upstream: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    out = fn(*inputs)
    grads = torch.autograd.grad(out, inputs, upstream.to(out.dtype))
    return out.detach(), grads


def _max_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    return (a.double() - ref.double()).abs().max().item()


def _case_inputs(shape, k, scale_x=1.0):
    C = shape[2]
    x = torch.randn(*shape, device=DEVICE) * scale_x
    taps = torch.randn(C, k, device=DEVICE) * 0.6
    theta = torch.randn(C, device=DEVICE) * 0.4
    return x, taps, theta


def test_interpreter_is_active():
    """On CPU the kernels must be interpreter objects; on CUDA they must not be."""
    assert kfilter.INTERPRETED == (DEVICE == "cpu")
    from triton.runtime.interpreter import InterpretedFunction

    assert isinstance(kfilter._filter_kernel, InterpretedFunction) == (DEVICE == "cpu")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_filter_matches_reference(case, launches):
    _, shape, k, d = case
    x, taps, _ = _case_inputs(shape, k)
    g = torch.randn(shape, device=DEVICE)
    h, (dx, dtaps) = _run(lambda a, w: triton_temporal_filter(a, w, d), _leaves(x, taps), g)
    h_ref, (dx_ref, dtaps_ref) = _run(lambda a, w: temporal_filter_ref(a, w, d),
                                      _leaves(x, taps, dtype=torch.float64), g)
    assert h.dtype == x.dtype and h.shape == x.shape
    torch.testing.assert_close(h.double(), h_ref, **FP32_TOL)
    torch.testing.assert_close(dx.double(), dx_ref, **FP32_TOL)
    torch.testing.assert_close(dtaps.double(), dtaps_ref, **FP32_TOL)
    assert _calls(launches, "_filter_kernel", "_filter_kernel_tuned") == 2        # forward + dX
    assert _calls(launches, "_grad_stats_kernel") == 1                             # dTaps


@pytest.mark.parametrize("surrogate", [ATan(), Rational(alpha=10.0), Sigmoid()], ids=["atan", "rational", "sigmoid"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fused_spikes_match_reference(case, surrogate, launches):
    _, shape, k, d = case
    x, taps, theta = _case_inputs(shape, k)
    g = torch.randn(shape, device=DEVICE)
    s, grads = _run(lambda a, w, th: fused_mfpsn_spikes(a, w, th, d, surrogate), _leaves(x, taps, theta), g)
    s_ref, grads_ref = _run(lambda a, w, th: mfpsn_spikes_ref(a, w, th, d, surrogate),
                            _leaves(x, taps, theta, dtype=torch.float64), g)
    assert s.dtype == x.dtype and set(s.unique().tolist()) <= {0.0, 1.0}
    assert 0 < s.mean().item() < 1, "the case should produce some spikes and some silence"
    torch.testing.assert_close(s.double(), s_ref, atol=0, rtol=0)
    for name, got, ref in zip(("dx", "dtaps", "dtheta"), grads, grads_ref):
        torch.testing.assert_close(got.double(), ref, **FP32_TOL, msg=lambda m, n=name: f"{n}: {m}")
    assert _calls(launches, "_filter_kernel", "_filter_kernel_tuned") == 2        # spikes + dX
    assert _calls(launches, "_grad_stats_kernel") == 1                             # G, dTaps, dθ


LIF_CASES = [
    ("hard0_detach_atan", (11, 2, 5), 2.0, 0.0, True, ATan()),
    ("hard0_attached_atan", (11, 2, 5), 2.0, 0.0, False, ATan()),
    ("soft_detach_rational_5D", (9, 1, 3, 2, 3), 1.7, None, True, Rational(alpha=10.0)),
    ("soft_attached_sigmoid", (13, 3, 7), 2.0, None, False, Sigmoid()),
    ("hard_neg_reset_B1", (6, 1, 3), 3.0, -0.3, False, ATan(alpha=5.0)),
]


@pytest.mark.parametrize("case", LIF_CASES, ids=[c[0] for c in LIF_CASES])
def test_fused_lif_matches_python_loop(case, launches):
    _, shape, tau, v_reset, detach, surrogate = case
    x = torch.rand(*shape, device=DEVICE) * 1.5 * tau
    g = torch.randn(shape, device=DEVICE)
    s, (dx,) = _run(lambda a: fused_lif(a, tau, 1.0, v_reset, detach, surrogate), _leaves(x), g)
    s_ref, (dx_ref,) = _run(lambda a: lif_ref(a, tau, 1.0, v_reset, detach, surrogate),
                            _leaves(x, dtype=torch.float64), g)
    assert 0 < s.mean().item() < 1, "the case should produce some spikes and some silence"
    torch.testing.assert_close(s.double(), s_ref, atol=0, rtol=0)
    torch.testing.assert_close(dx.double(), dx_ref, **FP32_TOL)
    assert _calls(launches, "_lif_fwd_kernel", "_lif_fwd_tuned") == 1
    assert _calls(launches, "_lif_bwd_kernel", "_lif_bwd_tuned") == 1


def test_fused_lif_without_grad_saves_nothing_and_matches(launches):
    x = torch.rand(7, 2, 3, device=DEVICE) * 2.5
    with torch.no_grad():
        s = fused_lif(x, 2.0, 1.0, None, True, ATan())
    torch.testing.assert_close(s.double(), lif_ref(x.double(), 2.0, 1.0, None, True, ATan()), atol=0, rtol=0)
    assert _calls(launches, "_lif_fwd_kernel", "_lif_fwd_tuned") == 1


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_lagged_moments_match_reference(case, launches):
    _, shape, k, d = case
    x = torch.randn(*shape, device=DEVICE) + 0.3
    g1, g2 = torch.randn(shape[2], k, device=DEVICE), torch.randn(shape[2], k, k, device=DEVICE)
    (xk,) = _leaves(x)
    m1, m2 = lagged_moments(xk, k, d)
    (dx,) = torch.autograd.grad((m1, m2), (xk,), (g1, g2))
    (xr,) = _leaves(x, dtype=torch.float64)
    r1, r2 = lagged_moments_ref(xr, k, d)
    (dx_ref,) = torch.autograd.grad((r1, r2), (xr,), (g1.double(), g2.double()))
    assert m1.shape == (shape[2], k) and m2.shape == (shape[2], k, k)
    torch.testing.assert_close(m1.double(), r1, **FP32_TOL)
    torch.testing.assert_close(m2.double(), r2, **FP32_TOL)
    torch.testing.assert_close(dx.double(), dx_ref, **FP32_TOL)
    assert _calls(launches, "_moments_kernel") == 1 and _calls(launches, "_moments_bwd_kernel") == 1


def test_lagged_moments_give_the_batch_statistics_of_the_filter_output():
    """μ_B and σ²_B of Y = filter(X, W) from the moments equal those of the materialised Y, and so do their
    gradients with respect to X and W (the BatchNorm-threshold use, spec §2.4)."""
    T, B, C, k, d = 12, 3, 5, 3, 2
    x = torch.randn(T, B, C, 2, device=DEVICE) * 1.3 + 0.5
    w = torch.randn(C, k, device=DEVICE)
    gm, gv = torch.randn(C, device=DEVICE), torch.randn(C, device=DEVICE)

    xk, wk = _leaves(x, w)
    m1, m2 = lagged_moments(xk, k, d)
    mean = (m1 * wk).sum(1)
    var = torch.einsum("ci,cij,cj->c", wk, m2, wk) - mean ** 2
    grads = torch.autograd.grad((mean, var), (xk, wk), (gm, gv))

    xr, wr = _leaves(x, w, dtype=torch.float64)
    y = temporal_filter_ref(xr, wr, d)
    mean_ref = y.mean(dim=(0, 1, 3))
    var_ref = y.var(dim=(0, 1, 3), unbiased=False)
    grads_ref = torch.autograd.grad((mean_ref, var_ref), (xr, wr), (gm.double(), gv.double()))
    torch.testing.assert_close(mean.double(), mean_ref, **FP32_TOL)
    torch.testing.assert_close(var.double(), var_ref, atol=1e-4, rtol=1e-4)
    for got, ref in zip(grads, grads_ref):
        torch.testing.assert_close(got.double(), ref, atol=1e-4, rtol=1e-4)


def test_dtaps_is_deterministic():
    x, taps, theta = _case_inputs((11, 3, 5, 2), 3)
    g = torch.randn(x.shape, device=DEVICE)
    runs = [_run(lambda a, w, th: fused_mfpsn_spikes(a, w, th, 2, ATan()), _leaves(x, taps, theta), g)[1]
            for _ in range(2)]
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_temporal_filter_impl_triton_runs_the_kernel(launches):
    x, taps, _ = _case_inputs((7, 2, 3), 2)
    h = temporal_filter(x, taps, 3, backend="triton")
    torch.testing.assert_close(h.double(), temporal_filter_ref(x.double(), taps.double(), 3), **FP32_TOL)
    assert _calls(launches, "_filter_kernel", "_filter_kernel_tuned") == 1


def test_non_contiguous_input_and_partial_gradients(launches):
    """A permuted view is accepted (made contiguous once); gradients only for the inputs that ask for them."""
    base = torch.randn(2, 5, 7, device=DEVICE)                 # [B, C, T] storage, viewed time-first
    x = base.permute(2, 0, 1)                                  # [T, B, C], not contiguous
    taps, theta = torch.randn(5, 3, device=DEVICE), torch.randn(5, device=DEVICE) * 0.3
    g = torch.randn(x.shape, device=DEVICE)
    (xk,) = _leaves(x)
    s = fused_mfpsn_spikes(xk, taps, theta, 2, ATan())
    (dx,) = torch.autograd.grad(s, (xk,), g)
    (xr,) = _leaves(x, dtype=torch.float64)
    s_ref = mfpsn_spikes_ref(xr, taps.double(), theta.double(), 2, ATan())
    (dx_ref,) = torch.autograd.grad(s_ref, (xr,), g.double())
    torch.testing.assert_close(s.double(), s_ref, atol=0, rtol=0)
    torch.testing.assert_close(dx.double(), dx_ref, **FP32_TOL)


# ------------------------------------------------------------------------------------------ low precision
def _lowp_check(dtype, kernel_fn, torch_fn, inputs32, upstream, kinds):
    """max|kernel − ref64| <= 2·max|torch_lowp − ref64| + eps for the output and every gradient; inputs and
    the upstream gradient are rounded to ``dtype`` first, so all three paths see the same values."""
    upstream = upstream.to(dtype)
    ref_out, ref_grads = _run(torch_fn, _leaves(*[t.to(dtype) for t in inputs32], dtype=torch.float64), upstream)
    k_out, k_grads = _run(kernel_fn, _leaves(*[t.to(dtype) for t in inputs32]), upstream)
    t_out, t_grads = _run(torch_fn, _leaves(*[t.to(dtype) for t in inputs32]), upstream)
    eps_rel = 0.1 * torch.finfo(dtype).eps
    for name, got, low, ref in zip(kinds, (k_out, *k_grads), (t_out, *t_grads), (ref_out, *ref_grads)):
        assert got.dtype == low.dtype, name
        err_k, err_t = _max_err(got, ref), _max_err(low, ref)
        bound = 2 * err_t + eps_rel * ref.abs().max().item()
        assert err_k <= bound, f"{dtype} {name}: kernel error {err_k:.3g} > 2 × torch error {err_t:.3g} + eps"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_low_precision_filter(dtype):
    x, taps, _ = _case_inputs((11, 2, 5, 3), 3)
    g = torch.randn(x.shape, device=DEVICE)
    _lowp_check(dtype, lambda a, w: triton_temporal_filter(a, w, 2),
                lambda a, w: filter_shift_add(a, w, 2) if a.dtype != torch.float64 else temporal_filter_ref(a, w, 2),
                [x, taps], g, ("h", "dx", "dtaps"))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_low_precision_spikes(dtype):
    x, taps, theta = _case_inputs((11, 2, 5, 3), 3)
    g = torch.randn(x.shape, device=DEVICE)

    def plain(a, w, th):
        h = filter_shift_add(a, w, 2) if a.dtype != torch.float64 else temporal_filter_ref(a, w, 2)
        return ATan()(h - th.reshape(-1, 1))

    _lowp_check(dtype, lambda a, w, th: fused_mfpsn_spikes(a, w, th, 2, ATan()), plain, [x, taps, theta], g,
                ("s", "dx", "dtaps", "dtheta"))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_low_precision_lif(dtype):
    x = torch.rand(13, 2, 5, 3, device=DEVICE) * 2.5
    g = torch.randn(x.shape, device=DEVICE)
    _lowp_check(dtype, lambda a: fused_lif(a, 2.0, 1.0, 0.0, True, ATan()),
                lambda a: lif_ref(a, 2.0, 1.0, 0.0, True, ATan()), [x], g, ("s", "dx"))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_low_precision_moments_accumulate_in_float32(dtype):
    x = (torch.randn(11, 2, 5, 3, device=DEVICE) + 0.5).to(dtype)
    m1, m2 = lagged_moments(x, 3, 2)
    r1, r2 = lagged_moments_ref(x.double(), 3, 2)
    assert m1.dtype == torch.float32
    torch.testing.assert_close(m1.double(), r1, **FP32_TOL)
    torch.testing.assert_close(m2.double(), r2, **FP32_TOL)


# ------------------------------------------------------------------------------------------ compile / ops
def test_torch_compile_traces_the_custom_ops(launches):
    """Dynamo captures one graph holding the custom ops (fullgraph: no break), and aot_eager runs forward and
    backward through them with the eager results."""
    x, taps, theta = _case_inputs((9, 2, 3), 3)

    def step(a, w, th):
        s = fused_mfpsn_spikes(a, w, th, 2, ATan())
        h = triton_temporal_filter(a, w, 2)
        return s * h + fused_lif(a, 2.0, 1.0, None, True, ATan())

    graphs = []

    def record(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch.compile(step, backend=record, fullgraph=True)(*_leaves(x, taps, theta))
    targets = {str(n.target) for gm in graphs for n in gm.graph.nodes if n.op == "call_function"}
    for op in ("mfpsn.mfpsn_spikes", "mfpsn.temporal_filter", "mfpsn.lif_fwd"):
        assert any(t.startswith(op) for t in targets), (op, targets)

    torch._dynamo.reset()
    g = torch.randn(x.shape, device=DEVICE)
    before = _calls(launches, "_filter_kernel", "_grad_stats_kernel", "_lif_bwd_kernel")
    out_c, grads_c = _run(torch.compile(step, backend="aot_eager", fullgraph=True), _leaves(x, taps, theta), g)
    assert _calls(launches, "_filter_kernel", "_grad_stats_kernel", "_lif_bwd_kernel") > before
    out_e, grads_e = _run(step, _leaves(x, taps, theta), g)
    torch.testing.assert_close(out_c, out_e)
    for a, b in zip(grads_c, grads_e):
        torch.testing.assert_close(a, b)


def test_opcheck_custom_ops():
    """torch.library.opcheck: schema, fake (meta) implementation and autograd registration of every op."""
    x, taps, theta = _case_inputs((7, 2, 3), 2)
    xg, tg, thg = _leaves(x, taps, theta)
    ops = torch.ops.mfpsn
    cases = [
        (ops.temporal_filter.default, (xg, tg, 2)),
        (ops.mfpsn_spikes.default, (xg, tg, thg, 2, 0, 2.0)),
        (ops.lif_fwd.default, (xg, 2.0, 1.0, 0.0, 0.0, True, True, True, 0, 2.0)),
        (ops.lagged_moments.default, (xg, 2, 3)),
    ]
    for op, args in cases:
        torch.library.opcheck(op, args, test_utils=("test_schema", "test_autograd_registration", "test_faketensor"))


# ------------------------------------------------------------------------------------------ bad input
def test_bad_input_raises_specific_errors():
    x, taps, theta = _case_inputs((5, 2, 3), 2)
    with pytest.raises(ValueError, match="float32, bfloat16 or float16"):
        triton_temporal_filter(x.double(), taps, 1)
    with pytest.raises(ValueError, match=r"theta .*\[3\]"):
        fused_mfpsn_spikes(x, taps, theta[:2], 1, ATan())
    with pytest.raises(ValueError, match="ATan, Rational or Sigmoid"):
        fused_mfpsn_spikes(x, taps, theta, 1, "atan")
    with pytest.raises(ValueError, match="taps for the 3 channels"):
        triton_temporal_filter(x, taps[:2], 1)
    with pytest.raises(ValueError, match="order >= 1"):
        lagged_moments(x, 0, 1)
    with pytest.raises(ValueError, match="tau > 0"):
        fused_lif(x, 0.0)
