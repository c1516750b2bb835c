"""Fused serial LIF on Triton: the time loop runs inside the kernel, forward and backward (BPTT).

Legend: ``T`` time, ``B`` batch, ``C`` channels, ``*`` spatial dims; ``x: [T, B, C, *]`` is read as
``[T, N]`` with ``N = B·C·Π*`` independent neurons, one program per block of neurons.

.. math::
    H[t] = V[t-1] + \\frac{X[t] - (V[t-1] - V_{reset})}{\\tau},\\qquad S[t] = \\Theta(H[t] - V_{th})

    \\text{hard: } V[t] = H[t](1 - S[t]) + V_{reset} S[t],\\qquad \\text{soft: } V[t] = H[t] - V_{th} S[t]

``v_reset=None`` is the soft reset (the charge then uses V_reset = 0, as SpikingJelly); ``V[−1] = v_init``
(0 by default, spec §4.1). With ``detach_reset`` the S inside the reset carries no gradient.

Backward (BPTT, float32 state, reverse loop inside the kernel), with u = H − V_th and g_V[T−1] = 0:

.. math::
    g_H[t] = (g_S[t] + [\\lnot\\text{detach}]\\, g_V[t]\\,\\partial V/\\partial S)\\,\\sigma'(u) + g_V[t]\\,
    \\partial V/\\partial H,\\quad dX[t] = g_H[t]/\\tau,\\quad g_V[t-1] = g_H[t](1 - 1/\\tau)

with ∂V/∂H = 1 − S, ∂V/∂S = V_reset − H (hard) or ∂V/∂H = 1, ∂V/∂S = −V_th (soft).
The forward saves H (float32) for the backward only when a gradient is needed; S follows from H.

:func:`lif_ref` (the plain Python loop over t with the surrogate spike function) sits beside it.
"""
import torch
import triton
import triton.language as tl

from mfpsn.functional.surrogate import ATan, Surrogate
from mfpsn.kernels._runtime import AUTOTUNE_MIN_NUMEL, check_kernel_dtype, check_launchable, surrogate_code
from mfpsn.kernels._surrogate import surrogate_grad
from mfpsn.kernels.filter import INTERPRETED

__all__ = ["fused_lif", "lif_ref"]


@triton.jit
def _lif_fwd_kernel(x_ptr, s_ptr, h_ptr, T, N, tau, v_th, v_reset, v_init,
                    HARD: tl.constexpr, STORE_H: tl.constexpr, BLOCK_N: tl.constexpr):
    """One program: BLOCK_N neurons, a serial loop over t; writes S (and H when STORE_H)."""
    offs = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = offs < N
    cols = offs.to(tl.int64)
    v = tl.zeros([BLOCK_N], dtype=tl.float32) + v_init
    for t in range(0, T):
        ptr_off = tl.cast(t, tl.int64) * N + cols
        xv = tl.load(x_ptr + ptr_off, mask=mask, other=0.0).to(tl.float32)
        h = v + (xv - (v - v_reset)) / tau
        s = tl.where(h >= v_th, 1.0, 0.0)
        if HARD:
            v = h * (1.0 - s) + v_reset * s
        else:
            v = h - v_th * s
        tl.store(s_ptr + ptr_off, s.to(s_ptr.dtype.element_ty), mask=mask)
        if STORE_H:
            tl.store(h_ptr + ptr_off, h, mask=mask)


