"""Leaky integrate-and-fire: one step, the serial multi-step loop (the baseline MFPSN races against) and its
plain autograd reference.

Charge (SpikingJelly ``LIFNode`` / ``ParametricLIFNode``), with ``r = 1/τ`` (LIF: a number; PLIF:
``sigmoid(w)``, a tensor) and ``V_reset = 0`` standing in for the reset value when ``v_reset is None``:

.. math::
    \\text{decay\\_input:}\\quad H[t] = V[t-1] + r\\,\\bigl(X[t] - (V[t-1] - V_{reset})\\bigr)
    \\qquad
    \\text{otherwise:}\\quad H[t] = V[t-1] - r\\,(V[t-1] - V_{reset}) + X[t]

.. math::
    S[t] = \\Theta(H[t] - V_{th}), \\qquad
    V[t] = \\begin{cases} H[t]\\,(1 - S_r[t]) + V_{reset}\\, S_r[t] & \\text{hard reset} \\\\
                          H[t] - V_{th}\\, S_r[t] & \\text{soft reset } (v\\_reset = None) \\end{cases}

with ``S_r = S.detach()`` when ``detach_reset`` (no gradient through the reset) and ``S_r = S`` otherwise;
``V[−1] = 0``. With V_reset = 0 and decay_input this is the paper's Eq. 5, H[t] = (1 − 1/τ) V[t−1] + X[t]/τ.

Two multi-step forms with the same forward values (bit for bit, up to the sign of a zero membrane):

- :func:`lif_multistep_ref`: the plain loop, autograd records every step (the reference for gradients);
- :func:`lif_multistep`: the same loop run without a graph into preallocated outputs, with a hand-written
  BPTT backward (a custom ``autograd.Function``). The forward writes spikes and H step by step into preallocated
  outputs; the backward runs the surrogate derivative and the elementwise parts over chunks of steps of about
  2^18 values (all of ``[T, N]`` at once when it is that small), and only the recurrence
  ``g_H[t] = a[t] + b[t]·g_V[t]``, ``g_V[t−1] = (1 − r)·g_H[t]`` is a loop over t (two elementwise ops per step).
  Only the outputs (spikes, H, dX) are ``[T, ...]``-sized: whole-sequence temporaries cost one fresh allocation
  each, and at N = 65,536, T = 256 the page faults of those 64 MiB buffers took longer than the loop itself (the
  backward then ran 2× slower than SpikingJelly's per-step autograd loop, whose step-sized tensors the
  allocator reuses).
  Backward (``u = H − V_th``, σ' the surrogate derivative):

.. math::
    a[t] = g_S[t]\\,\\sigma'(u[t]) + g_H^{ext}[t], \\qquad
    b[t] = \\partial V[t]/\\partial H[t] = \\begin{cases} 1 - S[t] + [\\lnot d]\\,(V_{reset} - H[t])\\,\\sigma'(u[t])
    & \\text{hard} \\\\ 1 - [\\lnot d]\\, V_{th}\\,\\sigma'(u[t]) & \\text{soft} \\end{cases}

.. math::
    dX[t] = g_H[t]\\,(r \\text{ if decay\\_input else } 1), \\qquad
    dr = \\sum_t g_H[t]\\,\\bigl([\\text{decay\\_input}]\\,X[t] - (V[t-1] - V_{reset})\\bigr)

Shapes: ``x: [T, B, C, *]`` (multi-step) or ``x_t: [B, C, *]`` (one step), any float dtype.
"""
from __future__ import annotations

from typing import Union

import torch

from mfpsn.functional.surrogate import Surrogate

__all__ = ["lif_charge", "lif_fire_reset", "lif_step", "lif_multistep", "lif_multistep_ref"]

Rate = Union[float, torch.Tensor]

_CHUNK_VALUES = 1 << 18  # the backward's elementwise work runs over chunks of about this many values (1 MiB float32)


def lif_charge(v: torch.Tensor, x_t: torch.Tensor, rate: Rate, v_reset: float | None,
               decay_input: bool = True) -> torch.Tensor:
    """H[t] from V[t−1] and X[t]; ``rate`` = 1/τ. v, x_t: [B, C, *] → h: [B, C, *]."""
    rest = 0.0 if v_reset is None else v_reset
    if decay_input:
        if rest == 0.0:
            return v + (x_t - v) * rate
        return v + (x_t - (v - rest)) * rate
    if rest == 0.0:
        return v - v * rate + x_t
    return v - (v - rest) * rate + x_t


