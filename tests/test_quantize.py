"""pow2_quantize / pow2_exponents / count_clamped: values, rounding boundary, clamp, straight-through gradients."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfpsn.functional import count_clamped, pow2_exponents, pow2_quantize, pow2_value

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _is_zero_or_signed_pow2(v: torch.Tensor) -> torch.Tensor:
    mantissa, _ = torch.frexp(v)
    return (v == 0) | (mantissa.abs() == 0.5)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(finite, min_size=1, max_size=40), st.sampled_from([torch.float32, torch.float64]))
def test_values_lie_in_zero_or_signed_powers_of_two(values, dtype):
    w = torch.tensor(values, dtype=dtype)
    q = pow2_quantize(w)
    assert q.dtype == dtype and q.shape == w.shape
    assert bool(_is_zero_or_signed_pow2(q).all())
    assert torch.equal(torch.sign(q), torch.sign(w))          # sign kept, 0 stays 0
    nz = w != 0
    ratio = (q[nz].double() / w[nz].double()).abs()            # within the geometric half-step 2^±1/2
    assert bool((ratio >= 2 ** -0.5 - 1e-6).all() and (ratio <= 2 ** 0.5 + 1e-6).all())


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(finite, min_size=1, max_size=20), st.integers(-6, 2), st.integers(0, 6))
def test_clamp_keeps_exponents_in_range(values, lo, width):
    hi = lo + width
    w = torch.tensor(values, dtype=torch.float64)
    sign, e = pow2_exponents(w, lo, hi)
    assert sign.dtype == torch.int8 and e.dtype == torch.int32
    nz = w != 0
    assert bool(((e[nz] >= lo) & (e[nz] <= hi)).all())
    assert bool((e[~nz] == 0).all() and (sign[~nz] == 0).all())
    q = pow2_quantize(w, lo, hi)
    torch.testing.assert_close(q, sign.double() * torch.exp2(e.double()))
    _, e_free = pow2_exponents(w)
    assert count_clamped(w, lo, hi) == int(((e != e_free) & nz).sum())


@pytest.mark.parametrize("n", [-5, -1, 0, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rounding_boundary_is_the_geometric_midpoint(n, dtype):
    """|w| just below 2^(n+1/2) goes to 2^n, just above to 2^(n+1); 1.45·2^n (< 1.5·2^n) already rounds up."""
    mid = 2.0 ** (n + 0.5)
    eps = 1e-5
    w = torch.tensor([mid * (1 - eps), mid * (1 + eps), -mid * (1 - eps), -mid * (1 + eps), 1.45 * 2.0 ** n],
                     dtype=dtype)
    q = pow2_quantize(w)
    expect = torch.tensor([2.0 ** n, 2.0 ** (n + 1), -(2.0 ** n), -(2.0 ** (n + 1)), 2.0 ** (n + 1)], dtype=dtype)
    assert torch.equal(q, expect)


def test_exact_powers_and_zero_are_fixed_points():
    w = torch.tensor([0.0, -0.0, 1.0, -0.25, 8.0, 2.0 ** -20])
    assert torch.equal(pow2_quantize(w), w)


def test_clamp_and_count():
    w = torch.tensor([0.0, 1000.0, -1e-4, 0.5, -3.0, 2.0 ** -9])
    q = pow2_quantize(w, exp_min=-8, exp_max=7)
    assert q.tolist() == [0.0, 128.0, -(2.0 ** -8), 0.5, -4.0, 2.0 ** -8]
    assert count_clamped(w, -8, 7) == 3                   # 1000 → 2^7, −1e-4 → −2^−8, 2^−9 → 2^−8
    assert count_clamped(w) == 0                          # unbounded: nothing moved
    assert count_clamped(torch.zeros(4), 0, 0) == 0       # zeros are never counted


def test_whole_ste_gradient_is_exactly_the_upstream_gradient_including_zero():
    w = torch.tensor([0.0, -0.0, 0.3, -1.7, 1e-30, 5.0, 0.0], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([0.5, -2.0, 3.0, 1.25, -7.0, 0.1, 9.0], dtype=torch.float64)
    (pow2_quantize(w, exp_min=-3, exp_max=2) * g).sum().backward()
    assert torch.equal(w.grad, g)


def test_round_ste_matches_whole_forward_and_gives_nan_at_zero():
    w = torch.tensor([0.3, -1.7, 5.0, 0.0], requires_grad=True)
    q = pow2_quantize(w, ste="round")
    assert torch.equal(q.detach(), pow2_quantize(w.detach()))
    q.sum().backward()
    assert torch.isnan(w.grad[3])
    # away from 0 the plain STE derivative is 2^round(log2|w|)/|w|, inside [2^−1/2, 2^1/2]
    expect = pow2_quantize(w.detach()[:3]).abs() / w.detach()[:3].abs()
    torch.testing.assert_close(w.grad[:3], expect)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"exp_min": 3, "exp_max": 1}, r"expected exp_min <= exp_max, found \[3, 1\]"),
    ({"exp_min": 1.5}, r"exp_min: expected an int or None, found 1.5"),
    ({"exp_max": True}, r"exp_max: expected an int or None, found True"),
    ({"ste": "both"}, r"ste: expected 'whole' or 'round', found 'both'"),
])
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        pow2_quantize(torch.tensor([0.5]), **kwargs)


def test_integer_input_is_rejected():
    with pytest.raises(ValueError, match="expected a floating-point tensor, found torch.int64"):
        pow2_quantize(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="expected a floating-point tensor, found torch.int64"):
        pow2_quantize(torch.tensor([1, 2]), ste="round")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("lo, hi", [(None, None), (-8, 7), (None, 0), (-3, None)])
def test_quantize_equals_the_integer_sign_and_exponent(dtype, lo, hi):
    """The float fast path (no integer round trip) gives exactly sign · 2^exponent of ``pow2_exponents``."""
    info = torch.finfo(dtype)
    g = torch.Generator().manual_seed(5)
    w = torch.cat([torch.randn(4000, generator=g, dtype=dtype) * 10.0 ** torch.randint(-6, 6, (4000,), generator=g),
                   torch.tensor([0.0, -0.0, info.tiny, -info.tiny, info.tiny * info.eps, info.max, -info.max,
                                 2.0 ** 0.5, -(2.0 ** 1.5), 1.0, -1.0], dtype=dtype)])
    sign, e = pow2_exponents(w, lo, hi)
    expect = torch.ldexp(sign.to(dtype), e.to(dtype))
    got = pow2_quantize(w, lo, hi)
    assert got.dtype == dtype and torch.equal(got, expect)
    assert torch.equal(pow2_value(w, lo, hi), expect) and not pow2_value(w.requires_grad_(), lo, hi).requires_grad


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_round_exponent_is_exact_next_to_every_midpoint(dtype):
    """The floats right below and above each 2^(n+1/2) (and at it, rounded) go to n and n + 1, decided exactly:
    |w| ≥ 2^(n+1/2) ⟺ w² ≥ 2^(2n+1), compared in exact rational arithmetic."""
    from fractions import Fraction

    from mfpsn.functional.quantize import round_exponent

    info = torch.finfo(dtype)
    lo_exp = {torch.float16: -14, torch.bfloat16: -126, torch.float32: -126, torch.float64: -1022}[dtype]
    values = []
    for n in list(range(lo_exp, 15, 7)) + [-1, 0, 1, 2, 14]:
        mid = torch.tensor(2.0 ** (n + 0.5), dtype=dtype)
        for v in (torch.nextafter(mid, torch.tensor(0.0, dtype=dtype)), mid,
                  torch.nextafter(mid, torch.tensor(float("inf"), dtype=dtype))):
            values += [float(v), -float(v)]
    w = torch.tensor(values + [info.tiny * info.eps, 1.0, 0.75, 2.0 ** 0.5], dtype=dtype)
    e = round_exponent(w)
    for value, exponent in zip(w.tolist(), e.tolist()):
        a = abs(Fraction(value))
        n = a.numerator.bit_length() - a.denominator.bit_length()      # floor(log2 a) or one above
        if Fraction(2) ** n > a:
            n -= 1
        want = n + 1 if a * a >= Fraction(2) ** (2 * n + 1) else n
        assert exponent == want, (value, exponent, want)


def test_round_exponent_special_values():
    from mfpsn.functional.quantize import round_exponent

    e = round_exponent(torch.tensor([float("inf"), -float("inf"), float("nan"), 0.0]))
    assert e[0] == float("inf") and e[1] == float("inf") and e[2].isnan() and e[3] == -1
    q = pow2_quantize(torch.tensor([float("inf"), float("nan"), 0.0, -0.0]))
    assert q[0] == float("inf") and q[1].isnan() and q[2] == 0 and q[3] == 0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_pow2_exponents_refuses_non_finite_weights(bad):
    """A NaN or infinite tap has no integer exponent: an error naming it, not an arbitrary int32."""
    w = torch.tensor([[0.5, -2.0], [bad, 1.0]])
    with pytest.raises(ValueError, match=r"expected finite weights, found 1 NaN/inf value\(s\) \(the first at index "
                                         r"\(1, 0\)"):
        pow2_exponents(w)
    with pytest.raises(ValueError, match="expected finite weights"):
        count_clamped(w, -4, 4)
