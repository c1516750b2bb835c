"""The MFPSN layer's forwards on the chosen backends: pass-1 statistics, the two-pass training forward, the
eval spikes and the traced form (the maths, the fold and the streaming step are in
:mod:`mfpsn.functional.mfpsn`).

Each function takes ``backend`` (a backend name or ``"auto"``) and ``backends=BACKENDS``; the ops run are the
records' ``"filter"``, ``"spikes"`` (filter + threshold + spike), ``"moments"`` and ``"layer"``
(:mod:`mfpsn.backends.registry`). ``"auto"`` resolves once per call through the selector, so it can pick a
fused neuron kernel (the fused CPU training layer, the Triton spike kernel).

Shapes: ``x: [T, B, C, *]``, ``weight W: [C, k]``, γ, β, θ: ``[C]``.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from mfpsn.backends.dispatch import resolve, resolve_filter, temporal_filter
from mfpsn.backends.registry import BACKENDS, BackendRegistry
from mfpsn._checks import channel_view
from mfpsn.functional.filter import check_filter_args
from mfpsn.functional.fold import fold_taps_fused
from mfpsn.functional.mfpsn import STATS, mean_var, moments_stats
from mfpsn.functional.surrogate import Surrogate

__all__ = ["batch_stats", "MFPSNTrainOutput", "mfpsn_train_forward", "mfpsn_spikes", "mfpsn_trace", "mfpsn_fold"]


def batch_stats(x: torch.Tensor, weight: torch.Tensor, dilation: int, backend: str = "auto",
                stats: str = "materialize", *, backends: BackendRegistry = BACKENDS
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Pass 1: batch mean μ_B and biased variance σ²_B of Y = filter(X, W) over (T, B, *).

    Args:
        x: [T, B, C, *]; weight: W [C, k]; dilation: d; backend: the backend of the filter / the moments.
        stats: ``"materialize"`` (compute Y, then its mean and variance) or ``"moments"`` (the backend's
            ``"moments"`` op, then :func:`mfpsn.functional.mfpsn.moments_stats`; exact up to rounding; with
            ``backend="triton"`` the one-read kernel ``mfpsn.kernels.lagged_moments``, float32 partial sums).
    Returns:
        (mean [C], var [C], y) in x's dtype; ``y`` is Y [T, B, C, *] for ``"materialize"``, else None.
    """
    if stats == "materialize":
        y = temporal_filter(x, weight, dilation, backend, backends=backends)
        mean, var = mean_var(y)
        return mean, var, y
    if stats == "moments":
        name = backend if backend != "auto" else resolve_filter(backend, x, weight, dilation, backends=backends).name
        m, M = resolve(name, "moments", x, backends, where="MFPSN(stats='moments')").ops["moments"](
            x, weight.shape[1], dilation)
        mean, var = moments_stats(weight, m, M, x.dtype)
        return mean, var, None
    raise ValueError(f"MFPSN: expected stats in {STATS}, found {stats!r}")


class MFPSNTrainOutput(NamedTuple):
    """spikes, h: [T, B, C, *] (h None when not asked for); theta, batch_mean, batch_var (biased): [C];
    taps: W_q [C, k]."""

    spikes: torch.Tensor
    h: torch.Tensor
    theta: torch.Tensor
    taps: torch.Tensor
    batch_mean: torch.Tensor
    batch_var: torch.Tensor


def mfpsn_train_forward(x: torch.Tensor, weight: torch.Tensor, bn_weight: torch.Tensor, bn_bias: torch.Tensor,
                        *, dilation: int, eps: float, surrogate: Surrogate, quantize: bool = True,
                        exp_min: int | None = None, exp_max: int | None = None, ste: str = "whole",
                        backend: str = "auto", stats: str = "materialize", bn_grad: bool = True,
                        need_h: bool = True, backends: BackendRegistry = BACKENDS) -> MFPSNTrainOutput:
    """Training-mode forward, two temporal filters.

    .. math::
        \\mu_B, \\sigma^2_B = \\operatorname{mean}, \\operatorname{var}_{biased}(\\mathrm{filter}(X, W))
        \\;\\text{over } (T, B, *); \\quad
        W_q, \\theta = \\mathrm{fold}(W, \\gamma, \\beta, \\mu_B, \\sigma^2_B); \\quad
        S = \\sigma(\\mathrm{filter}(X, W_q) - \\theta)

    where σ is the spike function with surrogate gradient. ``bn_grad=False`` detaches μ_B and σ²_B (then no
    gradient reaches X or W through the statistics). Gradients reach W, γ, β through W_q by the
    straight-through rule of ``ste``.

    Args:
        x: [T, B, C, *] float; weight: [C, k]; bn_weight, bn_bias: [C].
        need_h: return H; with ``need_h=False`` pass 2 is the backend's ``"spikes"`` op (the fused kernel with
            ``backend="triton"``) and ``h`` is None. When the backend (named, or chosen by ``"auto"``) has a
            ``"layer"`` op implementing this surrogate (``"fused"``: ATan, Sigmoid, Rational on CPU
            float32/float64), ``stats="materialize"`` and ``need_h=False``, the whole forward is that op
            (:mod:`mfpsn.functional.mfpsn_train_cpu`: one autograd node, Y and H never written); then only the
            spikes carry a gradient, and ``taps``, ``theta`` and the statistics are returned without one.
    Returns:
        :class:`MFPSNTrainOutput`. The running statistics are not touched (see ``update_running_stats``).
    """
    r = resolve_filter(backend, x, weight, dilation, backends=backends)
    if (stats == "materialize" and not need_h and r.implements("layer")
            and (r.surrogates is None or type(surrogate) in r.surrogates)):
        spikes, taps, theta, mean, var = r.ops["layer"](x, weight, bn_weight, bn_bias, dilation, eps, surrogate,
                                                        quantize, exp_min, exp_max, ste, bn_grad)
        return MFPSNTrainOutput(spikes, None, theta, taps, mean, var)
    mean, var, _ = batch_stats(x, weight, dilation, r.name, stats, backends=backends)
    if not bn_grad:
        mean, var = mean.detach(), var.detach()
    taps, theta = fold_taps_fused(weight, bn_weight, bn_bias, mean, var, eps, quantize, exp_min, exp_max, ste)
    if need_h:
        spikes, h = mfpsn_trace(x, taps, theta, dilation, surrogate, r.name, backends=backends)
    else:
        spikes, h = r.ops["spikes"](x, taps, theta, dilation, surrogate), None
    return MFPSNTrainOutput(spikes, h, theta, taps, mean, var)


