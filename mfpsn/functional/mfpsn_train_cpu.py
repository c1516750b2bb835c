"""The MFPSN training layer on the fused CPU kernel: one autograd node, statistics and spikes without
materialising Y or H.

Legend: ``x: [T, B, C, *]``, ``W: [C, k]``, ``W_q: [C, k]``, ``θ: [C]``, n = T·B·Π* values per channel.

Same maths as :func:`mfpsn.backends.mfpsn_train_forward` on a filter backend (the reference beside it), in four
passes over x and two C++ calls for the [C]-sized fold instead of about twenty-five elementwise passes and the thirty
small autograd nodes of the fold:

1. forward, statistics: one pass computes Y = filter(x, W) block by block and accumulates Σ Y and Σ Y² per
   channel in float64; μ_B = ΣY/n, σ²_B = ΣY²/n − μ_B² (clamped at 0). Y is never written.
2. the fold, in one C++ call (:func:`mfpsn.functional.fused_cpu.fused_fold_forward`, source in
   :mod:`mfpsn.functional.fold_cpp`: the values of :func:`mfpsn.functional.fold.fold_forward` bit for bit):
   g = γ/√(σ²_B + ε), W_f = g·W, θ = g·μ_B − β, W_q = Q(W_f); then one pass writes S = Θ(filter(x, W_q) − θ).
3. backward, spikes: one pass recomputes H = filter(x, W_q) and gives G = g_S·σ'(H − θ), dX (the anti-causal
   filter of G), dW_q[c, i] = Σ G[t]·x[t − lag_i] and dθ = −Σ G.
4. the fold's backward in one C++ call (:func:`mfpsn.functional.fused_cpu.fused_fold_backward`, the formulas of
   :func:`mfpsn.functional.fold.fold_backward`): dW_f = dW_q (``ste="whole"``, and without the quantizer) or
   dW_q·Q(W_f)/W_f on the unclamped exponents (``ste="round"``; NaN where W_f = 0, as autograd gives);
   dW = g·dW_f, dg = Σ_i W·dW_f + μ_B·dθ, dβ = −dθ, dγ = dg/√(σ²_B + ε), and the statistics' gradients
   g_μ = g·dθ, g_σ² = −dg·g/(2(σ²_B + ε)), given to pass 5 as b_c = 2 g_σ²/n, a_c = g_μ/n − b_c·μ_B.
5. backward, statistics (``bn_grad``): with G = g_μ/n + (2 g_σ²/n)(Y − μ_B), one pass recomputes Y and adds its
   dX into pass 3's buffer (one dX buffer, no later add) and gives its dW.

Supported: float32/float64 on the CPU, the ATan, Sigmoid and Rational surrogates (others use the reference
path). The statistics differ from the two-pass float reference only by rounding (float64 sums here). The spike
op alone (:func:`fused_train_spikes`: pass 2 and 3 with W_q and θ given) serves the eval forward with a gradient.
"""
from __future__ import annotations

import torch

from mfpsn.functional import fused_cpu
from mfpsn.functional.surrogate import ATan, Rational, Sigmoid, Surrogate

__all__ = ["supports", "fused_train_layer", "fused_train_spikes", "fused_fold"]

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
        w = fused_cpu.operand(weight, dt)
        gamma, beta = fused_cpu.operand(bn_weight, dt), fused_cpu.operand(bn_bias, dt)
        n = x.numel() // x.shape[2]
        w_q, theta, mean, var, w_f, g, inv, mean64 = fused_cpu.fused_fold_forward(
            fused_cpu.fused_moment_sums(x, w, dilation), n, w, gamma, beta, eps, quantize, exp_min, exp_max)
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
        dw, dgamma, dbeta, a_c, b_c = fused_cpu.fused_fold_backward(
            dwq, gsum, w, mean, var, g, inv, w_f, w_q, ctx.eps, ctx.round_ste, *ctx.exp_range, n, mean64)
        if ctx.bn_grad:   # through μ_B and σ²_B: pass 5 adds its dX into pass 3's buffer
            dx, dw_stats, _ = fused_cpu.fused_grad_pass(x, w, d, alpha_c=a_c, beta_c=b_c, accumulate_into=dx)
            dw = dw + dw_stats.to(dw.dtype)
        w_dtype, gamma_dtype, beta_dtype = ctx.dtypes
        cast = fused_cpu.cast
        return ((dx if ctx.needs_input_grad[0] else None), cast(dw, w_dtype), cast(dgamma, gamma_dtype),
                cast(dbeta, beta_dtype), None, None, None, None, None, None, None, None)


