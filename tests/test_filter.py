"""temporal_filter: every implementation against the float64 loop reference, forward and backward.

Legend: T time, B batch, C channels, k taps, d dilation; x: [T, B, C, *], taps: [C, k].
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mfpsn.functional import fused_cpu
from mfpsn.backends import BACKENDS, FILTER_BACKENDS, temporal_filter, temporal_filter_spikes
from mfpsn.functional.filter import lags, temporal_filter_ref

FILTERS = BACKENDS.names_for("filter")
from tolerances import TOL

HAVE_CXX = shutil.which(os.environ.get("CXX", "g++")) is not None
requires_cxx = pytest.mark.skipif(not HAVE_CXX,
                                  reason="the fused CPU kernel needs a C++ compiler ($CXX or g++); none on PATH")
IMPLS_CPU = ["conv1d", "shift_add", "toeplitz", "blocked", pytest.param("fused", marks=requires_cxx)]

# (shape of x, k, d): odd C, T not a power of two, B = 1, k·d > T, k = 1, 5-D input, columns that cross the
# fused kernel's 256-column blocks with a remainder (4·70 = 280: one 16-column vector pair and 8 scalar columns
# past the block; 3·101 = 303), fewer columns than one vector pair (67), lags longer than T.
CASES = [
    ((13, 2, 5), 3, 2),
    ((7, 1, 3), 4, 3),
    ((9, 2, 3), 1, 1),
    ((10, 2, 3, 2, 3), 3, 1),
    ((6, 4, 70), 2, 5),
    ((5, 3, 101), 3, 2),
    ((11, 1, 67), 5, 2),
]
CASE_IDS = [f"{'x'.join(map(str, s))}-k{k}-d{d}" for s, k, d in CASES]


def _inputs(shape, k, dtype):
    x = torch.randn(*shape, dtype=dtype)
    taps = torch.randn(shape[2], k, dtype=dtype)
    return x, taps


def _channel_view(v: torch.Tensor, ndim: int) -> torch.Tensor:
    return v.reshape(1, 1, -1, *([1] * (ndim - 3)))


def test_reference_matches_hand_computed_values():
    """h[t] = 2·x[t] + 3·x[t − 2] for one channel: checked against numbers written out by hand."""
    x = torch.tensor([1.0, 10.0, 100.0, 1000.0, 10000.0], dtype=torch.float64).reshape(5, 1, 1)
    taps = torch.tensor([[3.0, 2.0]], dtype=torch.float64)
    h = temporal_filter_ref(x, taps, dilation=2)
    assert h.flatten().tolist() == [2.0, 20.0, 203.0, 2030.0, 20300.0]
    assert lags(3, 2) == [4, 2, 0]


def test_impls_are_all_named():
    assert set(FILTER_BACKENDS) == set(FILTERS) | {"auto"}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("impl", IMPLS_CPU + ["auto"])
def test_forward_and_backward_match_reference(impl, case, dtype):
    shape, k, d = case
    x, taps = _inputs(shape, k, dtype)
    x_ref = x.double().clone().requires_grad_()
    w_ref = taps.double().clone().requires_grad_()
    x_imp = x.clone().requires_grad_()
    w_imp = taps.clone().requires_grad_()

    h_ref = temporal_filter_ref(x_ref, w_ref, d)
    h_imp = temporal_filter(x_imp, w_imp, d, backend=impl)
    assert h_imp.shape == x.shape and h_imp.dtype == dtype
    torch.testing.assert_close(h_imp, h_ref.to(dtype), **TOL[dtype])

    g = torch.randn(shape, dtype=torch.float64)  # one shared upstream gradient
    h_ref.backward(g)
    h_imp.backward(g.to(dtype))
    torch.testing.assert_close(x_imp.grad, x_ref.grad.to(dtype), **TOL[dtype])
    torch.testing.assert_close(w_imp.grad, w_ref.grad.to(dtype), **TOL[dtype])


@pytest.mark.parametrize("impl", IMPLS_CPU)
def test_non_contiguous_input(impl):
    """x is a permuted view (time not the outermost stride): same result as its contiguous copy."""
    base = torch.randn(3, 6, 10, 5)                 # [B, C, T, W]-ish storage
    x = base.permute(2, 0, 1, 3)                    # [T=10, B=3, C=6, 5], non-contiguous
    assert not x.is_contiguous()
    taps = torch.randn(6, 3)
    xr = x.detach().clone().requires_grad_()
    xi = x.detach().requires_grad_()
    h_ref = temporal_filter_ref(xr, taps, 2)
    h = temporal_filter(xi, taps, 2, backend=impl)
    torch.testing.assert_close(h, h_ref, **TOL[torch.float32])
    g = torch.randn_like(h)
    h_ref.backward(g)
    h.backward(g)
    torch.testing.assert_close(xi.grad, xr.grad, **TOL[torch.float32])


@pytest.mark.parametrize("impl", IMPLS_CPU)
@pytest.mark.parametrize("case", [((6, 2, 3), 3, 2), ((5, 1, 2, 2), 2, 3)], ids=["3d-k3d2", "4d-k2d3-kd>T"])
def test_gradcheck_float64(impl, case):
    shape, k, d = case
    x, taps = _inputs(shape, k, torch.float64)
    x.requires_grad_()
    taps.requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: temporal_filter(a, b, d, backend=impl), (x, taps))


def test_output_does_not_depend_on_the_future():
    """Causality: changing x at t0 changes no h before t0 (every implementation)."""
    x, taps = _inputs((12, 2, 5), 3, torch.float64)
    y = x.clone()
    y[7:] += 1.0
    for impl in ["conv1d", "shift_add", "toeplitz", "blocked"] + (["fused"] if HAVE_CXX else []):
        a, b = temporal_filter(x, taps, 2, backend=impl), temporal_filter(y, taps, 2, backend=impl)
        assert torch.equal(a[:7], b[:7]), impl
        assert not torch.equal(a[7:], b[7:]), impl


# ------------------------------------------------------------------------------------------ spike form
@requires_cxx
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fused_spikes_equal_threshold_of_fused_filter(case, dtype):
    """One-pass spikes == Θ(h − θ) of the same kernel's h, bit for bit, and agree with the reference off the edge."""
    shape, k, d = case
    x, taps = _inputs(shape, k, dtype)
    theta = torch.randn(shape[2], dtype=dtype)
    s = temporal_filter_spikes(x, taps, theta, d, backend="fused")
    h = temporal_filter(x, taps, d, backend="fused")
    u = h - _channel_view(theta, h.dim())
    assert torch.equal(s, (u >= 0).to(dtype))
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    h_ref = temporal_filter_ref(x.double(), taps.double(), d)
    u_ref = h_ref - _channel_view(theta.double(), h.dim())
    clear = u_ref.abs() > 1e-4
    assert torch.equal(s[clear], (u_ref[clear] >= 0).to(dtype))