def mfpsn_fold(weight: torch.Tensor, bn_weight: torch.Tensor, bn_bias: torch.Tensor, mean: torch.Tensor,
               var: torch.Tensor, eps: float, quantize: bool, exp_min: int | None, exp_max: int | None,
               ste: str = "whole", backend: str = "auto", *, backends: BackendRegistry = BACKENDS
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(W_q [C, k], θ [C]) = the fold of W [C, k] with γ, β, μ, σ² [C] (:func:`mfpsn.functional.fold.fold_taps_fused`,
    differentiable in every tensor), on the backend's ``"fold"`` op where it has one: a named backend's, or with
    ``"auto"`` the first record implementing it that is loaded and can run on W (no build is started for it).
    Every ``"fold"`` op gives the same W_q and θ bit for bit; otherwise, when the five tensors do not share W's
    dtype, or inside a ``torch.compile`` trace, the torch fold runs."""
    dt = weight.dtype
    if (bn_weight.dtype == dt and bn_bias.dtype == dt and mean.dtype == dt and var.dtype == dt
            and not torch.compiler.is_compiling()):    # a "fold" op may be a ctypes call: not traced
        if backend == "auto":
            fold = next((r.ops["fold"] for r in backends.values() if r.implements("fold") and r.ready()
                         and weight.device.type in r.auto_devices and r.reason(weight[:1, :1, None]) is None),
                        None)
        else:
            r = backends.record(backend, "filter")
            fold = r.ops["fold"] if r.implements("fold") and r.reason(weight[:1, :1, None]) is None else None
        if fold is not None:
            return fold(weight, bn_weight, bn_bias, mean, var, eps, quantize, exp_min, exp_max, ste)
    return fold_taps_fused(weight, bn_weight, bn_bias, mean, var, eps, quantize, exp_min, exp_max, ste)


def mfpsn_trace(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int,
                surrogate: Surrogate, backend: str = "auto", *, backends: BackendRegistry = BACKENDS
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Filter and threshold, also returning H: ``H = filter(X, W_q)``, ``S = Θ(H − θ)`` (surrogate gradient).

    x: [T, B, C, *]; taps: W_q [C, k]; theta: θ [C] → (spikes, h), both [T, B, C, *].
    """
    h = temporal_filter(x, taps, dilation, backend, backends=backends)
    return surrogate(h - channel_view(theta, h.dim())), h


def mfpsn_spikes(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int,
                 surrogate: Surrogate, backend: str = "auto", *, backends: BackendRegistry = BACKENDS
                 ) -> torch.Tensor:
    """Filter and threshold, spikes only: ``S = Θ(filter(X, W_q) − θ)``, the backend's ``"spikes"`` op (used by
    the eval forward and by pass 2 of the training forward): ``"triton"`` runs filter, threshold and spike in
    one differentiable kernel; ``"fused"`` one CPU pass (without a gradient; with one, the fused training
    spikes for the ATan, Sigmoid and Rational surrogates); a backend with only a filter filters, then
    thresholds. ``"auto"`` times the spike form (``op="spikes"``) when no gradient is needed, the filter with
    its backward otherwise.

    x: [T, B, C, *]; taps: W_q [C, k]; theta: θ [C] → spikes [T, B, C, *].
    """
    check_filter_args(x, taps, dilation)
    grad = torch.is_grad_enabled() and (x.requires_grad or taps.requires_grad or theta.requires_grad)
    r = resolve_filter(backend, x, taps, dilation, op="filter" if grad else "spikes", backends=backends)
    return r.ops["spikes"](x, taps, theta, dilation, surrogate)
