"""Fused MFPSN layer on Triton: filter, threshold and spike in one pass; backward in two.

Legend: ``T`` time, ``B`` batch, ``C`` channels, ``*`` spatial dims, ``k`` order, ``d`` dilation.

.. math::
    H[t] = \\sum_i W[c,i]\\,X[t-\\mathrm{lag}_i],\\quad S = \\Theta(H - \\theta[c]),\\quad
    G = dS\\cdot\\sigma'(H - \\theta),\\quad dX[t] = \\sum_i W[c,i]\\,G[t+\\mathrm{lag}_i],\\quad
    dW[c,i] = \\sum G[t]\\,X[t-\\mathrm{lag}_i],\\quad d\\theta[c] = -\\sum G

Forward: one read of X, one write of S (``_filter_kernel`` with ``SPIKE``); nothing else is saved.

Backward: **H is recomputed, not saved.** Kernel 1 (``_grad_stats_kernel`` with ``FUSED``) reads X and dS,
recomputes H from the k lagged X tiles that the dTaps reduction must load anyway, writes G (float32) and the
dTaps / dθ partials; kernel 2 (``_filter_kernel`` with ``REVERSE``) reads G and writes dX. Saving H instead
would add one full write to the forward and one read to the backward while saving no load in the backward
(X is needed for dTaps either way), so recomputing is cheaper in memory traffic (forward 2 passes over
memory, backward 5) and in memory held between forward and backward (none beyond the inputs).

:func:`mfpsn_spikes_ref` (float64 reference filter + the surrogate spike function) sits beside it.
"""
import torch

from mfpsn._checks import channel_view
from mfpsn.functional.filter import check_filter_args, temporal_filter_ref
from mfpsn.functional.surrogate import Surrogate
from mfpsn.kernels._runtime import check_kernel_dtype, check_launchable, surrogate_code
from mfpsn.kernels.filter import INTERPRETED, launch_filter, launch_grad_stats

__all__ = ["fused_mfpsn_spikes", "mfpsn_spikes_ref"]

def mfpsn_spikes_ref(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int,
                     surrogate: Surrogate) -> torch.Tensor:
    """Plain reference: S = surrogate(temporal_filter_ref(x, taps, d) − θ[c]), differentiable (autograd).

    x: [T, B, C, *]; taps: [C, k]; theta: [C]. Returns s: [T, B, C, *] in the dtype of x
    (use float64 inputs for the reference of the tests).
    """
    h = temporal_filter_ref(x, taps, dilation)
    return surrogate(h - channel_view(theta.to(h.dtype), h.dim()))


@torch.library.custom_op("mfpsn::mfpsn_spikes", mutates_args=())
def _spikes_op(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int, surr: int,
               alpha: float) -> torch.Tensor:
    return launch_filter(x.contiguous(), taps.float().contiguous(), theta.float().contiguous(), dilation,
                         reverse=False, out_dtype=x.dtype)


@_spikes_op.register_fake
def _spikes_fake(x, taps, theta, dilation, surr, alpha):
    return x.new_empty(x.shape)


@torch.library.custom_op("mfpsn::mfpsn_spikes_bwd", mutates_args=())
def _spikes_bwd_op(ds: torch.Tensor, x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int,
                   surr: int, alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x, taps32 = x.contiguous(), taps.float().contiguous()
    g, dtaps, sum_g = launch_grad_stats(x, ds.contiguous(), taps32, theta.float().contiguous(), dilation,
                                        surr, alpha)
    dx = launch_filter(g, taps32, None, dilation, reverse=True, out_dtype=x.dtype)
    return dx, dtaps.to(taps.dtype), (-sum_g).to(theta.dtype)


@_spikes_bwd_op.register_fake
def _spikes_bwd_fake(ds, x, taps, theta, dilation, surr, alpha):
    return x.new_empty(x.shape), taps.new_empty(taps.shape), theta.new_empty(theta.shape)


def _spikes_setup(ctx, inputs, output) -> None:
    x, taps, theta, dilation, surr, alpha = inputs
    ctx.save_for_backward(x, taps, theta)
    ctx.args = (dilation, surr, alpha)


def _spikes_backward(ctx, ds: torch.Tensor):
    x, taps, theta = ctx.saved_tensors
    dx, dtaps, dtheta = _spikes_bwd_op(ds, x, taps, theta, *ctx.args)
    return dx, dtaps, dtheta, None, None, None


_spikes_op.register_autograd(_spikes_backward, setup_context=_spikes_setup)


def fused_mfpsn_spikes(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int,
                       surrogate: Surrogate) -> torch.Tensor:
    """S = Θ(Σ_i taps[c, i]·x[t − (k−1−i)·d] − θ[c]) in one pass over memory.

    Args:
        x: [T, B, C, *] float32 / bfloat16 / float16 (made contiguous; no permute, no padding copy).
        taps: [C, k] floating point (the effective, e.g. power-of-two quantized, taps).
        theta: [C] floating point threshold.
        dilation: d >= 1.
        surrogate: an ``ATan``, ``Rational`` or ``Sigmoid`` object (:mod:`mfpsn.functional.surrogate`).
    Returns:
        s: [T, B, C, *] in the dtype of x, exactly 0 or 1; differentiable in x, taps and theta with
        σ'(H − θ) standing in for Θ'. Registered as ``torch.ops.mfpsn.mfpsn_spikes``.
    """
    check_filter_args(x, taps, dilation)
    check_kernel_dtype(x, "x", "fused_mfpsn_spikes")
    if not isinstance(theta, torch.Tensor) or theta.shape != (x.shape[2],) or not theta.is_floating_point():
        found = f"{tuple(theta.shape)} {theta.dtype}" if isinstance(theta, torch.Tensor) else type(theta).__name__
        raise ValueError(f"fused_mfpsn_spikes: expected theta as a float tensor of shape [{x.shape[2]}] (one per "
                         f"channel of x), found {found}")
    if theta.device != x.device:
        raise ValueError(f"fused_mfpsn_spikes: x is on {x.device} but theta on {theta.device}")
    surr, alpha = surrogate_code(surrogate, "fused_mfpsn_spikes")
    check_launchable(x, INTERPRETED, "fused_mfpsn_spikes")
    return _spikes_op(x.contiguous(), taps, theta, dilation, surr, alpha)
