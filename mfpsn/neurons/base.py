"""What every neuron shares: the :class:`NeuronTrace` returned by ``run``, the input checks, the streaming
buffer and the ``step_mode`` switch.

Calling convention (``docs/architecture.md``, neuron contract): input ``x: [T, B, C, *]`` floating point,
time-first, channel dimension 2, ``*`` = spatial dims (H, W, a single length, or nothing); ``forward(x)``
returns spikes of the same shape and dtype, exactly 0 or 1; ``run(x)`` returns a :class:`NeuronTrace`.
Every neuron computes ``S = Θ(H − θ)`` (the threshold is subtracted).

Step modes (:class:`StepModeMixin`, SpikingJelly's names): ``step_mode="m"`` (default) — ``forward(x)`` takes
the whole sequence ``[T, B, C, *]``; ``step_mode="s"`` — ``forward(x_t)`` takes one step ``[B, C, *]`` and is
``step(x_t)``, keeping state until ``reset()``. PSN has no single-step mode (its T×T weight mixes all steps).

Where the semantics differ from SpikingJelly and snnTorch:

- **State and reset()**: the multi-step ``forward`` is stateless, every call starts from ``V[−1] = 0`` (empty
  buffers). SpikingJelly's multi-step call continues from the stored ``v`` until ``functional.reset_net``;
  snnTorch's ``Leaky`` continues from the ``mem`` it is given (or keeps with ``init_hidden``). ``reset()`` here
  clears only single-step state (``step`` / ``step_mode="s"``).
- **Initial membrane**: 0 for LIF/PLIF (SpikingJelly starts at ``v_reset``, 0 by default; snnTorch at 0); the
  filters of MFPSN and the PSN family see zeros before t = 0.
- **Threshold**: a spike when ``H >= v_th`` (Θ(0) = 1), as SpikingJelly's ``heaviside``; snnTorch fires when
  ``mem > threshold``. SpikingJelly's PSN family stores ``bias = −θ``: negate it when loading its weights.
- **Reset (LIF)**: applied in the same step after firing (hard to ``v_reset``, or soft with ``v_reset=None``:
  subtract ``v_th``), ``detach_reset=True`` by default (SpikingJelly: False). snnTorch's ``Leaky`` subtracts at
  the next step from the previous spike (``reset_delay``); its ``mem = β·mem + x`` is our
  ``decay_input=False`` with ``β = 1 − 1/τ``.
- **Default surrogate**: ATan α = 2 (SpikingJelly: Sigmoid α = 4; snnTorch: ATan α = 2). Their surrogate
  objects are accepted as they are (:func:`mfpsn.functional.surrogate.get_surrogate`).
- **torch.fx**: the input checks pass ``torch.fx.Proxy`` inputs through unchecked (shapes are symbolic while
  tracing); :class:`~mfpsn.neurons.mfpsn.MFPSN` traces in eval mode (see its docstring).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.fx

from mfpsn._checks import channel_view

__all__ = ["NeuronTrace", "StreamBuffer", "StepModeMixin", "STEP_MODES", "is_tracing", "check_sequence",
           "check_step_input", "threshold_view"]

STEP_MODES = ("m", "s")


def is_tracing(x) -> bool:
    """True when ``x`` is a ``torch.fx.Proxy`` (symbolic tracing: no values, no concrete shapes)."""
    return isinstance(x, torch.fx.Proxy)


class StepModeMixin:
    """SpikingJelly-style ``step_mode``: ``"m"`` multi-step ``forward(x: [T, B, C, *])`` (default), ``"s"``
    single-step ``forward(x_t: [B, C, *])`` = ``self.step(x_t)`` with state kept until ``reset()``.

    A neuron mixes this in before ``nn.Module`` and starts its ``forward`` with
    ``if self.step_mode == "s": return self.step(x)``.
    """

    _step_mode = "m"

    @property
    def step_mode(self) -> str:
        """``"m"`` (multi-step, the default) or ``"s"`` (single-step)."""
        return self._step_mode

    @step_mode.setter
    def step_mode(self, mode: str) -> None:
        who = type(self).__name__
        if mode not in STEP_MODES:
            raise ValueError(f"{who}: expected step_mode in {STEP_MODES}, found {mode!r}")
        if mode == "s" and not callable(getattr(self, "step", None)):
            raise ValueError(f"{who}: has no single-step mode (step_mode='s'); its output at t depends on the "
                             f"whole sequence")
        self._step_mode = mode


class NeuronTrace(NamedTuple):
    """Result of ``neuron.run(x)``.

    Attributes:
        spikes: [T, B, C, *], exactly 0 or 1, dtype of the input.
        h: [T, B, C, *], the membrane potential before the threshold.
        v_th: threshold broadcastable against ``h`` (a per-channel ``[C]`` threshold comes as
            ``[1, 1, C, 1, ...]``, a per-step ``[T]`` threshold as ``[T, 1, 1, ...]``, a scalar as a 0-d
            tensor), with ``spikes == (h >= v_th)``.
    """

    spikes: torch.Tensor
    h: torch.Tensor
    v_th: torch.Tensor


class StreamBuffer:
    """Streaming state of a causal-filter neuron: a ring of the last L = (k − 1)·d + 1 inputs and the step index.

    The length follows from the taps and dilation of each call, so nothing is stored twice. The first step
    allocates the ring (zeros stand for the inputs before t = 0); later steps must keep its shape and dtype
    until :meth:`reset`. The maths is :func:`mfpsn.functional.mfpsn.mfpsn_stream_step`.
    """

    def __init__(self) -> None:
        self.buffer: torch.Tensor | None = None  # [L, B, C, *]
        self.t = 0

    def step(self, x_t: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int, who: str) -> torch.Tensor:
        """x_t: [B, C, *]; taps: [C, k]; theta: [C] → spikes s_t [B, C, *] (no gradient)."""
        from mfpsn.functional.mfpsn import mfpsn_stream_step

        if self.buffer is None:
            self.buffer = x_t.new_zeros((taps.shape[1] - 1) * dilation + 1, *x_t.shape)
            self.t = 0
        elif self.buffer.shape[1:] != x_t.shape or self.buffer.dtype != x_t.dtype:
            raise ValueError(f"{who}: expected x_t of shape {tuple(self.buffer.shape[1:])} and dtype "
                             f"{self.buffer.dtype} (the stream's; call reset() to start a new one), found "
                             f"{tuple(x_t.shape)} {x_t.dtype}")
        with torch.no_grad():
            s, _ = mfpsn_stream_step(self.buffer, self.t, x_t.detach(), taps.to(x_t.dtype), theta.to(x_t.dtype),
                                     dilation)
        self.t += 1
        return s

    def reset(self) -> None:
        """Forget the inputs: the next step starts from zeros at t = 0."""
        self.buffer = None
        self.t = 0


def _check_float(x: torch.Tensor, who: str) -> None:
    if not isinstance(x, torch.Tensor):
        if is_tracing(x):
            return
        raise ValueError(f"{who}: expected a torch.Tensor input, found {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{who}: expected a floating-point input (the input current), found dtype {x.dtype}")


def check_sequence(x: torch.Tensor, who: str, channels: int | None = None, steps: int | None = None) -> None:
    """Raise ValueError unless ``x`` is a float ``[T, B, C, *]`` tensor with the expected C (and T).

    Args:
        x: the input to check.
        who: the neuron's name, used in the message.
        channels: expected C (dim 2), or None to accept any.
        steps: expected T (dim 0), or None to accept any.

    A ``torch.fx.Proxy`` passes unchecked (symbolic tracing).
    """
    if is_tracing(x):
        return
    _check_float(x, who)
    if x.dim() < 3:
        raise ValueError(f"{who}: expected input of shape [T, B, C, *] (at least 3 dims), "
                         f"found {x.dim()} dims, shape {tuple(x.shape)}")
    if channels is not None and x.shape[2] != channels:
        raise ValueError(f"{who}: expected {channels} channels in dim 2 of [T, B, C, *], "
                         f"found {x.shape[2]} (shape {tuple(x.shape)})")
    if steps is not None and x.shape[0] != steps:
        raise ValueError(f"{who}: expected T = {steps} time steps in dim 0, found {x.shape[0]} "
                         f"(shape {tuple(x.shape)})")


def check_step_input(x_t: torch.Tensor, who: str, channels: int | None = None) -> None:
    """Raise ValueError unless ``x_t`` is a float ``[B, C, *]`` tensor (one time step) with the expected C
    (a ``torch.fx.Proxy`` passes unchecked)."""
    if is_tracing(x_t):
        return
    _check_float(x_t, who)
    if x_t.dim() < 2:
        raise ValueError(f"{who}: expected one time step of shape [B, C, *] (at least 2 dims), "
                         f"found {x_t.dim()} dims, shape {tuple(x_t.shape)}")
    if channels is not None and x_t.shape[1] != channels:
        raise ValueError(f"{who}: expected {channels} channels in dim 1 of [B, C, *], "
                         f"found {x_t.shape[1]} (shape {tuple(x_t.shape)})")


#: A 1-d threshold ``[n]`` as ``[1, 1, n, 1, ...]`` (or along ``dim``): :func:`mfpsn._checks.channel_view`.
threshold_view = channel_view