class _FoldCPU(torch.autograd.Function):
    """:func:`mfpsn.functional.fold.fold_taps_fused` on the C++ fold glue (one call each way)."""

    @staticmethod
    def forward(ctx, weight, bn_weight, bn_bias, mean, var, eps, quantize, exp_min, exp_max, ste):
        dt = weight.dtype
        w = fused_cpu.operand(weight, dt)
        w_q, theta, mean_c, var_c, w_f, g, inv, _ = fused_cpu.fused_fold_forward(
            None, 1, w, fused_cpu.operand(bn_weight, dt), fused_cpu.operand(bn_bias, dt), eps, quantize, exp_min,
            exp_max, mean=fused_cpu.operand(mean, dt), var=fused_cpu.operand(var, dt))
        ctx.save_for_backward(w, mean_c, var_c, w_f, w_q, g, inv)
        ctx.eps, ctx.round_ste, ctx.exp_range = eps, quantize and ste == "round", (exp_min, exp_max)
        ctx.dtypes = tuple(t.dtype for t in (weight, bn_weight, bn_bias, mean, var))
        return w_q, theta

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_wq, d_theta):
        w, mean, var, w_f, w_q, g, inv = ctx.saved_tensors
        d_wq = torch.zeros(w.shape, dtype=torch.float64) if d_wq is None else d_wq.double().contiguous()
        g_sum = torch.zeros(w.shape[0], dtype=torch.float64) if d_theta is None else d_theta.double().neg()
        dw, dgamma, dbeta, a_c, b_c = fused_cpu.fused_fold_backward(     # n = 1, μ64 = 0: a_c = dμ, b_c = 2 dσ²
            d_wq, g_sum, w, mean, var, g, inv, w_f, w_q, ctx.eps, ctx.round_ste, *ctx.exp_range, 1,
            torch.zeros(w.shape[0], dtype=torch.float64))
        grads = (dw, dgamma, dbeta, a_c, b_c * 0.5)
        out = [fused_cpu.cast(gr, d) if need else None for gr, d, need in zip(grads, ctx.dtypes, ctx.needs_input_grad)]
        return (*out, None, None, None, None, None)


def fused_fold(weight: torch.Tensor, bn_weight: torch.Tensor, bn_bias: torch.Tensor, mean: torch.Tensor,
               var: torch.Tensor, eps: float, quantize: bool, exp_min: int | None, exp_max: int | None,
               ste: str = "whole") -> tuple[torch.Tensor, torch.Tensor]:
    """(W_q [C, k], θ [C]) as :func:`mfpsn.functional.fold.fold_taps_fused` (the same values bit for bit; the
    gradients to rounding: the sum over the taps runs in tap order), on the C++ fold glue: what the MFPSN neuron
    runs at eval when its backend is ``"fused"`` (or ``"auto"`` with the fused library loaded). W, γ, β, μ, σ² on
    the CPU, float32 or float64 (W's dtype is the fold's)."""
    if ste not in ("whole", "round"):
        raise ValueError(f"ste: expected 'whole' or 'round', found {ste!r}")
    if weight.device.type != "cpu" or weight.dtype not in fused_cpu.SUPPORTED_DTYPES:
        raise RuntimeError(f"fused_fold runs on the CPU in float32/float64, found weight {weight.dtype} on "
                           f"{weight.device}")
    return _FoldCPU.apply(weight, bn_weight, bn_bias, mean, var, eps, quantize, exp_min, exp_max, ste)


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