@triton.jit
def _lif_bwd_kernel(gs_ptr, h_ptr, dx_ptr, T, N, tau, v_th, v_reset, alpha,
                    HARD: tl.constexpr, DETACH: tl.constexpr, SURR: tl.constexpr, BLOCK_N: tl.constexpr):
    """One program: BLOCK_N neurons, BPTT as a reverse loop over t; writes dX."""
    offs = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = offs < N
    cols = offs.to(tl.int64)
    g_v = tl.zeros([BLOCK_N], dtype=tl.float32)
    for step in range(0, T):
        ptr_off = tl.cast(T - 1 - step, tl.int64) * N + cols
        h = tl.load(h_ptr + ptr_off, mask=mask, other=0.0)
        g_s = tl.load(gs_ptr + ptr_off, mask=mask, other=0.0).to(tl.float32)
        s = tl.where(h >= v_th, 1.0, 0.0)
        if HARD:
            dv_dh = 1.0 - s
            dv_ds = v_reset - h
        else:
            dv_dh = 1.0
            dv_ds = -v_th
        if not DETACH:
            g_s = g_s + g_v * dv_ds
        g_h = g_s * surrogate_grad(h - v_th, alpha, SURR) + g_v * dv_dh
        tl.store(dx_ptr + ptr_off, (g_h / tau).to(dx_ptr.dtype.element_ty), mask=mask)
        g_v = g_h * (1.0 - 1.0 / tau)


_LIF_CONFIGS = [triton.Config({"BLOCK_N": bn}, num_warps=w)
                for bn, w in [(128, 1), (256, 2), (512, 4), (1024, 8)]]
_lif_fwd_tuned = triton.autotune(configs=_LIF_CONFIGS, key=["T", "N", "HARD", "STORE_H"])(_lif_fwd_kernel)
_lif_bwd_tuned = triton.autotune(configs=_LIF_CONFIGS, key=["T", "N", "HARD", "DETACH", "SURR"])(_lif_bwd_kernel)
_INTERP_BLOCK_N = 32


def _fixed_block(x: torch.Tensor) -> int:
    """Neurons per program below the autotune size: 128 on CUDA, 32 under the interpreter."""
    return 128 if x.device.type == "cuda" else _INTERP_BLOCK_N


def _grid(N: int):
    def grid(META):
        return (triton.cdiv(N, META["BLOCK_N"]),)
    return grid


def _charge_reset(v_reset: float | None) -> float:
    return 0.0 if v_reset is None else float(v_reset)


def lif_ref(x: torch.Tensor, tau: float, v_th: float, v_reset: float | None, detach_reset: bool,
            surrogate: Surrogate, v_init: float = 0.0) -> torch.Tensor:
    """Plain Python loop over t (the serial baseline); x: [T, B, C, *] → s: [T, B, C, *], autograd BPTT."""
    v = torch.full_like(x[0], v_init)
    vr = _charge_reset(v_reset)
    out = []
    for t in range(x.shape[0]):
        h = v + (x[t] - (v - vr)) / tau
        s = surrogate(h - v_th)
        s_r = s.detach() if detach_reset else s
        v = h * (1 - s_r) + vr * s_r if v_reset is not None else h - v_th * s_r
        out.append(s)
    return torch.stack(out)


