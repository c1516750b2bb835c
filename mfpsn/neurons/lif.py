"""LIF and PLIF neurons: the serial baselines (spec §4.1, §4.2).

The maths lives in :mod:`mfpsn.functional.lif`; see its docstring for the charge, fire and reset equations.
``forward`` and ``run`` are stateless: every call starts from ``V[−1] = 0`` (unlike SpikingJelly, whose
multi-step call continues from the stored state). The single-step mode ``step(x_t)`` keeps ``V`` between
calls until ``reset()``; ``layer.step_mode = "s"`` makes ``forward`` that step (SpikingJelly's switch). Other
differences from SpikingJelly and snnTorch: :mod:`mfpsn.neurons.base`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from mfpsn.backends import BACKENDS, LIF_BACKENDS, lif_spikes
from mfpsn.backends.dispatch import check_lif_options
from mfpsn.functional.lif import lif_multistep, lif_step
from mfpsn.functional.surrogate import Surrogate, get_surrogate
from mfpsn.neurons.base import NeuronTrace, StepModeMixin, check_sequence, check_step_input

__all__ = ["LIF", "PLIF"]

LIF_BACKENDS_LEARNABLE = BACKENDS.names_for("lif", "learnable_rate")


def _check_common(tau_name: str, tau: float, v_th: float, v_reset: float | None, who: str) -> None:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not tau > 1.0:
        raise ValueError(f"{who}: expected {tau_name} > 1 (a number), found {tau!r}")
    if isinstance(v_th, bool) or not isinstance(v_th, (int, float)) or not math.isfinite(v_th):
        raise ValueError(f"{who}: expected a finite number v_th, found {v_th!r}")
    if v_reset is not None and (isinstance(v_reset, bool) or not isinstance(v_reset, (int, float))):
        raise ValueError(f"{who}: expected v_reset to be a number or None (soft reset), found {v_reset!r}")


class _LIFBase(StepModeMixin, nn.Module):
    """Shared state handling and the loop; subclasses provide ``rate()`` (= 1/τ)."""

    def __init__(self, v_th: float, v_reset: float | None, detach_reset: bool,
                 surrogate: str | Surrogate, alpha: float | None, decay_input: bool) -> None:
        super().__init__()
        self.v_th = float(v_th)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.detach_reset = bool(detach_reset)
        self.surrogate = get_surrogate(surrogate, alpha)
        self.decay_input = bool(decay_input)
        self.v: torch.Tensor | None = None

    def rate(self):  # pragma: no cover - abstract
        raise NotImplementedError

    learnable_rate = False  # PLIF: 1/τ is a parameter (backends need the "learnable_rate" feature)

    def _check_backend(self, backend: str) -> str:
        check_lif_options(backend, self.surrogate, self.decay_input, self.learnable_rate, type(self).__name__)
        return backend

    def _spikes(self, x: torch.Tensor) -> torch.Tensor:
        """The time loop on ``self.backend`` (:func:`mfpsn.backends.lif_spikes`), spikes only."""
        check_sequence(x, type(self).__name__)
        return lif_spikes(x, self.backend, self.rate(), self.v_th, self.v_reset, self.detach_reset, self.surrogate,
                          self.decay_input, who=type(self).__name__)

    def _loop(self, x: torch.Tensor) -> NeuronTrace:
        check_sequence(x, type(self).__name__)
        spikes, h, _ = lif_multistep(x, self.rate(), self.v_th, self.v_reset, self.detach_reset,
                                     self.surrogate, self.decay_input)
        return NeuronTrace(spikes, h, torch.tensor(self.v_th, dtype=x.dtype, device=x.device))

    def run(self, x: torch.Tensor) -> NeuronTrace:
        """x: [T, B, C, *] → NeuronTrace(spikes, h, v_th): h the charged potential before firing at each
        step (before the reset), v_th a 0-d tensor; spikes == (h >= v_th). Always the Python loop."""
        return self._loop(x)

    def step(self, x_t: torch.Tensor) -> torch.Tensor:
        """Single-step mode: x_t: [B, C, *] → s_t [B, C, *]; V persists between calls until :meth:`reset`."""
        check_step_input(x_t, type(self).__name__)
        if self.v is None:
            self.v = torch.zeros_like(x_t)
        elif self.v.shape != x_t.shape:
            raise ValueError(f"{type(self).__name__}.step: expected x_t of shape {tuple(self.v.shape)} "
                             f"(the stream's shape; call reset() to start a new one), found {tuple(x_t.shape)}")
        s, _, self.v = lif_step(x_t, self.v, self.rate(), self.v_th, self.v_reset, self.detach_reset,
                                self.surrogate, self.decay_input)
        return s

    def reset(self) -> None:
        """Forget the single-step membrane (the next ``step`` starts from V = 0)."""
        self.v = None

    def extra_repr(self) -> str:
        return (f"v_th={self.v_th}, v_reset={self.v_reset}, detach_reset={self.detach_reset}, "
                f"surrogate={self.surrogate}, decay_input={self.decay_input}")


class LIF(_LIFBase):
    """Leaky integrate-and-fire neuron with a fixed time constant τ, a plain step loop over t.

    .. math::
        H[t] = V[t-1] + \\tfrac{1}{\\tau}\\bigl(X[t] - (V[t-1] - V_{reset})\\bigr), \\quad
        S[t] = \\Theta(H[t] - V_{th}), \\quad
        V[t] = H[t](1 - S_r[t]) + V_{reset} S_r[t] \\;\\text{(hard)} \\;\\text{or}\\; H[t] - V_{th} S_r[t]
        \\;\\text{(soft)}

    (``decay_input=False``: H[t] = V[t−1] − (V[t−1] − V_reset)/τ + X[t].)

    Args:
        tau: τ > 1. v_th: threshold V_th. v_reset: hard-reset value, ``None`` = soft reset (subtract V_th).
        detach_reset: use S.detach() in the reset. surrogate, alpha: spike surrogate (``"atan"`` α = 2 default).
        decay_input: SpikingJelly's ``decay_input``.
        backend: a record of :mod:`mfpsn.backends.registry` implementing ``"lif"`` (:attr:`supported_backends`):
            ``"loop"`` (the serial Python loop without a graph and a hand-written BPTT backward,
            :func:`mfpsn.functional.lif.lif_multistep`; the baseline), ``"fused"`` (the whole loop in one C++
            pass on the CPU, forward and BPTT backward, :mod:`mfpsn.functional.lif_cpu`; float32/float64, the
            ATan, Sigmoid and Rational surrogates; built once per machine on first use, RuntimeError without a
            C++ compiler) or ``"triton"`` (``mfpsn.kernels.fused_lif``: the time loop inside one kernel, forward
            and BPTT backward; needs Triton and CUDA, or ``TRITON_INTERPRET=1``; only ``decay_input=True``), or
            ``"auto"`` (the first one-pass kernel that can run the input, built on first need, else the loop).
            ``run`` and ``step`` always use the loop.

    Input ``x: [T, B, C, *]`` float → spikes of the same shape and dtype.
    """

    supported_backends = LIF_BACKENDS + ("auto",)

    def __init__(self, tau: float = 2.0, v_th: float = 1.0, v_reset: float | None = 0.0,
                 detach_reset: bool = True, surrogate: str | Surrogate = "atan", alpha: float | None = None,
                 decay_input: bool = True, backend: str = "loop") -> None:
        _check_common("tau", tau, v_th, v_reset, "LIF")
        super().__init__(v_th, v_reset, detach_reset, surrogate, alpha, decay_input)
        self.backend = self._check_backend(backend)
        self.tau = float(tau)

    def rate(self) -> float:
        return 1.0 / self.tau

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [T, B, C, *] float → spikes [T, B, C, *] (exactly 0 or 1); ``step_mode="s"``: :meth:`step`."""
        if self.step_mode == "s":
            return self.step(x)
        return self._spikes(x)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, " + super().extra_repr() + f", backend={self.backend!r}"


