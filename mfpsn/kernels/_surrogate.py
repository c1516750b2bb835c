"""The surrogate derivatives σ'(u) as a Triton device function (``SURR`` picks the family, see
:func:`mfpsn.kernels._runtime.surrogate_code`). Same formulas as :mod:`mfpsn.functional.surrogate`."""
import triton
import triton.language as tl


@triton.jit
def surrogate_grad(u, alpha, SURR: tl.constexpr):
    """σ'(u) by family: 0 = ATan (α/2)/(1 + (π/2·α·u)²), 1 = Rational 1/(1 + α u²),
    2 = Sigmoid α·s(αu)·(1 − s(αu))."""
    if SURR == 0:
        v = 1.5707963267948966 * alpha * u
        r = (0.5 * alpha) / (1.0 + v * v)
    elif SURR == 1:
        r = 1.0 / (1.0 + alpha * u * u)
    else:
        s = tl.sigmoid(alpha * u)
        r = alpha * s * (1.0 - s)
    return r
