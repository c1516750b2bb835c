"""Functional MFPSN maths: BN fold, the two-pass training forward, the folded eval forward, the streaming step.

Symbols (spec §1, §2.4), per channel c, ``x: [T, B, C, *]``, ``weight W: [C, k]``, γ, β, μ, σ²: ``[C]``:

.. math::
    \\mathrm{lag}_i = (k - 1 - i)\\,d, \\qquad
    Y[t] = \\sum_{i=0}^{k-1} W[c, i]\\, X[t - \\mathrm{lag}_i] \\quad (X[t'] = 0,\\ t' < 0)

.. math::
    g = \\frac{\\gamma}{\\sqrt{\\sigma^2 + \\varepsilon}}, \\quad
    W_f = g \\cdot W, \\quad b_f = \\beta - g\\,\\mu, \\quad
    W_q = Q(W_f), \\quad \\theta = -b_f = g\\,\\mu - \\beta

.. math::
    H[t] = \\sum_{i=0}^{k-1} W_q[c, i]\\, X[t - \\mathrm{lag}_i], \\qquad S[t] = \\Theta(H[t] - \\theta[c])

Training (``mfpsn_train_forward`` in :mod:`mfpsn.backends.mfpsn_layer`, which picks the backends; two temporal
filters): pass 1 computes Y with the float W, its batch mean
μ_B and biased variance σ²_B over every non-channel dim (T, B, *) feed the fold; pass 2 filters X with W_q.
Eval (``mfpsn_spikes``, same module): one filter with W_q and θ folded from the running statistics.
Without quantization (Q = identity), H − θ = g (Y − μ) + β = BatchNorm(Y): the float channel-wise PSN.

Reconstructed (open) choices, all configurable by the caller: statistics over (T, B, *); gradients through
μ_B and σ²_B (``bn_grad``); the pass-1 statistics may be computed from lagged moments without materialising Y
(``stats="moments"``, spec §2.4 "Option [derived]").
"""
from __future__ import annotations

import torch

from mfpsn._checks import channel_view
from mfpsn.functional.filter import lags
from mfpsn.functional.quantize import pow2_quantize
from mfpsn.functional.surrogate import heaviside

__all__ = [
    "STATS", "bn_fold", "quantize_taps", "fold_taps", "reduce_dims", "mean_var", "moments_stats", "lagged_moments",
    "update_running_stats", "mfpsn_stream_step",
]

STATS = ("materialize", "moments")


def reduce_dims(x: torch.Tensor) -> tuple[int, ...]:
    """Every dim of ``x: [T, B, C, *]`` except the channel dim 2."""
    return (0, 1, *range(3, x.dim()))