class PLIF(_LIFBase):
    """Parametric LIF: 1/τ = sigmoid(w) with one learnable scalar w per layer (SpikingJelly
    ``ParametricLIFNode``), initialised w = −ln(τ0 − 1) so that 1/τ = 1/τ0.

    .. math::
        H[t] = V[t-1] + \\operatorname{sigmoid}(w)\\bigl(X[t] - (V[t-1] - V_{reset})\\bigr)

    then fire and reset as :class:`LIF`. ``backend``: ``"loop"`` (default), ``"fused"`` (the C++ CPU loop,
    gradient to w included; see :class:`LIF`) or ``"auto"``: the backends with the ``"learnable_rate"``
    feature (:attr:`supported_backends`). Input ``x: [T, B, C, *]`` float.
    """

    supported_backends = LIF_BACKENDS_LEARNABLE + ("auto",)
    learnable_rate = True

    def __init__(self, tau0: float = 2.0, v_th: float = 1.0, v_reset: float | None = 0.0,
                 detach_reset: bool = True, surrogate: str | Surrogate = "atan", alpha: float | None = None,
                 decay_input: bool = True, backend: str = "loop") -> None:
        _check_common("tau0", tau0, v_th, v_reset, "PLIF")
        super().__init__(v_th, v_reset, detach_reset, surrogate, alpha, decay_input)
        self.backend = self._check_backend(backend)
        self.w = nn.Parameter(torch.tensor(-math.log(float(tau0) - 1.0)))

    def rate(self) -> torch.Tensor:
        return torch.sigmoid(self.w)

    @property
    def tau(self) -> float:
        """The current time constant 1 / sigmoid(w)."""
        return float(1.0 / torch.sigmoid(self.w.detach()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [T, B, C, *] float → spikes [T, B, C, *] (exactly 0 or 1); ``step_mode="s"``: :meth:`step`."""
        if self.step_mode == "s":
            return self.step(x)
        return self._spikes(x)