@pytest.mark.parametrize("impl", IMPLS_CPU + ["auto"])
def test_spikes_every_impl(impl):
    x, taps = _inputs((9, 2, 7), 3, torch.float32)
    theta = torch.randn(7)
    s = temporal_filter_spikes(x, taps, theta, 2, backend=impl)
    h_ref = temporal_filter_ref(x, taps, 2).double()
    u = h_ref - _channel_view(theta.double(), 3)
    clear = u.abs() > 1e-4
    assert torch.equal(s[clear], (u[clear] >= 0).float())


@requires_cxx
def test_spikes_theta_zero_fires_at_zero():
    """Θ(0) = 1: h exactly equal to θ spikes."""
    x = torch.zeros(4, 1, 2)
    taps = torch.ones(2, 2)
    s = temporal_filter_spikes(x, taps, torch.zeros(2), 1, backend="fused")
    assert torch.equal(s, torch.ones_like(s))


@requires_cxx
def test_spikes_refuse_a_gradient():
    x = torch.randn(5, 2, 3, requires_grad=True)
    with pytest.raises(ValueError, match="expected no gradient"):
        temporal_filter_spikes(x, torch.randn(3, 2), torch.zeros(3), 1, backend="fused")
    with torch.no_grad():
        temporal_filter_spikes(x, torch.randn(3, 2), torch.zeros(3), 1, backend="fused")


@requires_cxx
@pytest.mark.parametrize("theta, found", [(torch.zeros(4), r"\(4,\)"), (torch.zeros(3, 1), r"\(3, 1\)"),
                                          (torch.zeros(3, dtype=torch.int64), "torch.int64")])
