"""Heaviside spike functions with surrogate gradients.

Forward: ``S = Θ(u)`` with ``Θ(u) = 1 if u >= 0 else 0`` (so ``Θ(0) = 1``), exactly 0 or 1 in the dtype of
``u``. Backward: the incoming gradient times ``σ'(u)``.

======================  ================================================  ==================================
name                    σ'(u)                                             used by the paper for
======================  ================================================  ==================================
``ATan(alpha)``         (α/2) / (1 + (π/2 · α · u)²)                      sequential CIFAR (α = 2), SHD (α = 5)
``Rational(alpha)``     1 / (1 + α u²)                                    DVS-Lip (α = 10)
``Sigmoid(alpha)``      α · s(αu) · (1 − s(αu))                           not used (SpikingJelly default α = 4)
======================  ================================================  ==================================

References: SpikingJelly ``surrogate.ATan`` / ``surrogate.Sigmoid``; SpikGRU-DVSLip ``SpikeAct`` (rational).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import torch

__all__ = ["Surrogate", "ATan", "Rational", "Sigmoid", "get_surrogate", "SURROGATES", "heaviside"]


def heaviside(u: torch.Tensor) -> torch.Tensor:
    """Θ(u) = 1 where u >= 0 else 0, in the dtype of ``u`` (no gradient)."""
    return (u >= 0).to(u.dtype)


class _SpikeFunction(torch.autograd.Function):
    """S = Θ(u) forward; dL/du = dL/dS · surrogate.derivative(u) backward."""

    @staticmethod
    def forward(u: torch.Tensor, surrogate: "Surrogate") -> torch.Tensor:
        return heaviside(u)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        u, surrogate = inputs
        ctx.save_for_backward(u)
        ctx.surrogate = surrogate

    @staticmethod
    def backward(ctx, grad_s: torch.Tensor):
        (u,) = ctx.saved_tensors
        return grad_s * ctx.surrogate.derivative(u), None


@dataclass(frozen=True)
class Surrogate:
    """Base class: call it on ``u = H − θ`` to get spikes with a surrogate gradient."""

    alpha: float

    name = "base"

    def derivative(self, u: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        """u: any shape → spikes of the same shape and dtype, exactly 0 or 1."""
        return _SpikeFunction.apply(u, self)


@dataclass(frozen=True)
class ATan(Surrogate):
    """σ'(u) = (α/2) / (1 + (π/2 · α · u)²); primitive arctan(π/2·α·u)/π + 1/2."""

    alpha: float = 2.0
    name = "atan"

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        return (self.alpha / 2) / (1 + (math.pi / 2 * self.alpha * u) ** 2)


@dataclass(frozen=True)
class Rational(Surrogate):
    """σ'(u) = 1 / (1 + α u²); peak 1, area π/√α (SpikGRU-DVSLip ``SpikeAct``)."""

    alpha: float = 10.0
    name = "rational"

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        return 1 / (1 + self.alpha * u * u)


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """σ'(u) = α · s(αu) · (1 − s(αu)) with s the logistic function."""

    alpha: float = 4.0
    name = "sigmoid"

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self.alpha * u)
        return self.alpha * s * (1 - s)


SURROGATES: dict[str, type[Surrogate]] = {"atan": ATan, "rational": Rational, "sigmoid": Sigmoid}


def get_surrogate(surrogate: Union[str, Surrogate], alpha: float | None = None) -> Surrogate:
    """Resolve ``"atan" | "rational" | "sigmoid"`` (with an optional α) or pass a Surrogate through."""
    if isinstance(surrogate, Surrogate):
        if alpha is not None and alpha != surrogate.alpha:
            raise ValueError(f"surrogate: got both {surrogate!r} and alpha={alpha}; give one")
        return surrogate
    if not isinstance(surrogate, str) or surrogate.lower() not in SURROGATES:
        raise ValueError(f"surrogate: expected one of {sorted(SURROGATES)} or a Surrogate, found {surrogate!r}")
    cls = SURROGATES[surrogate.lower()]
    return cls() if alpha is None else cls(alpha=float(alpha))
