"""Multiplication-free integer inference of a folded MFPSN layer (spec §2.7).

The paper states the principle (x·2^e is a shift; the sign a negation) but gives no recipe for the input;
the fixed-point format below is **reconstructed (open)**, and the threshold θ stays a real number that is
turned into one integer per channel when the layer is prepared (never per input).

Input in fixed point with ``f`` fractional bits: ``X_int = X · 2^f`` (exact when X has at most f fractional
bits). Per channel let ``s = max(0, −min_i e_i)`` over the non-zero taps, so every shift is a left shift:

.. math::
    H'[t] = \\sum_i \\operatorname{sgn}_i \\cdot (X_{int}[t - \\mathrm{lag}_i] \\ll (e_i + s)) = H[t] \\cdot 2^{f+s},
    \\qquad S[t] = 1 \\iff H'[t] \\ge \\lceil \\theta \\cdot 2^{f+s} \\rceil

so the spikes equal those of the float quantized path (computed exactly, e.g. in float64). The data path
uses only shifts, additions/subtractions, selections and comparisons on int64 tensors; the accumulator needs
``log2(Σ_i 2^(e_i+s) · max|X_int|) + 1`` bits, checked before running.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from mfpsn._checks import channel_view
from mfpsn.functional.filter import lags
from mfpsn.functional.quantize import pow2_exponents

__all__ = ["IntegerMFPSN", "to_fixed_point", "integer_mfpsn_forward"]

_ACC_BITS = 63  # int64 accumulator, one bit for the sign


def to_fixed_point(x: torch.Tensor, frac_bits: int, *, round_mode: str = "exact") -> torch.Tensor:
    """X_int = X · 2^f as int64.

    Args:
        x: float tensor, any shape.
        frac_bits: f >= 0.
        round_mode: ``"exact"`` raises ValueError unless every value is representable with f fractional bits;
            ``"nearest"`` rounds (then the spikes equal the float path run on the rounded input).
    """
    if not x.is_floating_point():
        raise ValueError(f"to_fixed_point: expected a floating-point tensor, found {x.dtype}")
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, int) or frac_bits < 0:
        raise ValueError(f"to_fixed_point: expected an int frac_bits >= 0, found {frac_bits!r}")
    scaled = torch.ldexp(x.double(), torch.tensor(float(frac_bits), dtype=torch.float64))
    if round_mode == "exact":
        bad = scaled != torch.round(scaled)
        if bool(bad.any()):
            i = int(bad.flatten().nonzero()[0])
            raise ValueError(
                f"to_fixed_point: expected values with at most {frac_bits} fractional bits, found "
                f"{x.flatten()[i].item()!r} at flat index {i}; raise frac_bits or use round_mode='nearest'")
    elif round_mode == "nearest":
        scaled = torch.round(scaled)
    else:
        raise ValueError(f"to_fixed_point: expected round_mode 'exact' or 'nearest', found {round_mode!r}")
    if bool((scaled.abs() >= 2.0 ** 62).any()):
        raise ValueError(f"to_fixed_point: values overflow int64 at frac_bits={frac_bits}")
    return scaled.to(torch.int64)


def integer_mfpsn_forward(x_int: torch.Tensor, sign: torch.Tensor, shift: torch.Tensor,
                          threshold_int: torch.Tensor, dilation: int) -> torch.Tensor:
    """Spikes of a folded MFPSN layer from fixed-point input, with shifts, adds and compares only.

    Args:
        x_int: [T, B, C, *] int64, X · 2^f.
        sign: [C, k] int8 in {−1, 0, +1}.
        shift: [C, k] int64 left-shift amounts e_i + s (>= 0).
        threshold_int: [C] int64, ceil(θ · 2^(f+s)).
        dilation: d >= 1.
    Returns:
        spikes: [T, B, C, *] uint8 in {0, 1}.
    """
    if x_int.dtype != torch.int64 or x_int.dim() < 3:
        raise ValueError(f"integer MFPSN: expected int64 x_int of shape [T, B, C, *], found {x_int.dtype} "
                         f"{tuple(x_int.shape)}")
    C, k = sign.shape
    if x_int.shape[2] != C:
        raise ValueError(f"integer MFPSN: expected {C} channels in dim 2, found {x_int.shape[2]}")
    T = x_int.shape[0]
    h = torch.zeros_like(x_int)
    for i, lag in enumerate(lags(k, dilation)):
        if lag >= T:
            continue
        src = x_int[: T - lag]
        term = torch.bitwise_left_shift(src, channel_view(shift[:, i], x_int.dim()))
        plus = channel_view(sign[:, i] > 0, x_int.dim())
        minus = channel_view(sign[:, i] < 0, x_int.dim())
        zero = torch.zeros_like(term)
        h[lag:] = h[lag:] + torch.where(plus, term, zero) - torch.where(minus, term, zero)
    return (h >= channel_view(threshold_int, x_int.dim())).to(torch.uint8)


@dataclass(frozen=True)
class IntegerMFPSN:
    """A folded MFPSN layer prepared for integer inference.

    Attributes:
        sign: [C, k] int8; exponent: [C, k] int32 (log2 |tap|); shift: [C, k] int64 (e_i + s);
        threshold_int: [C] int64; frac_bits: f; dilation: d;
        max_gain: max over channels of Σ_i 2^(e_i+s) (a Python int), for the accumulator check.
    """

    sign: torch.Tensor
    exponent: torch.Tensor
    shift: torch.Tensor
    threshold_int: torch.Tensor
    frac_bits: int
    dilation: int
    max_gain: int

    @classmethod
    def from_folded(cls, taps_q: torch.Tensor, theta: torch.Tensor, dilation: int, frac_bits: int) -> "IntegerMFPSN":
        """Prepare from quantized taps ``taps_q: [C, k]`` (values in {0} ∪ {±2^e}) and ``theta: [C]``."""
        sign, e = pow2_exponents(taps_q)
        if not torch.equal(torch.ldexp(sign.double(), e.double()), taps_q.double()):
            raise ValueError("IntegerMFPSN: expected taps in {0} ∪ {±2^e} (quantized), found other values")
        if isinstance(frac_bits, bool) or not isinstance(frac_bits, int) or frac_bits < 0:
            raise ValueError(f"IntegerMFPSN: expected an int frac_bits >= 0, found {frac_bits!r}")
        big = torch.iinfo(torch.int32).max
        e_live = torch.where(sign != 0, e, torch.full_like(e, big))
        s = (-e_live.min(dim=1).values).clamp_min(0)                        # [C]; 0 for channels without taps
        shift = torch.where(sign != 0, e + s[:, None], torch.zeros_like(e)).to(torch.int64)
        scale_exp = (s + frac_bits).double()
        thr = torch.ceil(torch.ldexp(theta.detach().double(), scale_exp))
        if bool((thr.abs() >= 2.0 ** 62).any()):
            raise ValueError("IntegerMFPSN: the scaled threshold overflows int64; lower frac_bits")
        gains = [sum(1 << int(sh) for sh, sg in zip(row_shift, row_sign) if sg != 0)
                 for row_shift, row_sign in zip(shift.tolist(), sign.tolist())]
        return cls(sign, e, shift, thr.to(torch.int64), frac_bits, int(dilation), max(gains, default=0))

    @classmethod
    def from_module(cls, module, frac_bits: int) -> "IntegerMFPSN":
        """Prepare from an ``mfpsn.neurons.MFPSN`` in eval mode (uses its folded taps and threshold)."""
        if module.training:
            raise ValueError("IntegerMFPSN.from_module: expected a module in eval mode (folded BN), found training")
        taps_q, theta = module.folded()
        return cls.from_folded(taps_q, theta, int(module.dilation), frac_bits)

    def accumulator_bits(self, max_abs_x_int: int) -> int:
        """Bits a signed accumulator needs for inputs with |X_int| <= max_abs_x_int."""
        return (self.max_gain * max(1, int(max_abs_x_int))).bit_length() + 1

    def __call__(self, x_int: torch.Tensor) -> torch.Tensor:
        """x_int: [T, B, C, *] int64 (see :func:`to_fixed_point`) → spikes [T, B, C, *] uint8."""
        if x_int.dtype != torch.int64:
            raise ValueError(f"IntegerMFPSN: expected int64 fixed-point input, found {x_int.dtype}")
        need = self.accumulator_bits(int(x_int.abs().max()) if x_int.numel() else 0)
        if need > _ACC_BITS + 1:
            raise ValueError(f"IntegerMFPSN: the accumulator needs {need} bits, more than int64 holds; "
                             f"lower frac_bits or clamp the exponent range")
        return integer_mfpsn_forward(x_int, self.sign, self.shift, self.threshold_int, self.dilation)
