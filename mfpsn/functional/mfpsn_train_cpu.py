"""The MFPSN training layer on the fused CPU kernel: statistics and spikes without materialising Y or H.

Legend: ``x: [T, B, C, *]``, ``W: [C, k]``, ``W_q: [C, k]``, ``θ: [C]``, n = T·B·Π* values per channel.

Same maths as :func:`mfpsn.functional.mfpsn.mfpsn_train_forward` with ``stats="materialize"`` (the reference
beside it), in four passes over x instead of about twenty-five elementwise passes:

1. forward, statistics: one pass computes Y = filter(x, W) block by block and accumulates Σ Y and Σ Y² per
   channel in float64; μ_B = ΣY/n, σ²_B = ΣY²/n − μ_B² (clamped at 0). Y is never written.
2. forward, spikes: the fold (tiny, torch autograd) gives W_q, θ; one pass writes S = Θ(filter(x, W_q) − θ).
3. backward, spikes: one pass recomputes H = filter(x, W_q) and gives G = g_S·σ'(H − θ), dX (the anti-causal
   filter of G), dW_q[c, i] = Σ G[t]·x[t − lag_i] and dθ = −Σ G.
4. backward, statistics: with the fold's gradients g_μ, g_σ² ([C]), one pass recomputes Y and gives
   G = g_μ/n + (2 g_σ²/n)(Y − μ_B), its dX and dW.

With ``share`` (a :class:`SharedDx`, given to both passes when the statistics carry a gradient), pass 3 keeps its dX
in the holder and returns none for X, and pass 4 adds its dX into that buffer and returns the sum: one dX buffer
instead of two and autograd's add (autograd runs pass 3's backward first: the spikes depend on the statistics).
The values are those of the separate sum (the same two terms added once, in either order).

Supported: float32/float64 on the CPU, the ATan, Sigmoid and Rational surrogates (others use the reference
path). The statistics differ from the two-pass float reference only by rounding (float64 sums here).
"""
from __future__ import annotations

import torch

from mfpsn.functional import fused_cpu
from mfpsn.functional.surrogate import ATan, Rational, Sigmoid, Surrogate

__all__ = ["supports", "SharedDx", "fused_batch_stats", "fused_train_spikes"]

_CODES = {ATan: 0, Sigmoid: 1, Rational: 2}


def supports(x: torch.Tensor, surrogate: Surrogate) -> bool:
    """True when this path implements the call (CPU, float32/float64, a surrogate it knows)."""
    return (x.device.type == "cpu" and x.dtype in fused_cpu.SUPPORTED_DTYPES and type(surrogate) in _CODES)


class SharedDx:
    """Where the spike pass's backward leaves its dX for the statistics pass's backward to add into (one layer,
    one forward: make a new one per call)."""

    def __init__(self) -> None:
        self.dx: torch.Tensor | None = None


class _Stats(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, dilation, share):
        s1, s2 = fused_cpu.fused_moments(x, weight, dilation)
        n = x.numel() // x.shape[2]
        mean = s1 / n
        var = (s2 / n - mean * mean).clamp_min(0.0)
        ctx.save_for_backward(x, weight)
        ctx.dilation, ctx.n, ctx.share = dilation, n, share
        ctx.mean = mean
        return mean.to(x.dtype), var.to(x.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_mean, g_var):
        x, weight = ctx.saved_tensors
        n = ctx.n
        g_mean = torch.zeros_like(ctx.mean) if g_mean is None else g_mean.double()
        g_var = torch.zeros_like(ctx.mean) if g_var is None else g_var.double()
        beta = 2.0 * g_var / n
        alpha = g_mean / n - beta * ctx.mean
        share = ctx.share
        into = None if share is None else share.dx
        if share is not None:
            share.dx = None
        dx, dw, _ = fused_cpu.fused_grad_pass(x, weight, ctx.dilation, alpha_c=alpha, beta_c=beta,
                                              accumulate_into=into)
        return (dx if ctx.needs_input_grad[0] else None), dw.to(weight.dtype), None, None


class _Spikes(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, taps, theta, dilation, surrogate, share):
        s = fused_cpu.fused_forward(x, taps, dilation, theta)
        ctx.save_for_backward(x, taps, theta)
        ctx.dilation, ctx.surrogate, ctx.share = dilation, surrogate, share
        return s

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_s):
        x, taps, theta = ctx.saved_tensors
        sur = ctx.surrogate
        dx, dtaps, gsum = fused_cpu.fused_grad_pass(x, taps, ctx.dilation, grad_s=g_s, theta=theta,
                                                    surrogate_code=_CODES[type(sur)], surrogate_alpha=sur.alpha)
        dx_out = dx if ctx.needs_input_grad[0] else None
        if ctx.share is not None and dx_out is not None:
            ctx.share.dx, dx_out = dx, None      # the statistics pass adds its dX into this buffer and returns it
        return dx_out, dtaps.to(taps.dtype), (-gsum).to(theta.dtype), None, None, None


def fused_batch_stats(x: torch.Tensor, weight: torch.Tensor, dilation: int, share: SharedDx | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """(μ_B [C], σ²_B [C], biased) of Y = filter(x, W) over (T, B, *), in one pass; differentiable in x and W.

    share: the holder also given to :func:`fused_train_spikes` of the same layer (see the module docstring), or
    None (then each pass returns its own dX)."""
    return _Stats.apply(x, weight, dilation, share)


def fused_train_spikes(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int,
                       surrogate: Surrogate, share: SharedDx | None = None) -> torch.Tensor:
    """S = Θ(filter(x, W_q) − θ) in one pass; backward recomputes H (differentiable in x, W_q and θ).

    share: given only when θ and W_q depend on :func:`fused_batch_stats` of the same x with the same holder, so
    that its backward runs after this one and returns the summed dX."""
    return _Spikes.apply(x, taps.to(x.dtype), theta.to(x.dtype), dilation, surrogate, share)
