"""Triton kernels for the causal dilated per-channel temporal filter, time-first, with no permutes and no
padding copies (out-of-range taps are masked loads), and its backward.

Legend: ``T`` time, ``B`` batch, ``C`` channels, ``S`` = Π* (spatial positions, 1 when none), ``N = B·C·S``
values per time step, ``M = C·S`` values per (time step, batch element), ``k`` order, ``d`` dilation.
A contiguous ``x: [T, B, C, *]`` is read as a ``[T, N]`` matrix; column ``n`` belongs to channel
``(n // S) % C``.

.. math::
    \\mathrm{lag}_i = (k-1-i)\\,d,\\qquad h[t] = \\sum_i w[c,i]\\,x[t-\\mathrm{lag}_i]\\ (\\text{causal}),\\qquad
    dx[t] = \\sum_i w[c,i]\\,g[t+\\mathrm{lag}_i]\\ (\\text{anti-causal}),\\qquad
    dw[c,i] = \\sum_{t,b,*} g[t]\\,x[t-\\mathrm{lag}_i]

Kernels (float32 accumulation for float32 / bfloat16 / float16 inputs):

- ``_filter_kernel``: one program per tile of ``BLOCK_T`` time steps × ``BLOCK_N`` columns; it loads the ``k``
  taps of its columns once and the ``k`` time-shifted input tiles (cache hits after the first), and writes the
  filter output, or (``SPIKE``) the spikes ``Θ(h − θ[c])``. ``REVERSE`` runs the filter anti-causally: that
  is dX. On CUDA the tile shape is autotuned around the 16 × 256 tile of the perf anchors.
- ``_grad_stats_kernel``: the per-channel reductions of the backward without atomics: each program owns a
  block of ``M`` columns and a chunk of batch elements and time steps, accumulates
  ``Σ g[t]·x[t − lag_i]`` (dTaps) and ``Σ g`` (dθ) in registers and writes one row of partials
  ``[programs, k + 1, M]``; the host sums them in float64 in a fixed order (deterministic). With ``FUSED`` it
  also recomputes ``h`` from the same lagged loads and turns the upstream ``dS`` into
  ``G = dS·σ'(h − θ)`` (written out for dX): see :mod:`mfpsn.kernels.spikes`.

:func:`temporal_filter_ref` (float64 loops, re-exported from :mod:`mfpsn.functional.filter`) is the reference.
"""
import torch
import triton
import triton.language as tl

from mfpsn.functional.filter import check_filter_args, temporal_filter_ref
from mfpsn.kernels._runtime import (AUTOTUNE_MIN_NUMEL, check_kernel_dtype, check_launchable, is_interpreted,
                                    next_pow2, program_target, split_work)
from mfpsn.kernels._surrogate import surrogate_grad

__all__ = ["triton_temporal_filter", "temporal_filter_ref", "launch_filter", "launch_grad_stats", "INTERPRETED"]


