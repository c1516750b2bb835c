"""The parallel spiking neuron family: PSN, masked PSN, sliding PSN (spec §4.3–§4.5).

All compute ``S = Θ(H − θ)`` with the threshold subtracted; SpikingJelly stores ``bias = −θ`` (its default
bias −1 is θ = +1 here): negate the bias when loading its weights. ``step_mode="s"`` (MaskedPSN once λ ≥ 1,
SlidingPSN) makes ``forward`` the single step; PSN has none. Other differences from SpikingJelly (stateless
multi-step forward, Θ(0) = 1): :mod:`mfpsn.neurons.base`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from mfpsn.backends import FILTER_BACKENDS, temporal_filter
from mfpsn.functional.filter import lags
from mfpsn.functional.surrogate import Surrogate, get_surrogate
from mfpsn._checks import check_choice, check_positive_int
from mfpsn.neurons.base import (NeuronTrace, StepModeMixin, StreamBuffer, check_sequence, check_step_input,
                               threshold_view)

__all__ = ["PSN", "MaskedPSN", "SlidingPSN"]


def _time_mix(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """H = W X with X viewed as [T, N]: weight [T, T], x [T, B, C, *] → [T, B, C, *]."""
    return (weight.to(x.dtype) @ x.reshape(x.shape[0], -1)).reshape(x.shape)


class PSN(StepModeMixin, nn.Module):
    """Parallel spiking neuron (SpikingJelly ``PSN``): a full T×T mixing of time steps.

    .. math::
        H = W X, \\quad W \\in \\mathbb{R}^{T \\times T},\\; X \\text{ viewed as } [T, N]; \\qquad
        S[t] = \\Theta(H[t] - \\theta[t])

    W is initialised kaiming-uniform (a = √5, i.e. U(−1/√T, 1/√T)) and θ = +1 at every step. Not causal;
    fixed T. Input ``x: [T, B, C, *]`` float with exactly T steps (ValueError otherwise).

    Parameters: ``weight`` [T, T], ``threshold`` θ [T].
    """

    def __init__(self, T: int, surrogate: str | Surrogate = "atan", alpha: float | None = None,
                 step_mode: str = "m") -> None:
        super().__init__()
        self.T = check_positive_int(T, "T", "PSN")
        self.surrogate = get_surrogate(surrogate, alpha)
        self.weight = nn.Parameter(torch.empty(self.T, self.T))
        self.threshold = nn.Parameter(torch.ones(self.T))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.step_mode = step_mode

    def effective_weight(self) -> torch.Tensor:
        """The [T, T] matrix applied to X."""
        return self.weight

    def run(self, x: torch.Tensor) -> NeuronTrace:
        """x: [T, B, C, *] → NeuronTrace(spikes, h, v_th [T, 1, 1, ...])."""
        check_sequence(x, type(self).__name__, steps=self.T)
        h = _time_mix(self.effective_weight(), x)
        v_th = threshold_view(self.threshold.to(x.dtype), x.dim(), dim=0)
        return NeuronTrace(self.surrogate(h - v_th), h, v_th)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [T, B, C, *] float → spikes [T, B, C, *] (``step_mode="s"``: x_t [B, C, *] → :meth:`step`)."""
        if self.step_mode == "s":
            return self.step(x)
        return self.run(x).spikes

    def extra_repr(self) -> str:
        return f"T={self.T}, surrogate={self.surrogate}"


