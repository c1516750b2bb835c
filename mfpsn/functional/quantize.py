"""Power-of-two quantizer of the taps, with a straight-through gradient.

.. math::
    Q(w) = \\operatorname{sign}(w) \\cdot 2^{\\operatorname{clamp}(\\operatorname{round}(\\log_2 |w|),\\, e_{min},\\, e_{max})},
    \\qquad Q(0) = 0

Rounding is to nearest in the log domain, so the boundary between 2^n and 2^(n+1) lies at
|w| = 2^(n+1/2) (the geometric midpoint). The exponent range is **reconstructed (open)**: the paper gives
none, so ``exp_min = exp_max = None`` (no clamp) is the default; integer deployment needs a finite range such as
[−8, 7] and :func:`count_clamped` tells how many taps the clamp moved.

Gradient (``ste``):

- ``"whole"`` (default, the paper's adopted fix): the whole quantizer is the identity in the backward pass,
  dQ/dw := 1, also at w = 0.
- ``"round"`` (the paper's plain STE, kept for the Fig. 7 ablation): only ``round`` is passed through, so
  dQ/dw = 2^round(log2|w|) / |w| — which is NaN at w = 0 (exp2(−inf) · inf), as the paper observed on DVS-Lip.
"""
from __future__ import annotations

from typing import Literal

import torch

__all__ = ["pow2_exponents", "pow2_quantize", "pow2_value", "count_clamped"]



def _smallest_subnormal(dtype: torch.dtype) -> float:
    """2^−149 for float32, 2^−1074 for float64: clamping |w| there keeps log2 finite without moving any w ≠ 0."""
    info = torch.finfo(dtype)
    return info.smallest_normal * info.eps


def _check_range(exp_min: int | None, exp_max: int | None) -> None:
    for name, v in (("exp_min", exp_min), ("exp_max", exp_max)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise ValueError(f"{name}: expected an int or None, found {v!r}")
    if exp_min is not None and exp_max is not None and exp_min > exp_max:
        raise ValueError(f"exponent range: expected exp_min <= exp_max, found [{exp_min}, {exp_max}]")


def _float_exponent(w: torch.Tensor, exp_min: int | None, exp_max: int | None) -> torch.Tensor:
    """round(log2|w|) clamped to [exp_min, exp_max], as an integer-valued float of w's dtype, without gradient
    (|w| is clamped at the smallest subnormal first, which keeps log2 finite and moves no w ≠ 0)."""
    if not w.is_floating_point():
        raise ValueError(f"pow2 quantizer: expected a floating-point tensor, found {w.dtype}")
    _check_range(exp_min, exp_max)
    with torch.no_grad():
        e = torch.round(torch.log2(w.abs().clamp_min(_smallest_subnormal(w.dtype))))
        return e.clamp(min=exp_min, max=exp_max) if exp_min is not None or exp_max is not None else e


def pow2_exponents(
    w: torch.Tensor, exp_min: int | None = None, exp_max: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sign and exponent of Q(w).

    Args:
        w: float tensor, any shape.
    Returns:
        sign: int8, same shape, in {−1, 0, +1} (0 exactly where w == 0).
        exponent: int32, same shape, round(log2|w|) clamped to [exp_min, exp_max]; 0 where w == 0.
    """
    e = _float_exponent(w, exp_min, exp_max)
    with torch.no_grad():
        e = torch.where(w == 0, torch.zeros_like(e), e)
        return torch.sign(w).to(torch.int8), e.to(torch.int32)


def pow2_value(w: torch.Tensor, exp_min: int | None = None, exp_max: int | None = None) -> torch.Tensor:
    """Q(w) in w's dtype, without a gradient (the values of :func:`pow2_quantize`; for code that writes its own
    backward, such as the fused training layer): sign(w) · 2^e with e the exponent of :func:`pow2_exponents`, kept
    as an integer-valued float (2^e of one is exact; no integer round trip: this runs on every training forward)."""
    e = _float_exponent(w, exp_min, exp_max)
    with torch.no_grad():
        return torch.sign(w) * torch.exp2(e)


class _Pow2Whole(torch.autograd.Function):
    """Forward Q(w); backward the identity (whole-quantizer straight-through)."""

    @staticmethod
    def forward(w: torch.Tensor, exp_min: int | None, exp_max: int | None) -> torch.Tensor:
        return pow2_value(w, exp_min, exp_max)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None, None


def pow2_quantize(
    w: torch.Tensor,
    exp_min: int | None = None,
    exp_max: int | None = None,
    ste: Literal["whole", "round"] = "whole",
) -> torch.Tensor:
    """Q(w) = sign(w) · 2^clamp(round(log2|w|), exp_min, exp_max), Q(0) = 0.

    Args:
        w: float tensor, any shape (the taps are ``[C, k]``).
        exp_min, exp_max: inclusive exponent range, ``None`` = unbounded (the paper's setting).
        ste: ``"whole"`` (dQ/dw = 1, default) or ``"round"`` (plain STE through round only).
    Returns:
        same shape and dtype as ``w``; every value in {0} ∪ {±2^e}.
    """
    if ste in ("whole", "round") and not w.is_floating_point():
        raise ValueError(f"pow2 quantizer: expected a floating-point tensor, found {w.dtype}")
    if ste == "whole":
        _check_range(exp_min, exp_max)
        return _Pow2Whole.apply(w, exp_min, exp_max)
    if ste == "round":
        _check_range(exp_min, exp_max)
        log = torch.log2(w.abs())                              # −inf at w = 0
        e = log + torch.where(torch.isfinite(log), torch.round(log) - log, 0.0).detach()  # forward Q(0) = 0
        if exp_min is not None or exp_max is not None:
            e = e.clamp(min=exp_min, max=exp_max)
        return torch.sign(w) * torch.exp2(e)
    raise ValueError(f"ste: expected 'whole' or 'round', found {ste!r}")


def count_clamped(w: torch.Tensor, exp_min: int | None = None, exp_max: int | None = None) -> int:
    """How many non-zero taps the exponent clamp moved (0 when the range is unbounded)."""
    sign, e_clamped = pow2_exponents(w, exp_min, exp_max)
    _, e_free = pow2_exponents(w)
    return int(((e_clamped != e_free) & (sign != 0)).sum())