@triton.jit
def _filter_kernel(x_ptr, taps_ptr, theta_ptr, out_ptr, T, N, S, C, D,
                   K: tl.constexpr, REVERSE: tl.constexpr, SPIKE: tl.constexpr,
                   BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr):
    """out[t, n] = Σ_i taps[c, i]·x[t − lag_i, n] (or x[t + lag_i, n] when REVERSE); SPIKE: Θ(out − θ[c]).

    1-D grid, time blocks fastest: programs that run together share columns, so the (k−1)·d halo rows a tile
    reads from its neighbour in time are still in L2.
    """
    n_t = tl.cdiv(T, BLOCK_T)
    pid = tl.program_id(0)
    pid_t = pid % n_t
    pid_n = pid // n_t
    offs_t = pid_t * BLOCK_T + tl.arange(0, BLOCK_T)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_t = offs_t < T
    mask_n = offs_n < N
    ch = (offs_n // S) % C
    cols = offs_n.to(tl.int64)
    acc = tl.zeros([BLOCK_T, BLOCK_N], dtype=tl.float32)
    for i in tl.static_range(K):
        w = tl.load(taps_ptr + ch * K + i, mask=mask_n, other=0.0)
        if REVERSE:
            src = offs_t + (K - 1 - i) * D
            ok = src < T
        else:
            src = offs_t - (K - 1 - i) * D
            ok = (src >= 0) & mask_t
        xv = tl.load(x_ptr + src.to(tl.int64)[:, None] * N + cols[None, :],
                     mask=ok[:, None] & mask_n[None, :], other=0.0)
        acc += w[None, :] * xv.to(tl.float32)
    if SPIKE:
        th = tl.load(theta_ptr + ch, mask=mask_n, other=0.0)
        acc = tl.where(acc >= th[None, :], 1.0, 0.0)
    tl.store(out_ptr + offs_t.to(tl.int64)[:, None] * N + cols[None, :], acc.to(out_ptr.dtype.element_ty),
             mask=mask_t[:, None] & mask_n[None, :])


_FILTER_CONFIGS = [
    triton.Config({"BLOCK_T": bt, "BLOCK_N": bn}, num_warps=w)
    for bt, bn, w in [(16, 256, 4), (16, 512, 8), (8, 512, 4), (32, 256, 8), (64, 128, 8), (32, 128, 4)]
]
_filter_kernel_tuned = triton.autotune(configs=_FILTER_CONFIGS, key=["T", "N", "K", "REVERSE", "SPIKE"])(
    _filter_kernel)


@triton.jit
def _grad_stats_kernel(x_ptr, g_ptr, taps_ptr, theta_ptr, gout_ptr, part_ptr,
                       T, B, M, N, S, D, B_PER, T_PER, alpha,
                       K: tl.constexpr, K_PAD: tl.constexpr, FUSED: tl.constexpr, SURR: tl.constexpr,
                       BLOCK_T: tl.constexpr, BLOCK_M: tl.constexpr):
    """part[p, i, m] = Σ G[t, b, m]·x[t − lag_i, b, m] and part[p, k, m] = Σ G over this program's chunk.

    G = g (plain filter) or, with FUSED, G = g·σ'(Σ_i taps[c, i]·x[t − lag_i] − θ[c]), also stored to gout.
    """
    pid_m = tl.program_id(0)
    pid_b = tl.program_id(1)
    pid_t = tl.program_id(2)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    mask_m = offs_m < M
    ch = offs_m // S
    kk = tl.arange(0, K_PAD)
    mask_k = kk < K
    lag = (K - 1 - kk) * D
    taps2 = tl.load(taps_ptr + ch[None, :] * K + kk[:, None], mask=mask_k[:, None] & mask_m[None, :], other=0.0)
    th = tl.load(theta_ptr + ch, mask=mask_m, other=0.0)
    acc = tl.zeros([K_PAD, BLOCK_M], dtype=tl.float32)
    acc_g = tl.zeros([BLOCK_M], dtype=tl.float32)
    b_lo = pid_b * B_PER
    b_hi = tl.minimum(b_lo + B_PER, B)
    t_lo = pid_t * T_PER
    t_hi = tl.minimum(t_lo + T_PER, T)
    t_tiles = tl.cdiv(t_hi - t_lo, BLOCK_T)
    for it in range(0, (b_hi - b_lo) * t_tiles):                                   # one flat, pipelinable loop
        b = b_lo + it // t_tiles
        cols = tl.cast(b, tl.int64) * M + offs_m
        offs_t = t_lo + (it % t_tiles) * BLOCK_T + tl.arange(0, BLOCK_T)
        mask_t = offs_t < t_hi
        src = offs_t[:, None] - lag[None, :]                                       # [BT, K_PAD]
        ok = (src >= 0) & mask_t[:, None] & mask_k[None, :]
        x3 = tl.load(x_ptr + src.to(tl.int64)[:, :, None] * N + cols[None, None, :],
                     mask=ok[:, :, None] & mask_m[None, None, :], other=0.0).to(tl.float32)  # [BT, K_PAD, BM]
        rows = offs_t.to(tl.int64)[:, None] * N + cols[None, :]                    # [BT, BM]
        mask2 = mask_t[:, None] & mask_m[None, :]
        g = tl.load(g_ptr + rows, mask=mask2, other=0.0).to(tl.float32)
        if FUSED:
            h = tl.sum(x3 * taps2[None, :, :], axis=1)
            g = g * surrogate_grad(h - th[None, :], alpha, SURR)
            tl.store(gout_ptr + rows, g, mask=mask2)
        acc += tl.sum(g[:, None, :] * x3, axis=0)
        acc_g += tl.sum(g, axis=0)
    prog = pid_t * tl.num_programs(1) + pid_b
    base = part_ptr + prog.to(tl.int64) * ((K + 1) * M)
    tl.store(base + kk[:, None] * M + offs_m[None, :], acc, mask=mask_k[:, None] & mask_m[None, :])
    tl.store(base + K * M + offs_m, acc_g, mask=mask_m)


INTERPRETED = is_interpreted(_filter_kernel)
_INTERP_BLOCK_T, _INTERP_BLOCK_N = 8, 32     # small tiles under the interpreter: several programs, masked edges
_STATS_BLOCK_T = 8
_STATS_TILE_BUDGET = 8192                     # BLOCK_T · K_PAD · BLOCK_M values of the 3-D lagged tile


def _dims(x: torch.Tensor) -> tuple[int, int, int, int]:
    """x: [T, B, C, *] → (T, B, C, S)."""
    T, B, C = x.shape[:3]
    S = 1
    for n in x.shape[3:]:
        S *= n
    return T, B, C, S


def launch_filter(x: torch.Tensor, taps32: torch.Tensor, theta32: torch.Tensor | None, dilation: int, *,
                  reverse: bool, out_dtype: torch.dtype) -> torch.Tensor:
    """Run ``_filter_kernel``. x: [T, B, C, *] contiguous; taps32: [C, k] float32 contiguous; theta32: [C]
    float32 (spikes) or None (filter output). Returns [T, B, C, *] in ``out_dtype``."""
    out = torch.empty(x.shape, dtype=out_dtype, device=x.device)
    if x.numel() == 0:
        return out
    T, B, C, S = _dims(x)
    N = B * C * S
    args = (x, taps32, taps32 if theta32 is None else theta32, out, T, N, S, C, dilation)
    meta = dict(K=taps32.shape[1], REVERSE=reverse, SPIKE=theta32 is not None)
    if x.device.type == "cuda" and x.numel() >= AUTOTUNE_MIN_NUMEL:
        def grid(META):
            return (triton.cdiv(N, META["BLOCK_N"]) * triton.cdiv(T, META["BLOCK_T"]),)
        _filter_kernel_tuned[grid](*args, **meta)
    else:
        bt, bn, warps = (16, 256, 4) if x.device.type == "cuda" else (_INTERP_BLOCK_T, _INTERP_BLOCK_N, 1)
        _filter_kernel[(triton.cdiv(N, bn) * triton.cdiv(T, bt),)](*args, **meta, BLOCK_T=bt, BLOCK_N=bn,
                                                                    num_warps=warps)
    return out


def launch_grad_stats(x: torch.Tensor, g: torch.Tensor, taps32: torch.Tensor, theta32: torch.Tensor | None,
                      dilation: int, surr: int = 0, alpha: float = 0.0
                      ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """Run ``_grad_stats_kernel``. x, g: [T, B, C, *] contiguous; taps32: [C, k]; theta32: [C] or None.

    Returns ``(G or None, dtaps [C, k] float64, sum_g [C] float64)``; ``G: [T, B, C, *] float32`` is the
    gradient reaching h (only with ``theta32``, the fused MFPSN backward, where ``g`` is dS).
    """
    T, B, C, S = _dims(x)
    M, k = C * S, taps32.shape[1]
    fused = theta32 is not None
    gout = torch.empty(x.shape, dtype=torch.float32, device=x.device) if fused else None
    if x.numel() == 0:
        zeros = torch.zeros(C, k + 1, dtype=torch.float64, device=x.device)
        return gout, zeros[:, :k], zeros[:, k]
    k_pad = next_pow2(k)
    block_m = max(1, min(next_pow2(M), _STATS_TILE_BUDGET // (_STATS_BLOCK_T * k_pad)))
    n_m = triton.cdiv(M, block_m)
    spread = max(1, program_target(x.device) // n_m)
    b_per, n_b = split_work(B, spread)
    t_per, n_t = split_work(T, max(1, spread // n_b), align=_STATS_BLOCK_T)
    part = torch.empty(n_t * n_b, k + 1, M, dtype=torch.float32, device=x.device)
    _grad_stats_kernel[(n_m, n_b, n_t)](
        x, g, taps32, taps32[:, 0] if theta32 is None else theta32, part if gout is None else gout, part,
        T, B, M, B * M, S, dilation, b_per, t_per, float(alpha),
        K=k, K_PAD=k_pad, FUSED=fused, SURR=surr, BLOCK_T=_STATS_BLOCK_T, BLOCK_M=block_m)
    red = part.sum(0, dtype=torch.float64).view(k + 1, C, S).sum(-1)            # [k + 1, C]
    return gout, red[:k].t(), red[k]


# --------------------------------------------------------------------------------------------- custom ops
@torch.library.custom_op("mfpsn::temporal_filter", mutates_args=())
def _filter_op(x: torch.Tensor, taps: torch.Tensor, dilation: int) -> torch.Tensor:
    return launch_filter(x.contiguous(), taps.float().contiguous(), None, dilation, reverse=False,
                         out_dtype=x.dtype)


@_filter_op.register_fake
def _filter_fake(x: torch.Tensor, taps: torch.Tensor, dilation: int) -> torch.Tensor:
    return x.new_empty(x.shape)


@torch.library.custom_op("mfpsn::temporal_filter_bwd", mutates_args=())
def _filter_bwd_op(g: torch.Tensor, x: torch.Tensor, taps: torch.Tensor,
                   dilation: int) -> tuple[torch.Tensor, torch.Tensor]:
    g, x, taps32 = g.contiguous(), x.contiguous(), taps.float().contiguous()
    dx = launch_filter(g, taps32, None, dilation, reverse=True, out_dtype=x.dtype)
    _, dtaps, _ = launch_grad_stats(x, g, taps32, None, dilation)
    return dx, dtaps.to(taps.dtype)


@_filter_bwd_op.register_fake
def _filter_bwd_fake(g: torch.Tensor, x: torch.Tensor, taps: torch.Tensor,
                     dilation: int) -> tuple[torch.Tensor, torch.Tensor]:
    return x.new_empty(x.shape), taps.new_empty(taps.shape)


def _filter_setup(ctx, inputs, output) -> None:
    x, taps, dilation = inputs
    ctx.save_for_backward(x, taps)
    ctx.dilation = dilation


def _filter_backward(ctx, g: torch.Tensor):
    x, taps = ctx.saved_tensors
    dx, dtaps = _filter_bwd_op(g, x, taps, ctx.dilation)
    return dx, dtaps, None


_filter_op.register_autograd(_filter_backward, setup_context=_filter_setup)


def triton_temporal_filter(x: torch.Tensor, taps: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """h[t, b, c, *] = Σ_i taps[c, i]·x[t − (k−1−i)·d, b, c, *] (zero before t = 0), on the Triton kernel.

    Args:
        x: [T, B, C, *] float32 / bfloat16 / float16 (made contiguous; no permute, no padding copy).
        taps: [C, k] floating point (used as float32 inside the kernel).
        dilation: d >= 1.
    Returns:
        h: [T, B, C, *] in the dtype of x, float32 accumulation; differentiable in x and taps
        (dX = the flipped-tap anti-causal filter of the upstream gradient, dTaps from deterministic
        per-program partial sums, no atomics). Registered as ``torch.ops.mfpsn.temporal_filter``.
    """
    check_filter_args(x, taps, dilation)
    check_kernel_dtype(x, "x", "triton_temporal_filter")
    check_launchable(x, INTERPRETED, "triton_temporal_filter")
    return _filter_op(x.contiguous(), taps, dilation)
