"""The causal, dilated, per-channel temporal filter at the heart of the MFPSN.

.. math::
    \\mathrm{lag}_i = (k - 1 - i)\\, d, \\qquad
    h[t, b, c] = \\sum_{i=0}^{k-1} \\mathrm{taps}[c, i]\\; x[t - \\mathrm{lag}_i, b, c]
    \\quad (x[t'] = 0 \\text{ for } t' < 0)

The last tap weighs the current input (SpikingJelly ``SlidingPSN`` indexing; the exact index form is
**reconstructed (open)** in the paper, fixed here as in the spec §2.1).

Shapes: ``x: [T, B, C, *]`` (time-first, channel dim 2, ``*`` = H, W or nothing), ``taps: [C, k]``,
result ``h: [T, B, C, *]`` in the dtype of ``x``.

Implementations, each beside the float64 reference :func:`temporal_filter_ref`; the records of
:mod:`mfpsn.backends.registry` name them (``backend=``) and :func:`mfpsn.backends.temporal_filter` dispatches:

- ``"conv1d"``: the paper's vanilla path: permute to ``[B·Π*, C, T]``, left-pad ``(k−1)·d``, depthwise
  dilated ``F.conv1d``, permute back (two copies).
- ``"shift_add"``: time-first, no permutes: ``h = taps[:, k−1]·x``, then ``h[lag:] += taps[:, i]·x[:T−lag]``.
- ``"toeplitz"``: one banded T×T matrix per channel, batched matmul (dense GEMM, O(T²)).
- ``"blocked"``: eager torch over cache-sized column blocks with a hand-written backward (dX is the same filter
  run anti-causally, dTaps a lagged inner product), so each block stays in cache; still k passes per block.
- ``"fused"``: the fused CPU kernel (:mod:`mfpsn.functional.fused_cpu`): a small C++ kernel, compiled once per
  machine with the system C++ compiler (``$CXX``, default g++; about a second) and cached on disk
  (``$MFPSN_CACHE_DIR``, default ``~/.cache/mfpsn``), called through ctypes. One pass: x is read once and h
  written once (column blocks walked down the time axis, the lagged rows still in L1), threads over column
  blocks; backward is one more pass giving dX (the anti-causal filter) and dTaps (lagged inner products) together.
  float32 and float64 on the CPU only; registered as ``torch.library`` custom ops (``mfpsn::fused_filter``,
  ``mfpsn::fused_filter_backward``, ``mfpsn::fused_filter_spikes``) so ``torch.compile`` traces through it.
  It is built on first need (blocking, once per machine, one line on stderr), whether asked for by name or by
  ``"auto"``; :func:`warmup` (or ``warmup(background=True)`` at application start) pays that cost up front.
  Asked for by name without a C++ compiler it raises ``RuntimeError``; it never falls back silently.
- ``"triton"`` (above this layer, in ``mfpsn.kernels``) and ``"auto"`` (:mod:`mfpsn.backends.autoselect`) are
  described with the backends.

:func:`fused_filter_spikes` is the fused kernel's inference form ``S = Θ(h − θ)`` (no gradient): filter,
threshold and spike in one pass, h never written.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mfpsn.functional import fused_cpu

__all__ = [
    "temporal_filter_ref",
    "check_filter_args",
    "lags",
    "filter_conv1d",
    "filter_shift_add",
    "filter_toeplitz",
    "filter_blocked",
    "filter_fused",
    "fused_filter_spikes",
    "warmup",
]


def lags(order: int, dilation: int) -> list[int]:
    """``lag_i = (k − 1 − i)·d`` for i = 0 … k−1 (the last tap has lag 0)."""
    return [(order - 1 - i) * dilation for i in range(order)]


def check_filter_args(x: torch.Tensor, taps: torch.Tensor, dilation: int) -> None:
    """Raise ValueError unless ``x: [T, B, C, *]`` float and non-empty, ``taps: [C, k]`` float, ``dilation >= 1``."""
    if not isinstance(x, torch.Tensor) or not isinstance(taps, torch.Tensor):
        raise ValueError(f"temporal_filter: expected tensors x and taps, found {type(x).__name__}, {type(taps).__name__}")
    if not 3 <= x.dim() <= 5:
        raise ValueError(f"temporal_filter: expected x of shape [T, B, C, *] (3 to 5 dims), found {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"temporal_filter: expected a floating-point x, found {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"temporal_filter: expected a non-empty x (T, B, C and every spatial size >= 1), "
                         f"found shape {tuple(x.shape)}")
    if taps.dim() != 2:
        raise ValueError(f"temporal_filter: expected taps of shape [C, k], found {tuple(taps.shape)}")
    if not taps.is_floating_point():
        raise ValueError(f"temporal_filter: expected floating-point taps, found {taps.dtype}")
    if taps.shape[0] != x.shape[2]:
        raise ValueError(
            f"temporal_filter: expected taps for the {x.shape[2]} channels of x (dim 2), found {taps.shape[0]}")
    if taps.shape[1] < 1:
        raise ValueError(f"temporal_filter: expected order k >= 1, found {taps.shape[1]}")
    if isinstance(dilation, bool) or not isinstance(dilation, int) or dilation < 1:
        raise ValueError(f"temporal_filter: expected an int dilation >= 1, found {dilation!r}")
    if x.device != taps.device:
        raise ValueError(f"temporal_filter: x is on {x.device} but taps on {taps.device}")


def _bcast(taps_col: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """taps[:, i]: [C] → [C, 1, ...] broadcastable against x[t]: [B, C, *]."""
    return taps_col.reshape(taps_col.shape[0], *([1] * (x.dim() - 3)))


# --------------------------------------------------------------------------------------------- reference
def temporal_filter_ref(x: torch.Tensor, taps: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """Plain reference: explicit loops over t and taps in float64, cast back to ``x.dtype``.

    x: [T, B, C, *]; taps: [C, k]; returns h: [T, B, C, *]. Differentiable (slow; for tests).
    """
    check_filter_args(x, taps, dilation)
    T, k = x.shape[0], taps.shape[1]
    x64, w64 = x.double(), taps.double()
    rows = []
    for t in range(T):
        acc = torch.zeros_like(x64[0])
        for i in range(k):
            src = t - (k - 1 - i) * dilation
            if src >= 0:
                acc = acc + _bcast(w64[:, i], x64) * x64[src]
        rows.append(acc)
    return torch.stack(rows).to(x.dtype)


# --------------------------------------------------------------------------------------------- conv1d
def filter_conv1d(x: torch.Tensor, taps: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """Permute + left-pad + depthwise dilated conv1d + permute back. x: [T, B, C, *] → [T, B, C, *]."""
    T, B, C = x.shape[:3]
    k = taps.shape[1]
    perm = (1, *range(3, x.dim()), 2, 0)
    xp = x.permute(perm)                                          # [B, *, C, T]
    spatial = xp.shape[1:-2]
    xr = xp.reshape(-1, C, T)                                     # [B·Π*, C, T] (a copy)
    xr = F.pad(xr, ((k - 1) * dilation, 0))
    h = F.conv1d(xr, taps.to(x.dtype).view(C, 1, k), groups=C, dilation=dilation)  # [B·Π*, C, T]
    h = h.reshape(B, *spatial, C, T)
    inv = [0] * x.dim()
    for dst, src in enumerate(perm):
        inv[src] = dst
    return h.permute(inv).contiguous()                            # [T, B, C, *]


# --------------------------------------------------------------------------------------------- shift_add
def filter_shift_add(x: torch.Tensor, taps: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """Time-first shift-and-add, no permutes: k passes over contiguous slices of dim 0."""
    T, k = x.shape[0], taps.shape[1]
    w = taps.to(x.dtype)
    h = x * _bcast(w[:, k - 1], x)
    for i in range(k - 1):
        lag = (k - 1 - i) * dilation
        if lag < T:
            h[lag:] = h[lag:] + x[: T - lag] * _bcast(w[:, i], x)
    return h


# --------------------------------------------------------------------------------------------- toeplitz
def _shift_matrices(T: int, order: int, dilation: int, device, dtype) -> torch.Tensor:
    """E: [k, T, T] with E[i, t, t − lag_i] = 1."""
    E = torch.zeros(order, T, T, device=device, dtype=dtype)
    for i, lag in enumerate(lags(order, dilation)):
        if lag < T:
            idx = torch.arange(lag, T, device=device)
            E[i, idx, idx - lag] = 1
    return E


def filter_toeplitz(x: torch.Tensor, taps: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """Per-channel banded T×T matrix A[c] = Σ_i taps[c, i]·E_i, then H[:, :, c] = A[c] @ X[:, :, c]."""
    T, B, C = x.shape[:3]
    w = taps.to(x.dtype)
    A = torch.einsum("ck,ktu->ctu", w, _shift_matrices(T, w.shape[1], dilation, x.device, x.dtype))  # [C, T, T]
    xr = x.movedim(2, 0).reshape(C, T, -1)                        # [C, T, B·Π*]
    h = torch.bmm(A, xr)                                          # [C, T, B·Π*]
    return h.reshape(C, T, B, *x.shape[3:]).movedim(0, 2).contiguous()


# --------------------------------------------------------------------------------------------- blocked
_BLOCK_ELEMS = 1 << 16  # values per block (256 KiB of float32): a block and its output stay in cache


def _shift_add_into(out: torch.Tensor, x: torch.Tensor, w: torch.Tensor, dilation: int, reverse: bool) -> None:
    """out[t] = Σ_i w[:, i]·x[t − lag_i] (causal) or Σ_i w[:, i]·x[t + lag_i] (reverse).

    x, out: [T, b, C, s] views (any strides); w: [C, k].
    """
    T, k = x.shape[0], w.shape[1]
    torch.mul(x, w[:, k - 1, None], out=out)
    for i in range(k - 1):
        lag = (k - 1 - i) * dilation
        if lag >= T:
            continue
        if reverse:
            out[: T - lag].addcmul_(x[lag:], w[:, i, None])
        else:
            out[lag:].addcmul_(x[: T - lag], w[:, i, None])


def _blocks(shape: torch.Size) -> list[tuple[slice, slice]]:
    """Cut [T, B, C, S] into (batch, spatial) blocks of about _BLOCK_ELEMS values each."""
    T, B, C, S = shape
    per_b = T * C * S
    if per_b <= _BLOCK_ELEMS:
        nb = max(1, _BLOCK_ELEMS // per_b)
        return [(slice(b, min(B, b + nb)), slice(None)) for b in range(0, B, nb)]
    ns = max(1, _BLOCK_ELEMS // (T * C))
    return [(slice(b, b + 1), slice(s, min(S, s + ns))) for b in range(B) for s in range(0, S, ns)]


def _as_tbcs(x: torch.Tensor) -> torch.Tensor:
    """[T, B, C, *] → [T, B, C, S] view (S = Π*, 1 when none); a view because x is contiguous."""
    return x.reshape(*x.shape[:3], -1)


def _blocked_apply(x: torch.Tensor, w: torch.Tensor, dilation: int, reverse: bool) -> torch.Tensor:
    xc = x.contiguous()
    out = torch.empty_like(xc)
    x4, o4 = _as_tbcs(xc), _as_tbcs(out)                          # [T, B, C, S]
    for bs, ss in _blocks(x4.shape):
        _shift_add_into(o4[:, bs, :, ss], x4[:, bs, :, ss], w, dilation, reverse)
    return out


def _blocked_taps_grad(g: torch.Tensor, x: torch.Tensor, k: int, dilation: int) -> torch.Tensor:
    """dTaps[c, i] = Σ_{t ≥ lag_i, b, *} g[t, b, c, *] · x[t − lag_i, b, c, *]. Returns [C, k] float32+."""
    T, C = x.shape[0], x.shape[2]
    acc_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    g4, x4 = _as_tbcs(g.contiguous()), _as_tbcs(x.contiguous())
    out = torch.zeros(C, k, dtype=acc_dtype, device=x.device)
    for i, lag in enumerate(lags(k, dilation)):
        if lag < T:
            out[:, i] = torch.einsum("tbcs,tbcs->c", g4[lag:].to(acc_dtype), x4[: T - lag].to(acc_dtype))
    return out


class _BlockedFilter(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor, taps: torch.Tensor, dilation: int) -> torch.Tensor:
        return _blocked_apply(x, taps.to(x.dtype), dilation, reverse=False)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, taps, dilation = inputs
        ctx.save_for_backward(x, taps)
        ctx.dilation = dilation

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, taps = ctx.saved_tensors
        dx = dtaps = None
        if ctx.needs_input_grad[0]:
            dx = _blocked_apply(g, taps.to(g.dtype), ctx.dilation, reverse=True)
        if ctx.needs_input_grad[1]:
            dtaps = _blocked_taps_grad(g, x, taps.shape[1], ctx.dilation).to(taps.dtype)
        return dx, dtaps, None


def filter_blocked(x: torch.Tensor, taps: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """Cache-blocked shift-add with a hand-written backward (eager torch, k passes per block)."""
    return _BlockedFilter.apply(x, taps, dilation)


# --------------------------------------------------------------------------------------------- fused
# Registered as torch.library custom ops (with fake kernels and autograd), so that torch.compile traces through
# them instead of breaking the graph.
@torch.library.custom_op("mfpsn::fused_filter", mutates_args=())
def _fused_filter_op(x: torch.Tensor, taps: torch.Tensor, dilation: int) -> torch.Tensor:
    return fused_cpu.fused_forward(x, taps, dilation)


@_fused_filter_op.register_fake
def _(x: torch.Tensor, taps: torch.Tensor, dilation: int) -> torch.Tensor:
    return torch.empty_like(x, memory_format=torch.contiguous_format)


@torch.library.custom_op("mfpsn::fused_filter_backward", mutates_args=())
def _fused_filter_backward_op(g: torch.Tensor, x: torch.Tensor, taps: torch.Tensor, dilation: int, need_x: bool,
                              need_taps: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(dx [T, B, C, *], dtaps [C, k] in taps' dtype); an output that is not needed is an empty tensor."""
    dx, dtaps = fused_cpu.fused_backward(g, x, taps, dilation, need_x, need_taps)
    return (x.new_empty(0) if dx is None else dx,
            taps.new_empty(0) if dtaps is None else dtaps.to(taps.dtype))


