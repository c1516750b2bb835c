"""Spike functions: Θ forward (exactly 0/1, Θ(0) = 1), surrogate derivatives against their primitives and the spec."""
from __future__ import annotations

import math

import pytest
import torch

from mfpsn.functional import ATan, Rational, Sigmoid, get_surrogate, heaviside
from tolerances import TOL

U = torch.cat([torch.linspace(-3.0, 3.0, 600, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)])

# primitives whose derivative is σ'(u): σ'(u) = d/du primitive(u)
PRIMITIVES = {
    "atan": lambda u, a: torch.atan(math.pi / 2 * a * u) / math.pi + 0.5,
    "rational": lambda u, a: torch.atan(math.sqrt(a) * u) / math.sqrt(a),
    "sigmoid": lambda u, a: torch.sigmoid(a * u),
}


@pytest.mark.parametrize("name, alpha", [("atan", 2.0), ("atan", 5.0), ("rational", 10.0), ("rational", 1.0),
                                         ("sigmoid", 4.0)])
def test_derivative_equals_autograd_of_primitive(name, alpha):
    s = get_surrogate(name, alpha)
    u = U.clone().requires_grad_()
    PRIMITIVES[name](u, alpha).sum().backward()
    torch.testing.assert_close(s.derivative(U), u.grad, **TOL[torch.float64])


def test_spec_formulas():
    """ATan(2): 1/(1 + (πu)²); rational(α): peak 1 at 0; ATan(α) peak α/2."""
    torch.testing.assert_close(ATan(2.0).derivative(U), 1 / (1 + (math.pi * U) ** 2), **TOL[torch.float64])
    assert Rational(10.0).derivative(torch.zeros(1, dtype=torch.float64)).item() == 1.0
    assert ATan(5.0).derivative(torch.zeros(1, dtype=torch.float64)).item() == 2.5
    assert Sigmoid(4.0).derivative(torch.zeros(1, dtype=torch.float64)).item() == 1.0


@pytest.mark.parametrize("surrogate", [ATan(2.0), Rational(10.0), Sigmoid(4.0)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_is_heaviside_and_backward_is_surrogate(surrogate, dtype):
    u = torch.cat([U.to(dtype), torch.tensor([0.0, -0.0, 1e-30, -1e-30], dtype=dtype)]).requires_grad_()
    s = surrogate(u)
    assert s.dtype == dtype
    assert set(s.detach().unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(s.detach(), (u.detach() >= 0).to(dtype))
    assert s[-4].item() == 1.0 and s[-3].item() == 1.0   # Θ(0) = Θ(−0) = 1
    assert s[-2].item() == 1.0 and s[-1].item() == 0.0
    g = torch.randn_like(u)
    s.backward(g)
    torch.testing.assert_close(u.grad, g * surrogate.derivative(u.detach()), **TOL[dtype])


def test_heaviside_keeps_dtype_and_shape():
    u = torch.tensor([[-1.0, 0.0], [2.0, -0.5]], dtype=torch.float64)
    s = heaviside(u)
    assert s.dtype == torch.float64 and s.tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_rational_area_is_pi_over_sqrt_alpha():
    u = torch.linspace(-2000.0, 2000.0, 4_000_001, dtype=torch.float64)
    area = torch.trapezoid(Rational(10.0).derivative(u), u).item()
    assert abs(area - math.pi / math.sqrt(10.0)) < 1e-3


def test_get_surrogate_names_alpha_and_errors():
    assert get_surrogate("ATan") == ATan(2.0)
    assert get_surrogate("rational", 3) == Rational(3.0)
    assert get_surrogate(Sigmoid(4.0)) == Sigmoid(4.0)
    assert get_surrogate(Sigmoid(4.0), 4.0) == Sigmoid(4.0)
    with pytest.raises(ValueError, match=r"expected one of \['atan', 'rational', 'sigmoid'\].*found 'relu'"):
        get_surrogate("relu")
    with pytest.raises(ValueError, match="give one"):
        get_surrogate(ATan(2.0), alpha=3.0)