class MaskedPSN(PSN):
    """Masked PSN (SpikingJelly ``MaskedPSN``): the PSN matrix masked to a causal band of width k, with the
    mask faded in by λ during training.

    .. math::
        M_k[i, j] = [\\, j \\le i \\le j + k - 1 \\,], \\quad
        M_k(\\lambda) = \\lambda M_k + (1 - \\lambda) J, \\quad
        H = (W \\odot M_k(\\lambda))\\, X, \\quad S[t] = \\Theta(H[t] - \\theta[t])

    (J all ones). λ anneals once per epoch with :meth:`set_lambda`: λ = min(1, 8·epoch / (epochs − 1))
    (Parallel-Spiking-Neuron ``train_secf10.py``). Once λ ≥ 1 the neuron is causal with order k and the
    single-step mode :meth:`step` works (at most T steps per :meth:`reset`).

    Initialisation and the short-budget failure (a property of the published method, not a bug): W is
    initialised like PSN's (SpikingJelly: kaiming-uniform, U(−1/√T, 1/√T), bias −1 = θ 1), so once λ = 1 row t
    keeps only min(t + 1, k) of its T inputs and, averaged over the init, E[H[t]²] = min(t + 1, k)/(3T)·E[X²]
    instead of E[X²]/3 (k = 2, T = 8: a quarter of the mean square, half the standard deviation). The λ
    schedule masks after 1/8 of the epochs whatever their number. Measured on ``seq-digits`` (SeqImageNet,
    7 neuron layers, k = 2, T = 8; 15 epochs: λ = 0, 0.571, then 1 from the third epoch): at init, λ = 1
    gives spike rates 0.0–0.3 % per layer against 1.0–4.4 % for λ = 0 (= PSN), and the trained seed-0 net
    ends with conv0/conv1 firing 0.03 % / 0.4 % (PSN: 8.6 % / 10.9 %) and 15.6 % test accuracy (PSN 89.7 %;
    PSN itself only leaves chance in its third epoch, after the dense phase is over). The same
    configuration with 60 epochs (λ = 1 from epoch 8) reaches 93.3 / 84.1 / 86.9 % for seeds 0 / 1 / 2,
    so the mask, its causal orientation and the gradients are not at fault (tests compare them with the
    index form); training masked from the start (λ = 1 throughout, 15 epochs) stays at 17.5 % with the
    published init and reaches 53.2 / 40.9 / 49.6 % with W scaled by √(T/k). The published init is kept.

    Args:
        order: k >= 1. T: time steps. lambda_init: λ at construction (a buffer, saved in the state dict).
    """

    def __init__(self, order: int, T: int, lambda_init: float = 0.0, surrogate: str | Surrogate = "atan",
                 alpha: float | None = None, step_mode: str = "m") -> None:
        super().__init__(T, surrogate, alpha, step_mode)
        self.order = check_positive_int(order, "order k", "MaskedPSN")
        ones = torch.ones(self.T, self.T)
        self.register_buffer("mask", torch.tril(ones) * torch.triu(ones, -(self.order - 1)))
        self.register_buffer("lambda_", torch.tensor(float(lambda_init)))
        self._queue: list[torch.Tensor] = []
        self._t = 0

    def set_lambda(self, epoch: int, epochs: int) -> float:
        """λ = min(1, 8·epoch / (epochs − 1)) (λ = 1 when epochs == 1); returns λ."""
        check_positive_int(epochs, "epochs", "MaskedPSN.set_lambda")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch < epochs:
            raise ValueError(f"MaskedPSN.set_lambda: expected an int epoch in [0, {epochs}), found {epoch!r}")
        lam = 1.0 if epochs == 1 else min(1.0, 8.0 * epoch / (epochs - 1))
        self.lambda_.fill_(lam)
        return lam

    def effective_weight(self) -> torch.Tensor:
        """W ⊙ M_k(λ), [T, T]."""
        lam = self.lambda_.to(self.weight.dtype)
        if float(lam) >= 1.0:
            return self.weight * self.mask
        return self.weight * (lam * self.mask + (1.0 - lam))

    def step(self, x_t: torch.Tensor) -> torch.Tensor:
        """Single step (only once λ ≥ 1): x_t: [B, C, *] → s_t; h_t = Σ_{j=t−k+1}^{t} (W ⊙ M_k)[t, j] x_j."""
        if float(self.lambda_) < 1.0:
            raise RuntimeError(f"MaskedPSN.step: the single-step mode needs lambda_ >= 1 (a causal mask), "
                               f"found lambda_ = {float(self.lambda_)}")
        check_step_input(x_t, "MaskedPSN.step")
        if self._t >= self.T:
            raise RuntimeError(f"MaskedPSN.step: already ran T = {self.T} steps; call reset() to start again")
        if self._queue and self._queue[-1].shape != x_t.shape:
            raise ValueError(f"MaskedPSN.step: expected x_t of shape {tuple(self._queue[-1].shape)} (the stream's; "
                             f"call reset() to start a new one), found {tuple(x_t.shape)}")
        self._queue = (self._queue + [x_t])[-self.order:]
        w = self.effective_weight()[self._t].to(x_t.dtype)                # [T]
        first = self._t - len(self._queue) + 1
        h = sum(w[first + m] * q for m, q in enumerate(self._queue))
        s = self.surrogate(h - self.threshold[self._t].to(x_t.dtype))
        self._t += 1
        return s

    def reset(self) -> None:
        """Forget the single-step inputs and restart at t = 0."""
        self._queue = []
        self._t = 0

    def extra_repr(self) -> str:
        return f"order={self.order}, " + super().extra_repr() + f", lambda_={float(self.lambda_)}"