@_fused_filter_backward_op.register_fake
def _(g, x, taps, dilation, need_x, need_taps):
    return (torch.empty_like(x, memory_format=torch.contiguous_format) if need_x else x.new_empty(0),
            torch.empty_like(taps) if need_taps else taps.new_empty(0))


def _fused_setup_context(ctx, inputs, output) -> None:
    x, taps, dilation = inputs
    ctx.save_for_backward(x, taps)
    ctx.dilation = dilation


def _fused_backward(ctx, g: torch.Tensor):
    x, taps = ctx.saved_tensors
    need_x, need_taps = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    dx, dtaps = _fused_filter_backward_op(g, x, taps, ctx.dilation, need_x, need_taps)
    return (dx if need_x else None), (dtaps if need_taps else None), None


_fused_filter_op.register_autograd(_fused_backward, setup_context=_fused_setup_context)


@torch.library.custom_op("mfpsn::fused_filter_spikes", mutates_args=())
def _fused_filter_spikes_op(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int) -> torch.Tensor:
    return fused_cpu.fused_forward(x, taps, dilation, theta)


@_fused_filter_spikes_op.register_fake
def _(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int) -> torch.Tensor:
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def fused_filter_spikes(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int) -> torch.Tensor:
    """S = Θ(filter(x, taps) − θ) in one pass of the fused CPU kernel (h never written; no gradient).

    Inside a torch.compile trace this is the custom op ``mfpsn::fused_filter_spikes`` (traced, no graph break); in
    eager mode the kernel is called directly: the custom op's Python dispatch cost about 0.1 ms a call, a third
    of the whole forward at T = 256, N = 1,024.
    """
    if torch.compiler.is_compiling():
        return _fused_filter_spikes_op(x, taps, theta, dilation)
    return fused_cpu.fused_forward(x, taps, dilation, theta)


