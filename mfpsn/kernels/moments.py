"""Per-channel lagged moments of X in one read, for the BatchNorm threshold of the MFPSN (spec §2.4, "Option
[derived]"): the exact batch mean and biased variance of ``Y = filter(X, W)`` without materialising Y.

Legend: ``T`` time, ``B`` batch, ``C`` channels, ``S`` = Π* spatial positions, ``k`` order, ``d`` dilation,
``n = T·B·S`` values per channel, ``X_i[t] = X[t − lag_i]`` (zero for t − lag_i < 0), ``lag_i = (k−1−i)·d``.

.. math::
    m_1[c,i] = \\frac{1}{n}\\sum_{t,b,*} X_i[t],\\qquad m_2[c,i,j] = \\frac{1}{n}\\sum_{t,b,*} X_i[t]\\,X_j[t]

    \\mu_B[c] = \\sum_i W[c,i]\\,m_1[c,i],\\qquad E[Y^2][c] = \\sum_{i,j} W[c,i]\\,W[c,j]\\,m_2[c,i,j],\\qquad
    \\sigma^2_B[c] = E[Y^2][c] - \\mu_B[c]^2

How the MFPSN training pass uses it (pass 1 of spec §2.4 without a second filter over memory)::

    m1, m2 = lagged_moments(x, order=k, dilation=d)           # [C, k], [C, k, k] float32, one read of x
    w = weight.float()                                          # [C, k] float taps W (not quantized)
    mean = (m1 * w).sum(1)                                      # μ_B: [C]
    var = torch.einsum("ci,cij,cj->c", w, m2, w) - mean ** 2    # biased σ²_B: [C]
    # then g = γ / sqrt(var + eps), W_f = g[:, None]·W, θ = g·mean − β, taps = Q(W_f), and
    # s = fused_mfpsn_spikes(x, taps, θ, d, surrogate)          # pass 2

Both outputs are differentiable in x (kernel backward below), so gradients reach X through μ_B and σ²_B as in
ordinary BatchNorm training; W, γ, β get theirs through the small [C, k] algebra above. The running statistics
are updated from ``mean`` and ``var·n/(n − 1)``. Numerics: each program sums its chunk in float32, the host
adds the partials in float64; ``E[Y²] − μ²`` loses relative precision when |μ_B| ≫ σ_B (check ``var`` against
a materialised Y when in doubt; the tests do).

Kernels: ``_moments_kernel`` (each program: a block of the C·S columns, a chunk of batch elements and time
steps; 3-D lagged tile [BLOCK_T, k, BLOCK_M]; partials [programs, k, C·S] and [programs, k, k, C·S] summed on
the host, no atomics) and ``_moments_bwd_kernel`` (flat [T, N] tiles):

.. math::
    dX[u] = \\sum_i [u + \\mathrm{lag}_i < T]\\,\\Big(\\frac{g_1[c,i]}{n} + \\sum_j \\frac{g_2[c,i,j] + g_2[c,j,i]}{n}
    \\,X[u + \\mathrm{lag}_i - \\mathrm{lag}_j]\\Big)

:func:`lagged_moments_ref` (float64, explicit shifted copies) sits beside them.
"""
import torch
import triton
import triton.language as tl

from mfpsn.kernels._runtime import (check_kernel_dtype, check_launchable, next_pow2, program_target,
                                    split_work)
from mfpsn.kernels.filter import INTERPRETED

__all__ = ["lagged_moments", "lagged_moments_ref"]