def test_spikes_bad_theta(theta, found):
    with pytest.raises(ValueError, match=rf"expected .*theta.*found {found}"):
        temporal_filter_spikes(torch.randn(5, 2, 3), torch.randn(3, 2), theta, 1, backend="fused")


# ------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "x, taps, d, impl, pattern",
    [
        (torch.randn(5, 3), torch.randn(3, 2), 1, "auto", r"expected x of shape \[T, B, C, \*\].*found \(5, 3\)"),
        (torch.randn(2, 2, 2, 2, 2, 2), torch.randn(2, 2), 1, "auto", r"expected x of shape.*found \(2, 2, 2, 2, 2, 2\)"),
        (torch.randn(5, 2, 3), torch.randn(4, 2), 1, "auto", r"expected taps for the 3 channels.*found 4"),
        (torch.randn(5, 2, 3), torch.randn(3), 1, "auto", r"expected taps of shape \[C, k\], found \(3,\)"),
        (torch.ones(5, 2, 3, dtype=torch.int64), torch.randn(3, 2), 1, "auto",
         r"expected a floating-point x, found torch.int64"),
        (torch.randn(5, 2, 3), torch.ones(3, 2, dtype=torch.int32), 1, "auto",
         r"expected floating-point taps, found torch.int32"),
        (torch.randn(5, 2, 3), torch.randn(3, 0), 1, "auto", r"expected order k >= 1, found 0"),
        (torch.randn(5, 2, 3), torch.randn(3, 2), 0, "auto", r"expected an int dilation >= 1, found 0"),
        (torch.randn(5, 2, 3), torch.randn(3, 2), -2, "auto", r"expected an int dilation >= 1, found -2"),
        (torch.randn(5, 2, 3), torch.randn(3, 2), 1.5, "auto", r"expected an int dilation >= 1, found 1.5"),
        (torch.randn(5, 2, 3), torch.randn(3, 2), True, "auto", r"expected an int dilation >= 1, found True"),
        (torch.randn(5, 2, 3), torch.randn(3, 2), 1, "fft", r"expected backend in .*found 'fft'"),
        (torch.randn(0, 2, 3), torch.randn(3, 2), 1, "auto", r"expected a non-empty x.*found shape \(0, 2, 3\)"),
        (torch.randn(4, 0, 3, 2, 2), torch.randn(3, 2), 1, "blocked", r"expected a non-empty x.*\(4, 0, 3, 2, 2\)"),
        (torch.randn(4, 2, 0), torch.randn(0, 2), 1, "conv1d", r"expected a non-empty x.*found shape \(4, 2, 0\)"),
    ],
    ids=["rank2", "rank6", "channels", "taps-rank", "int-x", "int-taps", "k0", "d0", "d-neg", "d-float",
         "d-bool", "impl", "T0", "B0", "C0"],
)
def test_bad_input_raises_value_error(x, taps, d, impl, pattern):
    with pytest.raises(ValueError, match=pattern):
        temporal_filter(x, taps, d, backend=impl)


def test_reference_checks_its_input_too():
    with pytest.raises(ValueError, match="expected taps for the 3 channels"):
        temporal_filter_ref(torch.randn(5, 2, 3), torch.randn(2, 2))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised where no CUDA device exists")
