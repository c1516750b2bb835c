"""Power-of-two quantizer of the taps, with a straight-through gradient.

.. math::
    Q(w) = \\operatorname{sign}(w) \\cdot 2^{\\operatorname{clamp}(\\operatorname{round}(\\log_2 |w|),\\, e_{min},\\, e_{max})},
    \\qquad Q(0) = 0

Rounding is to nearest in the log domain, so the boundary between 2^n and 2^(n+1) lies at
|w| = 2^(n+1/2) (the geometric midpoint), decided exactly from the mantissa (:func:`round_exponent`), not from a
rounded log2. The exponent range is **reconstructed (open)**: the paper gives
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

__all__ = ["pow2_exponents", "pow2_quantize", "pow2_value", "count_clamped", "round_exponent",
           "INV_SQRT2_UP"]



#: the smallest float64 above 2^(−1/2) (fl64(2^(−1/2)) = 0.70710678118654757… lies above
#: 2^(−1/2) = 0.70710678118654752…); a mantissa m of any float dtype up to float64 has m ≥ 2^(−1/2) exactly
#: when float64(m) ≥ this (the C++ fold, :mod:`mfpsn.functional.fold_cpp`, compiles this value in)
INV_SQRT2_UP = 0.7071067811865476


def _check_range(exp_min: int | None, exp_max: int | None) -> None:
    for name, v in (("exp_min", exp_min), ("exp_max", exp_max)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise ValueError(f"{name}: expected an int or None, found {v!r}")
    if exp_min is not None and exp_max is not None and exp_min > exp_max:
        raise ValueError(f"exponent range: expected exp_min <= exp_max, found [{exp_min}, {exp_max}]")


def round_exponent(w: torch.Tensor) -> torch.Tensor:
    """round(log2|w|) exactly, as an integer-valued float of w's dtype, without gradient: with |w| = m·2^e
    (``frexp``, m ∈ [0.5, 1)), it is e where m ≥ 2^(−1/2) and e − 1 below, so the boundary is the geometric
    midpoint 2^(n+1/2) itself, with no rounding of a computed log2 (``torch.round(torch.log2(·))`` can put a
    float just above 2^(n+1/2) on n + 1/2, which then rounds half to even). ±inf gives inf; 0 gives −1 (callers
    mask zeros); NaN gives NaN (so Q(NaN) is NaN). The C++ fold of the fused training layer
    (:mod:`mfpsn.functional.fold_cpp`) uses the same rule."""
    if not w.is_floating_point():
        raise ValueError(f"pow2 quantizer: expected a floating-point tensor, found {w.dtype}")
    with torch.no_grad():
        a = w.abs()
        m, e = torch.frexp(a)
        e = (e - (m < _mantissa_midpoint(w.dtype)).to(e.dtype)).to(w.dtype)
        return torch.where(a.isfinite(), e, a)      # inf for ±inf, NaN for NaN


def _mantissa_midpoint(dtype: torch.dtype) -> float:
    """The smallest value of ``dtype`` at or above 2^(−1/2) (a mantissa m of ``dtype`` has m ≥ 2^(−1/2) exactly
    when m ≥ this): float64's own rounding of 2^(−1/2) lies above it; a narrower dtype's may lie below, and then
    the next value up is the one. The four common dtypes' values are computed once, at import (inside a
    ``torch.compile`` trace the ``float(tensor)`` below would break the graph); any other dtype's on each call."""
    known = _MIDPOINTS.get(dtype)
    if known is not None:
        return known
    c = torch.tensor(INV_SQRT2_UP, dtype=torch.float64).to(dtype)
    if float(c) < INV_SQRT2_UP:
        c = torch.nextafter(c, torch.ones((), dtype=dtype))
    return float(c)


_MIDPOINTS: dict[torch.dtype, float] = {}
_MIDPOINTS.update({dt: _mantissa_midpoint(dt) for dt in (torch.float16, torch.bfloat16, torch.float32, torch.float64)})


def _float_exponent(w: torch.Tensor, exp_min: int | None, exp_max: int | None) -> torch.Tensor:
    """:func:`round_exponent` clamped to [exp_min, exp_max], without gradient."""
    _check_range(exp_min, exp_max)
    e = round_exponent(w)
    return e.clamp_(min=exp_min, max=exp_max) if exp_min is not None or exp_max is not None else e


def pow2_exponents(
    w: torch.Tensor, exp_min: int | None = None, exp_max: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sign and exponent of Q(w).

    Args:
        w: float tensor, any shape.
    Returns:
        sign: int8, same shape, in {−1, 0, +1} (0 exactly where w == 0).
        exponent: int32, same shape, round(log2|w|) clamped to [exp_min, exp_max]; 0 where w == 0.
    Raises:
        ValueError: w holds NaN or ±inf (no integer exponent exists; casting one to int32 would give an arbitrary
            value), naming how many and where the first one is.
    """
    bad = ~torch.isfinite(w)
    if bool(bad.any()):
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(f"pow2_exponents: expected finite weights, found {int(bad.sum())} NaN/inf value(s) "
                         f"(the first at index {first}: {w[first].item()})")
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
        # forward: the exponent of round_exponent (log + (E − log) is E exactly: |E − log| ≤ 1/2, so the
        # difference is exact); backward: through log2 only. Q(0) = 0 (log = −inf there)
        e = log + torch.where(torch.isfinite(log), round_exponent(w) - log, 0.0).detach()
        if exp_min is not None or exp_max is not None:
            e = e.clamp(min=exp_min, max=exp_max)
        return torch.sign(w) * torch.exp2(e)
    raise ValueError(f"ste: expected 'whole' or 'round', found {ste!r}")


def count_clamped(w: torch.Tensor, exp_min: int | None = None, exp_max: int | None = None) -> int:
    """How many non-zero taps the exponent clamp moved (0 when the range is unbounded)."""
    sign, e_clamped = pow2_exponents(w, exp_min, exp_max)
    _, e_free = pow2_exponents(w)
    return int(((e_clamped != e_free) & (sign != 0)).sum())