def lif_fire_reset(h: torch.Tensor, v_th: float, v_reset: float | None, detach_reset: bool,
                   surrogate: Surrogate) -> tuple[torch.Tensor, torch.Tensor]:
    """S[t] = Θ(H[t] − V_th) through ``surrogate``, then the reset. h: [B, C, *] → (s, v), both [B, C, *]."""
    s = surrogate(h - v_th)
    s_r = s.detach() if detach_reset else s
    if v_reset is None:
        v = h - v_th * s_r
    else:
        v = h * (1.0 - s_r) + v_reset * s_r
    return s, v


def lif_step(x_t: torch.Tensor, v: torch.Tensor, rate: Rate, v_th: float, v_reset: float | None,
             detach_reset: bool, surrogate: Surrogate, decay_input: bool = True
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One LIF step. x_t, v: [B, C, *] → (s_t, h_t, v_t), each [B, C, *]."""
    h = lif_charge(v, x_t, rate, v_reset, decay_input)
    s, v_next = lif_fire_reset(h, v_th, v_reset, detach_reset, surrogate)
    return s, h, v_next


def lif_multistep_ref(x: torch.Tensor, rate: Rate, v_th: float, v_reset: float | None, detach_reset: bool,
                      surrogate: Surrogate, decay_input: bool = True, v0: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The plain reference: a Python ``for`` over t calling :func:`lif_step`, autograd recording each step.

    Same arguments and returns as :func:`lif_multistep`. ``x.unbind(0)`` (not ``x[t]``) hands out the steps: the
    backward of one ``x[t]`` view writes a zero-filled gradient of all of x, T of them cost O(T²·N).
    """
    v = x.new_zeros(x.shape[1:]) if v0 is None else v0
    if x.shape[0] == 0:
        return torch.zeros_like(x), torch.zeros_like(x), v
    spikes, hs = [], []
    for x_t in x.unbind(0):
        s, h, v = lif_step(x_t, v, rate, v_th, v_reset, detach_reset, surrogate, decay_input)
        spikes.append(s)
        hs.append(h)
    return torch.stack(spikes), torch.stack(hs), v


def _reset_all(h: torch.Tensor, fired: torch.Tensor, v_th: float, v_reset: float | None) -> torch.Tensor:
    """V from H and the spike mask, elementwise over any shape (the reset of :func:`lif_fire_reset`)."""
    if v_reset is None:
        return h - v_th * fired.to(h.dtype)
    return h.masked_fill(fired, v_reset)


def _loop_forward(x: torch.Tensor, rate: Rate, v_th: float, v_reset: float | None, decay_input: bool,
                  v0: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(spikes [T, B, C, *], h [T, B, C, *], v after the last step [B, C, *]) without a graph, written step by step
    into preallocated outputs (S[t] = [H[t] ≥ V_th], the same comparison as ``Θ(H − V_th)``)."""
    T = x.shape[0]
    h = torch.empty_like(x, memory_format=torch.contiguous_format)
    spikes = torch.empty_like(h)
    v = torch.zeros_like(h[0]) if v0 is None else v0.detach().to(x.dtype).clone()
    rest = 0.0 if v_reset is None else v_reset
    tmp = torch.empty_like(v)
    fired = torch.empty(v.shape, dtype=torch.bool, device=x.device)
    v_rest = None if v_reset is None else torch.tensor(v_reset, dtype=h.dtype, device=h.device)
    for t in range(T):
        h_t = h[t]
        if decay_input:                       # v + (x_t − (v − rest))·r, rounded as lif_charge
            if rest == 0.0:
                torch.sub(x[t], v, out=tmp)
            else:
                torch.sub(x[t], torch.sub(v, rest), out=tmp)
            tmp.mul_(rate)
            torch.add(v, tmp, out=h_t)
        else:                                 # v − (v − rest)·r + x_t
            torch.mul(v if rest == 0.0 else v - rest, rate, out=tmp)
            torch.sub(v, tmp, out=h_t)
            h_t.add_(x[t])
        torch.ge(h_t, v_th, out=fired)
        spikes[t].copy_(fired)
        if v_reset is None:
            torch.sub(h_t, spikes[t] * v_th, out=v)
        else:
            torch.where(fired, v_rest, h_t, out=v)
    return spikes, h, v


class _LIFLoop(torch.autograd.Function):
    """(spikes, h, v_last) = the LIF loop; hand-written BPTT backward (see the module docstring)."""

    @staticmethod
    def forward(ctx, x, rate, v0, v_th, v_reset, detach_reset, surrogate, decay_input):
        with torch.no_grad():
            spikes, h, v = _loop_forward(x, rate, v_th, v_reset, decay_input, v0)
        ctx.cfg = (v_th, v_reset, detach_reset, surrogate, decay_input)
        ctx.rate_is_tensor = isinstance(rate, torch.Tensor)
        ctx.has_v0 = v0 is not None
        ctx.save_for_backward(h, x if ctx.rate_is_tensor and ctx.needs_input_grad[1] else None,
                              rate if ctx.rate_is_tensor else None, v0 if ctx.has_v0 else None)
        ctx.rate_value = None if ctx.rate_is_tensor else rate
        return spikes, h, v

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_s, g_h, g_v):
        h, x, rate_t, v0 = ctx.saved_tensors
        v_th, v_reset, detach_reset, surrogate, decay_input = ctx.cfg
        rate = rate_t.detach() if ctx.rate_is_tensor else ctx.rate_value
        T = h.shape[0]
        keep = 1.0 - rate                                          # ∂H[t]/∂V[t−1]
        gv = torch.zeros_like(h[0]) if g_v is None else g_v.to(h.dtype).clone()
        want_rate = ctx.rate_is_tensor and ctx.needs_input_grad[1]
        rest = 0.0 if v_reset is None else v_reset
        d_rate = torch.zeros((), dtype=h.dtype, device=h.device) if want_rate else None
        g_hh = torch.empty_like(h)                                 # g_H [T, N]; becomes dX
        chunk = max(1, _CHUNK_VALUES // max(1, h[0].numel()))     # steps whose temporaries stay cache-sized
        for t1 in range(T, 0, -chunk):
            t0 = max(0, t1 - chunk)
            hc = h[t0:t1]
            u = hc - v_th
            sg = surrogate.derivative(u)                           # σ'(u) over the chunk
            a = g_hh[t0:t1]
            if g_s is None:
                a.zero_()
            else:
                torch.mul(g_s[t0:t1], sg, out=a)
            if g_h is not None:
                a.add_(g_h[t0:t1])
            if v_reset is None:
                b = torch.ones_like(hc) if detach_reset else 1.0 - v_th * sg
            else:
                b = (u >= 0).logical_not_().to(h.dtype)            # 1 − S
                if not detach_reset:
                    b.addcmul_(v_reset - hc, sg)
            for t in range(t1 - t0 - 1, -1, -1):
                a[t].addcmul_(b[t], gv)                            # g_H[t] = a[t] + b[t]·g_V[t]
                torch.mul(a[t], keep, out=gv)                      # g_V[t−1]
            if want_rate:
                v_prev = torch.empty_like(hc)
                if t0 == 0:
                    v_prev[0] = 0.0 if v0 is None else v0.detach().to(h.dtype)
                else:
                    v_prev[0] = _reset_all(h[t0 - 1], h[t0 - 1] >= v_th, v_th, v_reset)
                v_prev[1:] = _reset_all(hc[:-1], hc[:-1] >= v_th, v_th, v_reset)
                drive = (x[t0:t1] - (v_prev - rest)) if decay_input else -(v_prev - rest)
                d_rate += (a * drive).sum()
        if decay_input:
            g_hh.mul_(rate)                                        # dX = r·g_H
        if want_rate:
            d_rate = d_rate.reshape(rate_t.shape).to(rate_t.dtype)
        d_v0 = gv if ctx.has_v0 and ctx.needs_input_grad[2] else None
        return (g_hh if ctx.needs_input_grad[0] else None), d_rate, d_v0, None, None, None, None, None


def lif_multistep(x: torch.Tensor, rate: Rate, v_th: float, v_reset: float | None, detach_reset: bool,
                  surrogate: Surrogate, decay_input: bool = True, v0: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The serial loop over t with a hand-written BPTT backward (one graph node, not ~10 per step).

    Args:
        x: [T, B, C, *] input current.
        rate: 1/τ, a number (LIF) or a 0-d tensor (PLIF's sigmoid(w), differentiable).
        v0: [B, C, *] membrane before t = 0; None = zeros.
    Returns:
        spikes [T, B, C, *], h [T, B, C, *] (charged potential before firing), v [B, C, *] after the last step;
        all differentiable (spikes through the surrogate). Forward values equal :func:`lif_multistep_ref`'s.
    """
    if x.shape[0] == 0:
        v = x.new_zeros(x.shape[1:]) if v0 is None else v0
        return torch.zeros_like(x), torch.zeros_like(x), v
    return _LIFLoop.apply(x, rate, v0, float(v_th), None if v_reset is None else float(v_reset),
                          bool(detach_reset), surrogate, bool(decay_input))