def test_triton_without_cuda_or_interpreter_raises(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(RuntimeError, match="backend='triton' needs a CUDA device, or TRITON_INTERPRET=1"):
        temporal_filter(torch.randn(5, 2, 3), torch.randn(3, 2), 1, backend="triton")


def test_fused_rejects_other_dtypes():
    with pytest.raises(RuntimeError, match="supports float32 and float64, found torch.float16"):
        temporal_filter(torch.randn(5, 2, 3).half(), torch.randn(3, 2).half(), 1, backend="fused")


# ------------------------------------------------------------------------------------------ custom ops
@requires_cxx
def test_fused_custom_ops_pass_opcheck():
    """Schema, fake (meta) kernels and autograd registration of the torch.library ops behind backend='fused'."""
    x, taps = _inputs((7, 2, 5), 3, torch.float64)
    x.requires_grad_()
    taps.requires_grad_()
    torch.library.opcheck(torch.ops.mfpsn.fused_filter.default, (x, taps, 2))
    torch.library.opcheck(torch.ops.mfpsn.fused_filter_spikes.default,
                          (x.detach(), taps.detach(), torch.zeros(5, dtype=torch.float64), 2))


@requires_cxx
@pytest.mark.parametrize("need", [(True, True), (True, False), (False, True)])
def test_fused_eager_function_equals_the_custom_op(need):
    """Eager mode runs an autograd function around the kernels, torch.compile the custom op: same values and
    gradients (awkward shape: T = 11, a trailing dim of 3, C = 5, k = 3, d = 2)."""
    from mfpsn.functional.filter import _FusedFilter
    x, taps = _inputs((11, 2, 5, 3), 3, torch.float64)
    g = torch.randn(11, 2, 5, 3, dtype=torch.float64)
    xa, wa = x.clone().requires_grad_(need[0]), taps.clone().requires_grad_(need[1])
    xb, wb = x.clone().requires_grad_(need[0]), taps.clone().requires_grad_(need[1])
    ya, yb = _FusedFilter.apply(xa, wa, 2), torch.ops.mfpsn.fused_filter(xb, wb, 2)
    assert torch.equal(ya, yb)
    ya.backward(g)
    yb.backward(g)
    for a, b in ((xa, xb), (wa, wb)):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            assert torch.equal(a.grad, b.grad)


@requires_cxx
def test_eager_training_step_imports_neither_dynamo_nor_sympy():
    """The first training step of a fresh process (auto's timing included) stays out of torch._dynamo and sympy
    (calling a custom op eagerly imported both: about 0.5 s of the first step)."""
    code = ("import sys, torch\n"
            "from mfpsn.neurons import MFPSN\n"
            "heavy = lambda: sorted(n for n in ('torch._dynamo', 'sympy') if n in sys.modules)\n"
            "before = heavy()\n"
            "m = MFPSN(16, order=3, dilation=2)\n"
            "x = torch.rand(32, 4, 16, requires_grad=True)\n"
            "m(x).sum().backward()\n"
            "m.eval()\n"
            "m(x).sum().backward()\n"
            "print(repr((before, heavy())))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.strip().splitlines()[-1]
    before, after = ast.literal_eval(out)
    assert after == before, f"imported by the steps: {sorted(set(after) - set(before))}"


@requires_cxx
def test_fused_compiles_without_graph_breaks():
    """torch.compile(fullgraph=True) traces through the fused op; values and gradients match eager."""
    x, taps = _inputs((9, 2, 3), 2, torch.float32)
    f = torch.compile(lambda a, b: temporal_filter(a, b, 2, backend="fused") * 2.0, fullgraph=True, backend="eager")
    xc, wc = x.clone().requires_grad_(), taps.clone().requires_grad_()
    xe, we = x.clone().requires_grad_(), taps.clone().requires_grad_()
    yc, ye = f(xc, wc), temporal_filter(xe, we, 2, backend="fused") * 2.0
    torch.testing.assert_close(yc, ye)
    g = torch.randn_like(ye)
    yc.backward(g)
    ye.backward(g)
    torch.testing.assert_close(xc.grad, xe.grad)
    torch.testing.assert_close(wc.grad, we.grad)


# ------------------------------------------------------------------------------------------ build and cache
def test_fused_without_compiler_raises(monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler-mfpsn")
    with pytest.raises(RuntimeError, match="needs a C\\+\\+ compiler: 'no-such-compiler-mfpsn'"):
        fused_cpu.library_path()


@requires_cxx
def test_fused_unwritable_cache_folder_raises(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MFPSN_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(RuntimeError, match="cannot write the kernel cache folder .*set MFPSN_CACHE_DIR"):
        fused_cpu._build(fused_cpu.library_path())


@requires_cxx
def test_fused_library_is_built_once_and_then_loaded_from_disk(monkeypatch, tmp_path):
    monkeypatch.setenv("MFPSN_CACHE_DIR", str(tmp_path))
    builds = []
    real_build = fused_cpu._build
    monkeypatch.setattr(fused_cpu, "_build", lambda target: (builds.append(target), real_build(target)))
    fused_cpu._load_unlocked.cache_clear()
    try:
        assert not fused_cpu.ready()
        thread = fused_cpu.warmup(background=True)
        thread.join(timeout=120)
        assert fused_cpu.ready()
        assert len(builds) == 1 and builds[0].exists() and builds[0].parent == tmp_path
        fused_cpu._load_unlocked.cache_clear()
        assert fused_cpu.warmup() is None and fused_cpu.ready()
        assert len(builds) == 1                     # loaded from disk, not rebuilt
        x, taps = _inputs((6, 2, 3), 2, torch.float64)
        torch.testing.assert_close(temporal_filter(x, taps, 1, backend="fused"), temporal_filter_ref(x, taps, 1))
    finally:
        fused_cpu._load_unlocked.cache_clear()     # later tests load the library from the default folder


@requires_cxx
def test_fused_multithreaded_matches_reference(monkeypatch):
    """An input split over torch's thread count (3 threads, 26 blocks: uneven) still agrees with the reference."""
    x, taps = _inputs((20, 5, 330), 3, torch.float32)  # 33,000 values; the one-thread limit is lowered below it
    monkeypatch.setattr(fused_cpu, "_SMALL", 1000)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    h = temporal_filter(x, taps, 2, backend="fused")
    torch.testing.assert_close(h, temporal_filter_ref(x, taps, 2), **TOL[torch.float32])
    g = torch.randn_like(h)
    dx, dtaps = fused_cpu.fused_backward(g, x, taps, 2, True, True)
    xr, wr = x.double().requires_grad_(), taps.double().requires_grad_()
    temporal_filter_ref(xr, wr, 2).backward(g.double())
    torch.testing.assert_close(dx, xr.grad.float(), **TOL[torch.float32])
    torch.testing.assert_close(dtaps, wr.grad, **TOL[torch.float32])


@requires_cxx
@pytest.mark.parametrize("shape", [(9, 2, 300), (7, 3, 37), (6, 2, 3, 5, 7)], ids=["aligned", "odd", "5d"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_non_temporal_stores_give_the_same_values(shape, dtype, monkeypatch):
    """Outputs past fused_cpu._STREAM_MIN are written with streaming stores (where a row is 32-byte aligned; the
    odd width puts rows on both sides of that): h, spikes, the filter backward and both gradient passes equal the
    ordinary-store results exactly."""
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(shape, generator=gen, dtype=dtype)
    C = shape[2]
    taps, theta = torch.randn(C, 3, generator=gen, dtype=dtype), torch.randn(C, generator=gen, dtype=dtype)
    g = torch.randn(shape, generator=gen, dtype=dtype)
    ab = torch.randn(C, generator=gen, dtype=torch.float64), torch.randn(C, generator=gen, dtype=torch.float64)

    def run():
        return (fused_cpu.fused_forward(x, taps, 2), fused_cpu.fused_forward(x, taps, 2, theta),
                *fused_cpu.fused_backward(g, x, taps, 2, True, True),
                *fused_cpu.fused_grad_pass(x, taps, 2, grad_s=g, theta=theta)[:2],
                *fused_cpu.fused_grad_pass(x, taps, 2, alpha_c=ab[0], beta_c=ab[1])[:2])

    monkeypatch.setattr(fused_cpu, "_STREAM_MIN", 1 << 62)
    plain = run()
    monkeypatch.setattr(fused_cpu, "_STREAM_MIN", 0)
    assert fused_cpu._stream(x) == 1
    for a, b in zip(run(), plain):
        assert torch.equal(a, b)


@requires_cxx
def test_fused_spikes_eager_and_compiled_agree():
    """Eager calls the kernel directly; a torch.compile(fullgraph=True) trace goes through the custom op (no break),
    with the same spikes."""
    from mfpsn.functional.filter import fused_filter_spikes

    x, taps, theta = torch.randn(9, 2, 5), torch.randn(5, 3), torch.randn(5)
    f = torch.compile(lambda a, b, c: fused_filter_spikes(a, b, c, 2) * 1.0, fullgraph=True, backend="eager")
    assert torch.equal(f(x, taps, theta), fused_filter_spikes(x, taps, theta, 2))
    assert torch.equal(fused_filter_spikes(x, taps, theta, 2), temporal_filter_spikes(x, taps, theta, 2, backend="fused"))
