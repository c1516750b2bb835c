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

Other libraries' surrogates: any callable ``f(u) -> spikes`` with autograd (SpikingJelly's
``surrogate.ATan()`` module, snnTorch's ``surrogate.atan()`` closure, a ``torch.autograd.Function.apply``) is
accepted by :func:`get_surrogate` as a :class:`CallableSurrogate`: spikes are ``f(u)`` cast to u's dtype, and
``derivative(u)`` is the gradient autograd gives through ``f``. Semantics differ where the library's do:
SpikingJelly's ``heaviside`` fires at ``u >= 0`` like ours, snnTorch's fires at ``u > 0`` (so
``spikes == (h >= v_th)`` of :class:`mfpsn.neurons.NeuronTrace` can fail exactly at ``h == v_th``). The fused
kernels (``backend="triton"``, the fused LIF) implement the three built-in shapes only and refuse a callable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Union

import torch

__all__ = ["Surrogate", "ATan", "Rational", "Sigmoid", "CallableSurrogate", "get_surrogate", "SURROGATES",
           "heaviside"]


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


@dataclass(frozen=True)
class CallableSurrogate(Surrogate):
    """A foreign spike function ``fn(u) -> spikes`` (SpikingJelly, snnTorch, your own) in the Surrogate interface.

    ``__call__(u)`` = ``fn(u)`` cast to u's dtype (u: any shape → same shape, 0 or 1 as ``fn`` decides);
    ``derivative(u)`` = d Σ fn(u) / du by autograd (elementwise functions only). ``alpha`` is NaN: the shape
    parameter lives inside ``fn``.
    """

    alpha: float = float("nan")
    fn: Callable[[torch.Tensor], torch.Tensor] = field(default=None, compare=True)
    name = "callable"

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        s = self.fn(u)
        if not isinstance(s, torch.Tensor) or s.shape != u.shape:
            raise ValueError(f"surrogate {self.fn!r}: expected a tensor of the input's shape {tuple(u.shape)}, "
                             f"found {type(s).__name__} {tuple(getattr(s, 'shape', ()))}")
        return s.to(u.dtype)

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            v = u.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self(v).sum(), v)
        return grad

    def __repr__(self) -> str:
        return f"CallableSurrogate({self.fn!r})"


def _probe(fn: Callable[[torch.Tensor], Any]) -> None:
    """Refuse a callable that does not map a tensor to {0, 1} spikes with a gradient."""
    u = torch.tensor([-1.0, -0.25, 0.25, 1.0], requires_grad=True)
    try:
        s = fn(u)
        ok = isinstance(s, torch.Tensor) and s.shape == u.shape and bool(((s == 0) | (s == 1)).all())
        grad = torch.autograd.grad(s.sum(), u)[0] if ok and s.requires_grad else None
    except Exception as exc:  # the foreign function's own error, with ours around it
        raise ValueError(f"surrogate: the callable {fn!r} failed on a test tensor: {exc}") from exc
    if not ok or grad is None or not torch.isfinite(grad).all():
        raise ValueError(f"surrogate: expected a callable mapping a tensor to spikes in {{0, 1}} of the same "
                         f"shape with a surrogate gradient, found {fn!r} (output {s!r})")


SURROGATES: dict[str, type[Surrogate]] = {"atan": ATan, "rational": Rational, "sigmoid": Sigmoid}


def get_surrogate(surrogate: Union[str, Surrogate, Callable[[torch.Tensor], torch.Tensor]],
                  alpha: float | None = None) -> Surrogate:
    """Resolve ``"atan" | "rational" | "sigmoid"`` (with an optional α), pass a Surrogate through, or wrap any
    other callable spike function (SpikingJelly's / snnTorch's surrogate objects) as a :class:`CallableSurrogate`
    after checking it on a small tensor."""
    if isinstance(surrogate, Surrogate):
        if alpha is not None and alpha != surrogate.alpha:
            raise ValueError(f"surrogate: got both {surrogate!r} and alpha={alpha}; give one")
        return surrogate
    if callable(surrogate) and not isinstance(surrogate, (str, type)):
        if alpha is not None:
            raise ValueError(f"surrogate: alpha={alpha} applies to the named surrogates only; set it on "
                             f"{surrogate!r} itself")
        _probe(surrogate)
        return CallableSurrogate(fn=surrogate)
    if not isinstance(surrogate, str) or surrogate.lower() not in SURROGATES:
        raise ValueError(f"surrogate: expected one of {sorted(SURROGATES)}, a Surrogate or a callable spike "
                         f"function, found {surrogate!r}")
    cls = SURROGATES[surrogate.lower()]
    return cls() if alpha is None else cls(alpha=float(alpha))