def bn_fold(weight: torch.Tensor, bn_weight: torch.Tensor, bn_bias: torch.Tensor, mean: torch.Tensor,
            var: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold the BatchNorm on Y into the taps: ``W_f = g·W``, ``θ = g·μ − β`` with ``g = γ / sqrt(σ² + ε)``.

    Args:
        weight: W [C, k]; bn_weight: γ [C]; bn_bias: β [C]; mean: μ [C]; var: σ² [C] (biased batch variance in
        training, the running variance at eval); eps: ε.
    Returns:
        (w_f [C, k], theta [C]); differentiable in every tensor argument.
    """
    g = bn_weight * torch.rsqrt(var + eps)
    return g[:, None] * weight, g * mean - bn_bias


def quantize_taps(w_f: torch.Tensor, quantize: bool, exp_min: int | None, exp_max: int | None,
                  ste: str = "whole") -> torch.Tensor:
    """W_q = Q(W_f) (:func:`mfpsn.functional.pow2_quantize`), or W_f itself when ``quantize`` is False."""
    return pow2_quantize(w_f, exp_min, exp_max, ste) if quantize else w_f


def fold_taps(weight: torch.Tensor, bn_weight: torch.Tensor, bn_bias: torch.Tensor, mean: torch.Tensor,
              var: torch.Tensor, eps: float, quantize: bool, exp_min: int | None, exp_max: int | None,
              ste: str = "whole") -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`bn_fold` then :func:`quantize_taps`: returns (W_q [C, k], θ [C])."""
    w_f, theta = bn_fold(weight, bn_weight, bn_bias, mean, var, eps)
    return quantize_taps(w_f, quantize, exp_min, exp_max, ste), theta


def lagged_moments(x: torch.Tensor, order: int, dilation: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Means of the shifted inputs and of their pairwise products, without forming Y.

    With ``X_i[t] = X[t − lag_i]`` (zero padded) and N = T·B·Π* positions per channel:

    .. math::
        m_i = \\frac{1}{N} \\sum_{t,b,*} X_i[t], \\qquad
        M_{ij} = \\frac{1}{N} \\sum_{t,b,*} X_i[t]\\, X_j[t]

    For lag_i ≤ lag_j with δ = lag_j − lag_i, ``M_ij = (1/N) Σ_{t=δ}^{T−1−lag_i} X[t]·X[t−δ]``: one product
    series per distinct δ ∈ {0, d, …, (k−1)d} summed over (B, *), then prefix sums over t give every truncation.
    That is k products of X with itself (in eager mode each a temporary of X's size; a fused kernel reads X once).

    Args:
        x: [T, B, C, *] float.
    Returns:
        (m [C, k], M [C, k, k]) in float64 (accumulated in float64 over t).
    """
    T, C = x.shape[0], x.shape[2]
    n = x.numel() // max(C, 1)
    inner = (1, *range(3, x.dim()))                        # reduce (B, *) of a [t, B, C, *] slice → [t, C]
    lg = lags(order, dilation)
    zero = x.new_zeros(1, C, dtype=torch.float64)

    q = x.sum(dim=inner).double()                          # [T, C]: Σ_{b,*} X[t]
    Q = torch.cat([zero, q.cumsum(0)])                      # [T+1, C]; Q[u] = Σ_{t<u} q[t]
    m = torch.stack([Q[max(T - l, 0)] for l in lg], dim=1) / n   # [C, k]

    prefix = {}
    for step in range(order):
        delta = step * dilation
        if delta >= T:
            break
        p = (x[delta:] * x[: T - delta]).sum(dim=inner).double()    # [T−δ, C]: Σ_{b,*} X[t]·X[t−δ], t ≥ δ
        prefix[delta] = torch.cat([zero, p.cumsum(0)])               # [T−δ+1, C]
    cols = []
    for i in range(order):
        row = []
        for j in range(order):
            lo, hi = min(lg[i], lg[j]), max(lg[i], lg[j])
            count = T - hi                                          # terms t = δ … T−1−lo
            row.append(prefix[hi - lo][count] if count > 0 else zero[0])
        cols.append(torch.stack(row, dim=1))                          # [C, k]
    M = torch.stack(cols, dim=1) / n                                  # [C, k, k]
    return m, M


class _MeanVar(torch.autograd.Function):
    """Per-channel mean and biased variance of ``y: [T, B, C, *]`` over (T, B, *), two-pass (centred) in the
    forward; backward ``dY = g_μ/n + (2 g_σ²/n)·(Y − μ)`` in one elementwise pass (``torch.var`` runs a
    much slower Welford reduction over non-contiguous dims on the CPU)."""

    @staticmethod
    def forward(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dims = reduce_dims(y)
        mean = y.mean(dim=dims)
        centred = y - channel_view(mean, y.dim())
        return mean, (centred * centred).mean(dim=dims)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        (y,) = inputs
        ctx.save_for_backward(y, output[0])

    @staticmethod
    def backward(ctx, g_mean: torch.Tensor | None, g_var: torch.Tensor | None):
        y, mean = ctx.saved_tensors
        n = y.numel() // max(y.shape[2], 1)
        g_mean = torch.zeros_like(mean) if g_mean is None else g_mean
        g_var = torch.zeros_like(mean) if g_var is None else g_var
        view = channel_view
        return (y - view(mean, y.dim())) * view(g_var * (2.0 / n), y.dim()) + view(g_mean / n, y.dim())


def mean_var(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean [C], biased variance [C]) of ``y: [T, B, C, *]`` over every non-channel dim; differentiable."""
    return _MeanVar.apply(y)


def moments_stats(weight: torch.Tensor, m: torch.Tensor, M: torch.Tensor, dtype: torch.dtype
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """μ_B = Σ_i W_i m_i, E[Y²] = Σ_ij W_i W_j M_ij, σ²_B = E[Y²] − μ_B² (clamped at 0) from the lagged
    moments (m [C, k], M [C, k, k], :func:`lagged_moments`) of X; returns (mean [C], var [C]) in ``dtype``."""
    w = weight.double()
    mean = (w * m.double()).sum(dim=1)
    second = torch.einsum("ci,cij,cj->c", w, M.double(), w)
    var = (second - mean * mean).clamp_min(0.0)
    return mean.to(dtype), var.to(dtype)


@torch.no_grad()
def update_running_stats(running_mean: torch.Tensor, running_var: torch.Tensor, batch_mean: torch.Tensor,
                         batch_var: torch.Tensor, n: int, factor: float) -> None:
    """In place, as ``nn.BatchNorm``: ``μ ← (1 − f)·μ + f·μ_B``, ``σ² ← (1 − f)·σ² + f·σ²_B·n/(n − 1)``.

    Args:
        running_mean, running_var: [C] buffers; batch_mean, batch_var: [C] (biased variance);
        n: values per channel in the batch (T·B·Π*), > 1; factor: f (the momentum, or 1/batches for a
        cumulative average).
    """
    running_mean.mul_(1.0 - factor).add_(batch_mean.detach().to(running_mean.dtype), alpha=factor)
    unbiased = batch_var.detach().to(running_var.dtype) * (n / (n - 1))
    running_var.mul_(1.0 - factor).add_(unbiased, alpha=factor)


def mfpsn_stream_step(buffer: torch.Tensor, t: int, x_t: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor,
                      dilation: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One streaming step with a ring buffer of the last L = (k − 1)·d + 1 inputs.

    .. math::
        \\mathrm{buf}[t \\bmod L] \\leftarrow X[t], \\qquad
        H[t] = \\sum_i W_q[c, i]\\, \\mathrm{buf}[(t - \\mathrm{lag}_i) \\bmod L], \\qquad S[t] = \\Theta(H[t] - \\theta)

    The buffer starts as zeros, which stand for X[t'] = 0 before t = 0. The terms are added in the order of
    the ``shift_add`` filter (the current input's tap first, then i = 0 … k−2), so H equals that filter's
    output bit for bit.

    Args:
        buffer: [L, B, C, *], written in place at row t mod L.
        t: index of this step (0 for the first after a reset).
        x_t: [B, C, *]; taps: W_q [C, k]; theta: θ [C]; dilation: d.
    Returns:
        (s_t, h_t), both [B, C, *]; no gradient (streaming is an inference mode).
    """
    L, k = buffer.shape[0], taps.shape[1]
    view = (-1, *([1] * (x_t.dim() - 2)))
    buffer[t % L] = x_t
    h = buffer[t % L] * taps[:, k - 1].reshape(view)
    for i, lag in enumerate(lags(k, dilation)[:-1]):
        h = h + buffer[(t - lag) % L] * taps[:, i].reshape(view)
    return heaviside(h - theta.reshape(view)), h