@triton.jit
def _moments_kernel(x_ptr, p1_ptr, p2_ptr, T, B, M, N, D, B_PER, T_PER,
                    K: tl.constexpr, K_PAD: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_M: tl.constexpr):
    """p1[p, i, m] = Σ X_i and p2[p, i, j, m] = Σ X_i·X_j over this program's batch and time chunk."""
    pid_m = tl.program_id(0)
    pid_b = tl.program_id(1)
    pid_t = tl.program_id(2)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    mask_m = offs_m < M
    kk = tl.arange(0, K_PAD)
    mask_k = kk < K
    lag = (K - 1 - kk) * D
    acc1 = tl.zeros([K_PAD, BLOCK_M], dtype=tl.float32)
    acc2 = tl.zeros([K_PAD, K_PAD, BLOCK_M], dtype=tl.float32)
    b_lo = pid_b * B_PER
    b_hi = tl.minimum(b_lo + B_PER, B)
    t_lo = pid_t * T_PER
    t_hi = tl.minimum(t_lo + T_PER, T)
    t_tiles = tl.cdiv(t_hi - t_lo, BLOCK_T)
    for it in range(0, (b_hi - b_lo) * t_tiles):                                   # one flat, pipelinable loop
        cols = tl.cast(b_lo + it // t_tiles, tl.int64) * M + offs_m
        offs_t = t_lo + (it % t_tiles) * BLOCK_T + tl.arange(0, BLOCK_T)
        mask_t = offs_t < t_hi
        src = offs_t[:, None] - lag[None, :]                                       # [BT, K_PAD]
        ok = (src >= 0) & mask_t[:, None] & mask_k[None, :]
        x3 = tl.load(x_ptr + src.to(tl.int64)[:, :, None] * N + cols[None, None, :],
                     mask=ok[:, :, None] & mask_m[None, None, :], other=0.0).to(tl.float32)  # [BT, K_PAD, BM]
        acc1 += tl.sum(x3, axis=0)
        for i in tl.static_range(K):
            src_i = offs_t - (K - 1 - i) * D
            ok_i = (src_i >= 0) & mask_t
            xi = tl.load(x_ptr + src_i.to(tl.int64)[:, None] * N + cols[None, :],
                         mask=ok_i[:, None] & mask_m[None, :], other=0.0).to(tl.float32)          # [BT, BM]
            row = tl.sum(xi[:, None, :] * x3, axis=0)                                              # [K_PAD, BM]
            acc2 += tl.where(kk[:, None, None] == i, row[None, :, :], 0.0)
    prog = (pid_t * tl.num_programs(1) + pid_b).to(tl.int64)
    mask_km = mask_k[:, None] & mask_m[None, :]
    tl.store(p1_ptr + prog * (K * M) + kk[:, None] * M + offs_m[None, :], acc1, mask=mask_km)
    tl.store(p2_ptr + prog * (K * K * M) + (kk[:, None, None] * K + kk[None, :, None]) * M + offs_m[None, None, :],
             acc2, mask=mask_k[:, None, None] & mask_km[None, :, :])


@triton.jit
def _moments_bwd_kernel(x_ptr, g1_ptr, g2_ptr, dx_ptr, T, N, S, C, D,
                        K: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_N: tl.constexpr):
    """dX[u] = Σ_i [u + lag_i < T]·(g1[c, i] + Σ_j g2s[c, i, j]·X[u + lag_i − lag_j]) (g1, g2s pre-scaled)."""
    offs_t = tl.program_id(1) * BLOCK_T + tl.arange(0, BLOCK_T)
    offs_n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_t = offs_t < T
    mask_n = offs_n < N
    ch = (offs_n // S) % C
    cols = offs_n.to(tl.int64)
    acc = tl.zeros([BLOCK_T, BLOCK_N], dtype=tl.float32)
    for i in tl.static_range(K):
        live = (offs_t + (K - 1 - i) * D) < T                                     # [BT]
        inner = tl.zeros([BLOCK_T, BLOCK_N], dtype=tl.float32)
        inner += tl.load(g1_ptr + ch * K + i, mask=mask_n, other=0.0)[None, :]
        for j in tl.static_range(K):
            src = offs_t + (j - i) * D                                             # u + lag_i − lag_j
            ok = (src >= 0) & live
            xv = tl.load(x_ptr + src.to(tl.int64)[:, None] * N + cols[None, :],
                         mask=ok[:, None] & mask_n[None, :], other=0.0).to(tl.float32)
            w = tl.load(g2_ptr + (ch * K + i) * K + j, mask=mask_n, other=0.0)
            inner += w[None, :] * xv
        acc += tl.where(live[:, None], inner, 0.0)
    tl.store(dx_ptr + offs_t.to(tl.int64)[:, None] * N + cols[None, :], acc.to(dx_ptr.dtype.element_ty),
             mask=mask_t[:, None] & mask_n[None, :])


_MOM_BLOCK_T = 8
_MOM_TILE_BUDGET = 8192          # K_PAD · K_PAD · BLOCK_M accumulator values (and BLOCK_T · K_PAD · BLOCK_M)
_BWD_BLOCK_T, _BWD_BLOCK_N = 16, 256
_INTERP_BWD_BLOCK_T, _INTERP_BWD_BLOCK_N = 8, 32


def _dims(x: torch.Tensor) -> tuple[int, int, int, int]:
    T, B, C = x.shape[:3]
    S = x.numel() // max(1, T * B * C)
    return T, B, C, S


def lagged_moments_ref(x: torch.Tensor, order: int, dilation: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference in float64 with explicit zero-padded shifted copies X_i; differentiable (autograd).

    x: [T, B, C, *]. Returns m1: [C, k] and m2: [C, k, k] (float64).
    """
    T = x.shape[0]
    x64 = x.double()
    shifted = []
    for i in range(order):
        lag = (order - 1 - i) * dilation
        xi = torch.zeros_like(x64)
        if lag < T:
            xi = torch.cat([x64[:0].new_zeros((lag, *x64.shape[1:])), x64[: T - lag]])
        shifted.append(xi.movedim(2, 0).reshape(x64.shape[2], -1))               # [C, n]
    xs = torch.stack(shifted, 1)                                                # [C, k, n]
    n = xs.shape[2]
    return xs.sum(2) / n, torch.einsum("cin,cjn->cij", xs, xs) / n


@torch.library.custom_op("mfpsn::lagged_moments", mutates_args=())
def _moments_op(x: torch.Tensor, order: int, dilation: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.contiguous()
    T, B, C, S = _dims(x)
    M, k = C * S, order
    k_pad = next_pow2(k)
    block_m = max(1, min(next_pow2(M), _MOM_TILE_BUDGET // (k_pad * max(k_pad, _MOM_BLOCK_T))))
    n_m = triton.cdiv(M, block_m)
    spread = max(1, program_target(x.device) // n_m)
    b_per, n_b = split_work(B, spread)
    t_per, n_t = split_work(T, max(1, spread // n_b), align=_MOM_BLOCK_T)
    p1 = torch.empty(n_t * n_b, k, M, dtype=torch.float32, device=x.device)
    p2 = torch.empty(n_t * n_b, k, k, M, dtype=torch.float32, device=x.device)
    _moments_kernel[(n_m, n_b, n_t)](x, p1, p2, T, B, M, B * M, dilation, b_per, t_per,
                                     K=k, K_PAD=k_pad, BLOCK_T=_MOM_BLOCK_T, BLOCK_M=block_m)
    n = T * B * S
    m1 = p1.sum(0, dtype=torch.float64).view(k, C, S).sum(-1).t() / n                      # [C, k]
    m2 = p2.sum(0, dtype=torch.float64).view(k, k, C, S).sum(-1).permute(2, 0, 1) / n      # [C, k, k]
    return m1.float().contiguous(), m2.float().contiguous()


@_moments_op.register_fake
def _moments_fake(x, order, dilation):
    C = x.shape[2]
    return (x.new_empty((C, order), dtype=torch.float32), x.new_empty((C, order, order), dtype=torch.float32))


@torch.library.custom_op("mfpsn::lagged_moments_bwd", mutates_args=())
def _moments_bwd_op(g1: torch.Tensor, g2: torch.Tensor, x: torch.Tensor, dilation: int) -> torch.Tensor:
    x = x.contiguous()
    T, B, C, S = _dims(x)
    n = T * B * S
    k = g1.shape[1]
    g1s = (g1.double() / n).float().contiguous()
    g2s = ((g2.double() + g2.double().transpose(1, 2)) / n).float().contiguous()
    dx = torch.empty_like(x)
    N = B * C * S
    bt, bn = (_BWD_BLOCK_T, _BWD_BLOCK_N) if x.device.type == "cuda" else (_INTERP_BWD_BLOCK_T, _INTERP_BWD_BLOCK_N)
    _moments_bwd_kernel[(triton.cdiv(N, bn), triton.cdiv(T, bt))](x, g1s, g2s, dx, T, N, S, C, dilation,
                                                                 K=k, BLOCK_T=bt, BLOCK_N=bn)
    return dx


@_moments_bwd_op.register_fake
def _moments_bwd_fake(g1, g2, x, dilation):
    return x.new_empty(x.shape)


def _moments_setup(ctx, inputs, output) -> None:
    x, order, dilation = inputs
    ctx.save_for_backward(x)
    ctx.dilation = dilation


def _moments_backward(ctx, g1: torch.Tensor, g2: torch.Tensor):
    (x,) = ctx.saved_tensors
    return _moments_bwd_op(g1, g2, x, ctx.dilation), None, None


_moments_op.register_autograd(_moments_backward, setup_context=_moments_setup)


def lagged_moments(x: torch.Tensor, order: int, dilation: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The k lagged means and k×k lagged second moments per channel, in one read of x.

    Args:
        x: [T, B, C, *] float32 / bfloat16 / float16, not empty.
        order: k >= 1. dilation: d >= 1.
    Returns:
        m1: [C, k] float32, m1[c, i] = mean over (t, b, *) of x[t − lag_i] (zero padded);
        m2: [C, k, k] float32 (symmetric), m2[c, i, j] = mean of x[t − lag_i]·x[t − lag_j];
        both differentiable in x. Registered as ``torch.ops.mfpsn.lagged_moments``.
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 3 or x.numel() == 0:
        raise ValueError(f"lagged_moments: expected a non-empty x of shape [T, B, C, *], found "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    check_kernel_dtype(x, "x", "lagged_moments")
    for name, value in (("order", order), ("dilation", dilation)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"lagged_moments: expected an int {name} >= 1, found {value!r}")
    check_launchable(x, INTERPRETED, "lagged_moments")
    return _moments_op(x.contiguous(), order, dilation)