#: SlidingPSN's ``backend`` values: SpikingJelly's banded T×T matrix, or any temporal-filter backend
SLIDING_BACKENDS = ("gemm",) + FILTER_BACKENDS


class SlidingPSN(StepModeMixin, nn.Module):
    """Sliding PSN (SpikingJelly ``SlidingPSN``): one weight vector and one threshold shared by every neuron.

    .. math::
        H[t] = \\sum_{i=0}^{k-1} W_i\\, X[t - k + 1 + i] \\quad (X[t'] = 0,\\ t' < 0), \\qquad
        S[t] = \\Theta(H[t] - \\theta)

    ``exp_init=True``: W_i = 2^−(k−1−i), i.e. (…, 1/4, 1/2, 1); otherwise kaiming-uniform (a = √5) on a
    [1, k] tensor, U(−1/√k, 1/√k). θ = 1 (SpikingJelly bias −1). Causal; any T. It equals a float MFPSN with
    d = 1, identical tap rows, one shared θ and no BatchNorm. Single-step mode: :meth:`step`, :meth:`reset`.

    Args:
        order: k >= 1.
        backend: ``"gemm"`` (SpikingJelly's: a banded T×T matrix built from W, then one matmul, O(T²)) or a
            temporal-filter backend (:data:`mfpsn.backends.FILTER_BACKENDS`; default ``"auto"``), which runs
            ``temporal_filter`` with the shared row broadcast to every channel, O(T·k).

    Parameters: ``weight`` [k], ``threshold`` θ (0-d). Input ``x: [T, B, C, *]`` float.
    """

    #: the values the ``backend`` knob takes
    supported_backends = SLIDING_BACKENDS

    def __init__(self, order: int, exp_init: bool = True, surrogate: str | Surrogate = "atan",
                 alpha: float | None = None, backend: str = "auto",
                 step_mode: str = "m") -> None:
        super().__init__()
        self.order = check_positive_int(order, "order k", "SlidingPSN")
        self.step_mode = step_mode
        self.backend = check_choice(backend, "backend", SLIDING_BACKENDS, "SlidingPSN")
        self.surrogate = get_surrogate(surrogate, alpha)
        if exp_init:
            weight = torch.exp2(-torch.arange(self.order - 1, -1, -1, dtype=torch.float32))
        else:
            weight = torch.empty(1, self.order)
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
            weight = weight[0]
        self.weight = nn.Parameter(weight)
        self.threshold = nn.Parameter(torch.tensor(1.0))
        self._stream = StreamBuffer()

    def gemm_weight(self, T: int) -> torch.Tensor:
        """The banded [T, T] matrix A with A[t, t − (k−1−i)] = W_i (entries before column 0 dropped)."""
        A = self.weight.new_zeros(T, T)
        for i, lag in enumerate(lags(self.order, 1)):
            if lag < T:
                A = A + self.weight[i] * torch.diag(self.weight.new_ones(T - lag), -lag)
        return A

    def run(self, x: torch.Tensor) -> NeuronTrace:
        """x: [T, B, C, *] → NeuronTrace(spikes, h, v_th 0-d)."""
        check_sequence(x, "SlidingPSN")
        if self.backend == "gemm":
            h = _time_mix(self.gemm_weight(x.shape[0]), x)
        else:
            taps = self.weight.to(x.dtype).expand(x.shape[2], self.order).contiguous()
            h = temporal_filter(x, taps, 1, self.backend)
        v_th = self.threshold.to(x.dtype)
        return NeuronTrace(self.surrogate(h - v_th), h, v_th)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [T, B, C, *] float → spikes [T, B, C, *] (``step_mode="s"``: x_t [B, C, *] → :meth:`step`)."""
        if self.step_mode == "s":
            return self.step(x)
        return self.run(x).spikes

    def step(self, x_t: torch.Tensor) -> torch.Tensor:
        """Single step (inference, no gradient): x_t: [B, C, *] → s_t, with a buffer of the last k inputs
        (:func:`mfpsn.functional.mfpsn.mfpsn_stream_step` with the shared row and d = 1)."""
        check_step_input(x_t, "SlidingPSN.step")
        C = x_t.shape[1]
        return self._stream.step(x_t, self.weight.expand(C, self.order), self.threshold.expand(C), 1,
                                 "SlidingPSN.step")

    def reset(self) -> None:
        """Forget the single-step inputs."""
        self._stream.reset()

    def extra_repr(self) -> str:
        return (f"order={self.order}, backend={self.backend!r}, surrogate={self.surrogate}, "
                f"step_mode={self.step_mode!r}")