class _FusedFilter(torch.autograd.Function):
    """The eager form of ``mfpsn::fused_filter`` with the same forward and backward kernels."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, taps: torch.Tensor, dilation: int) -> torch.Tensor:
        ctx.save_for_backward(x, taps)
        ctx.dilation = dilation
        return fused_cpu.fused_forward(x, taps, dilation)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g: torch.Tensor):
        x, taps = ctx.saved_tensors
        need_x, need_taps = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        dx, dtaps = fused_cpu.fused_backward(g, x, taps, ctx.dilation, need_x, need_taps)
        return dx, (dtaps.to(taps.dtype) if need_taps else None), None


def filter_fused(x: torch.Tensor, taps: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """The fused CPU kernel (one pass forward, one pass backward); see :mod:`mfpsn.functional.fused_cpu`.

    x: [T, B, C, *] float32/float64 on the CPU; taps: [C, k] → h: [T, B, C, *]. Builds the kernel on first use.
    Inside a torch.compile trace this is the custom op ``mfpsn::fused_filter`` (traced, no graph break); in eager
    mode an autograd function around the same kernels: a custom op called eagerly imports ``torch._dynamo`` (and
    with it sympy) on its first call, about 0.5 s of a fresh process's first step, and costs a dispatch per call.
    """
    if torch.compiler.is_compiling():
        return _fused_filter_op(x, taps, dilation)
    return _FusedFilter.apply(x, taps, dilation)


def warmup(background: bool = False):
    """Build (once per machine) and load the fused CPU kernel now rather than on the first call that needs it.

    ``background=True`` does it in a daemon thread and returns the thread; see
    :func:`mfpsn.functional.fused_cpu.warmup`. Raises ``RuntimeError`` (foreground) without a C++ compiler.
    """
    return fused_cpu.warmup(background)
