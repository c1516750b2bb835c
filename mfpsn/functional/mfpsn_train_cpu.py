"""The MFPSN training layer on the fused CPU kernel: one autograd node, statistics and spikes without
materialising Y or H.

Legend: ``x: [T, B, C, *]``, ``W: [C, k]``, ``W_q: [C, k]``, ``θ: [C]``, n = T·B·Π* values per channel.

Same maths as :func:`mfpsn.backends.mfpsn_train_forward` on a filter backend (the reference beside it), in four
passes over x and a handful of [C]-sized operations instead of about twenty-five elementwise passes and the thirty
small autograd nodes of the fold:

1. forward, statistics: one pass computes Y = filter(x, W) block by block and accumulates Σ Y and Σ Y² per
   channel in float64; μ_B = ΣY/n, σ²_B = ΣY²/n − μ_B² (clamped at 0). Y is never written.
2. the fold, by hand in x's dtype with the ops of :func:`mfpsn.functional.mfpsn.bn_fold` and the quantizer:
   g = γ/√(σ²_B + ε), W_f = g·W, θ = g·μ_B − β, W_q = Q(W_f); then one pass writes S = Θ(filter(x, W_q) − θ).
3. backward, spikes: one pass recomputes H = filter(x, W_q) and gives G = g_S·σ'(H − θ), dX (the anti-causal
   filter of G), dW_q[c, i] = Σ G[t]·x[t − lag_i] and dθ = −Σ G.
4. the fold's backward by hand: dW_f = dW_q (``ste="whole"``, and without the quantizer) or dW_q·Q(W_f)/W_f on
   the unclamped exponents (``ste="round"``; NaN where W_f = 0, as autograd gives); dW = g·dW_f,
   dg = Σ_i W·dW_f + μ_B·dθ, dβ = −dθ, dγ = dg/√(σ²_B + ε), and the statistics' gradients
   g_μ = g·dθ, g_σ² = −dg·g/(2(σ²_B + ε)).
5. backward, statistics (``bn_grad``): with G = g_μ/n + (2 g_σ²/n)(Y − μ_B), one pass recomputes Y and adds its
   dX into pass 3's buffer (one dX buffer, no later add) and gives its dW.

Supported: float32/float64 on the CPU, the ATan, Sigmoid and Rational surrogates (others use the reference
path). The statistics differ from the two-pass float reference only by rounding (float64 sums here). The spike
op alone (:func:`fused_train_spikes`: pass 2 and 3 with W_q and θ given) serves the eval forward with a gradient.
"""
from __future__ import annotations

import torch

from mfpsn.functional import fused_cpu
from mfpsn.functional.fold import fold_backward, fold_forward
from mfpsn.functional.surrogate import ATan, Rational, Sigmoid, Surrogate

__all__ = ["supports", "fused_train_layer", "fused_train_spikes"]

_CODES = {ATan: 0, Sigmoid: 1, Rational: 2}


def supports(x: torch.Tensor, surrogate: Surrogate) -> bool:
    """True when this path implements the call (CPU, float32/float64, a surrogate it knows)."""
    return (x.device.type == "cpu" and x.dtype in fused_cpu.SUPPORTED_DTYPES and type(surrogate) in _CODES)