@torch.library.custom_op("mfpsn::lif_fwd", mutates_args=())
def _lif_op(x: torch.Tensor, tau: float, v_th: float, v_reset: float, v_init: float, hard: bool,
            store_h: bool, detach: bool, surr: int, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.contiguous()
    s = torch.empty_like(x)
    h = torch.empty(x.shape if store_h else (0,), dtype=torch.float32, device=x.device)
    if x.numel() == 0:
        return s, h
    T = x.shape[0]
    N = x.numel() // T
    args = (x, s, h if store_h else s, T, N, tau, v_th, v_reset, v_init)
    if x.device.type == "cuda" and x.numel() >= AUTOTUNE_MIN_NUMEL:
        _lif_fwd_tuned[_grid(N)](*args, HARD=hard, STORE_H=store_h)
    else:
        bn = _fixed_block(x)
        _lif_fwd_kernel[(triton.cdiv(N, bn),)](*args, HARD=hard, STORE_H=store_h, BLOCK_N=bn)
    return s, h


@_lif_op.register_fake
def _lif_fake(x, tau, v_th, v_reset, v_init, hard, store_h, detach, surr, alpha):
    return x.new_empty(x.shape), x.new_empty(x.shape if store_h else (0,), dtype=torch.float32)


@torch.library.custom_op("mfpsn::lif_bwd", mutates_args=())
def _lif_bwd_op(gs: torch.Tensor, h: torch.Tensor, tau: float, v_th: float, v_reset: float, hard: bool,
                detach: bool, surr: int, alpha: float) -> torch.Tensor:
    gs = gs.contiguous()
    dx = torch.empty_like(gs)
    if gs.numel() == 0:
        return dx
    T = gs.shape[0]
    N = gs.numel() // T
    args = (gs, h, dx, T, N, tau, v_th, v_reset, alpha)
    if gs.device.type == "cuda" and gs.numel() >= AUTOTUNE_MIN_NUMEL:
        _lif_bwd_tuned[_grid(N)](*args, HARD=hard, DETACH=detach, SURR=surr)
    else:
        bn = _fixed_block(gs)
        _lif_bwd_kernel[(triton.cdiv(N, bn),)](*args, HARD=hard, DETACH=detach, SURR=surr, BLOCK_N=bn)
    return dx


@_lif_bwd_op.register_fake
def _lif_bwd_fake(gs, h, tau, v_th, v_reset, hard, detach, surr, alpha):
    return gs.new_empty(gs.shape)


def _lif_setup(ctx, inputs, output) -> None:
    x, tau, v_th, v_reset, v_init, hard, store_h, detach, surr, alpha = inputs
    ctx.save_for_backward(output[1])
    ctx.store_h = store_h
    ctx.args = (tau, v_th, v_reset, hard, detach, surr, alpha)


def _lif_backward(ctx, gs: torch.Tensor, gh: torch.Tensor | None):
    if not ctx.store_h:
        raise RuntimeError("fused_lif: the forward ran without saving H (no gradient was expected); call it with "
                           "gradients enabled and x.requires_grad to backpropagate")
    (h,) = ctx.saved_tensors
    dx = _lif_bwd_op(gs, h, *ctx.args)
    return dx, None, None, None, None, None, None, None, None, None


_lif_op.register_autograd(_lif_backward, setup_context=_lif_setup)


def fused_lif(x: torch.Tensor, tau: float = 2.0, v_th: float = 1.0, v_reset: float | None = 0.0,
              detach_reset: bool = False, surrogate: Surrogate | None = None, v_init: float = 0.0) -> torch.Tensor:
    """Multi-step LIF with the time loop inside one Triton kernel (forward and BPTT backward).

    Args:
        x: [T, B, C, *] float32 / bfloat16 / float16 input current.
        tau: membrane time constant τ > 0 (a float, not learned).
        v_th: threshold V_th. v_reset: hard-reset potential, or None for the soft reset V ← H − V_th·S.
        detach_reset: use S.detach() inside the reset.
        surrogate: ATan / Rational / Sigmoid object for σ' (default ATan(alpha=2)).
        v_init: V[−1], 0 by default.
    Returns:
        s: [T, B, C, *] in the dtype of x, exactly 0 or 1; differentiable in x.
        Registered as ``torch.ops.mfpsn.lif_fwd`` / ``lif_bwd``.
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 3:
        raise ValueError(f"fused_lif: expected x of shape [T, B, C, *], found "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    check_kernel_dtype(x, "x", "fused_lif")
    if not float(tau) > 0:
        raise ValueError(f"fused_lif: expected tau > 0, found {tau!r}")
    surr, alpha = surrogate_code(ATan() if surrogate is None else surrogate, "fused_lif")
    check_launchable(x, INTERPRETED, "fused_lif")
    store_h = torch.is_grad_enabled() and x.requires_grad
    s, _ = _lif_op(x, float(tau), float(v_th), _charge_reset(v_reset), float(v_init), v_reset is not None,
                   store_h, bool(detach_reset), surr, alpha)
    return s