class _Layer(torch.autograd.Function):
    """The training layer in one node (steps 1–5 of the module docstring)."""

    @staticmethod
    def forward(ctx, x, weight, bn_weight, bn_bias, dilation, eps, surrogate, quantize, exp_min, exp_max, ste,
                bn_grad):
        dt = x.dtype
        w, gamma, beta = fused_cpu.cast(weight, dt), fused_cpu.cast(bn_weight, dt), fused_cpu.cast(bn_bias, dt)
        s1, s2 = fused_cpu.fused_moments(x, w, dilation)
        n = x.numel() // x.shape[2]
        mean64 = s1 / n
        mean, var = mean64.to(dt), (s2 / n - mean64 * mean64).clamp_min_(0.0).to(dt)
        w_q, theta, w_f, g, inv = fold_forward(w, gamma, beta, mean, var, eps, quantize, exp_min, exp_max)
        spikes = fused_cpu.fused_forward(x, w_q, dilation, theta)
        ctx.save_for_backward(x, w, mean, var, w_f, w_q, theta, mean64, inv, g)
        ctx.dilation, ctx.eps, ctx.surrogate, ctx.n = dilation, eps, surrogate, n
        ctx.round_ste = quantize and ste == "round"
        ctx.exp_range, ctx.bn_grad = (exp_min, exp_max), bn_grad
        ctx.dtypes = weight.dtype, bn_weight.dtype, bn_bias.dtype
        ctx.mark_non_differentiable(w_q, theta, mean, var)
        return spikes, w_q, theta, mean, var

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_s, *_unused):
        x, w, mean, var, w_f, w_q, theta, mean64, inv, g = ctx.saved_tensors
        sur, d, n = ctx.surrogate, ctx.dilation, ctx.n
        dx, dwq, gsum = fused_cpu.fused_grad_pass(x, w_q, d, grad_s=g_s, theta=theta,
                                                  surrogate_code=_CODES[type(sur)], surrogate_alpha=sur.alpha)
        dtheta = gsum.neg_().to(x.dtype)
        grads = fold_backward(dwq.to(x.dtype), dtheta, w, mean, var, g, inv, ctx.eps,
                              (w_f, w_q, *ctx.exp_range) if ctx.round_ste else None)
        dw = grads.weight
        if ctx.bn_grad:   # through μ_B and σ²_B: pass 5 adds its dX into pass 3's buffer
            b_c = 2.0 * grads.var.double() / n
            a_c = grads.mean.double() / n - b_c * mean64
            dx, dw_stats, _ = fused_cpu.fused_grad_pass(x, w, d, alpha_c=a_c, beta_c=b_c, accumulate_into=dx)
            dw = dw + dw_stats.to(dw.dtype)
        w_dtype, gamma_dtype, beta_dtype = ctx.dtypes
        cast = fused_cpu.cast
        return ((dx if ctx.needs_input_grad[0] else None), cast(dw, w_dtype), cast(grads.bn_weight, gamma_dtype),
                cast(grads.bn_bias, beta_dtype), None, None, None, None, None, None, None, None)


class _Spikes(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, taps, theta, dilation, surrogate):
        s = fused_cpu.fused_forward(x, taps, dilation, theta)
        ctx.save_for_backward(x, taps, theta)
        ctx.dilation, ctx.surrogate = dilation, surrogate
        return s

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_s):
        x, taps, theta = ctx.saved_tensors
        sur = ctx.surrogate
        dx, dtaps, gsum = fused_cpu.fused_grad_pass(x, taps, ctx.dilation, grad_s=g_s, theta=theta,
                                                    surrogate_code=_CODES[type(sur)], surrogate_alpha=sur.alpha)
        return ((dx if ctx.needs_input_grad[0] else None), dtaps.to(taps.dtype), (-gsum).to(theta.dtype), None,
                None)


def fused_train_layer(x: torch.Tensor, weight: torch.Tensor, bn_weight: torch.Tensor, bn_bias: torch.Tensor,
                      dilation: int, eps: float, surrogate: Surrogate, quantize: bool = True,
                      exp_min: int | None = None, exp_max: int | None = None, ste: str = "whole",
                      bn_grad: bool = True) -> tuple[torch.Tensor, ...]:
    """The whole MFPSN training forward in one autograd node (see the module docstring).

    Args:
        x: [T, B, C, *]; weight: W [C, k]; bn_weight γ, bn_bias β: [C]; the rest as
            :func:`mfpsn.backends.mfpsn_train_forward`.
    Returns:
        (spikes [T, B, C, *], W_q [C, k], θ [C], μ_B [C], σ²_B [C]), in x's dtype. Only the spikes carry a
        gradient (to x, W, γ and β); W_q, θ and the statistics are returned for the running statistics and for
        display.
    """
    return _Layer.apply(x, weight, bn_weight, bn_bias, dilation, eps, surrogate, quantize, exp_min, exp_max, ste,
                        bn_grad)


def fused_train_spikes(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int,
                       surrogate: Surrogate) -> torch.Tensor:
    """S = Θ(filter(x, W_q) − θ) in one pass; backward recomputes H (differentiable in x, W_q and θ)."""
    return _Spikes.apply(x, taps.to(x.dtype), theta.to(x.dtype), dilation, surrogate)
