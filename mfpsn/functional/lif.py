"""Leaky integrate-and-fire: one step and the serial multi-step loop (the baseline MFPSN races against).

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

Shapes: ``x: [T, B, C, *]`` (multi-step) or ``x_t: [B, C, *]`` (one step), any float dtype.
"""
from __future__ import annotations

from typing import Union

import torch

from mfpsn.functional.surrogate import Surrogate

__all__ = ["lif_charge", "lif_fire_reset", "lif_step", "lif_multistep"]

Rate = Union[float, torch.Tensor]


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


def lif_multistep(x: torch.Tensor, rate: Rate, v_th: float, v_reset: float | None, detach_reset: bool,
                  surrogate: Surrogate, decay_input: bool = True, v0: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The serial loop: a plain Python ``for`` over t calling :func:`lif_step`.

    Args:
        x: [T, B, C, *] input current.
        v0: [B, C, *] membrane before t = 0; None = zeros.
    Returns:
        spikes [T, B, C, *], h [T, B, C, *] (charged potential before firing), v [B, C, *] after the last step.
    """
    v = torch.zeros_like(x[0]) if v0 is None else v0
    if x.shape[0] == 0:
        return torch.zeros_like(x), torch.zeros_like(x), v
    spikes, hs = [], []
    for t in range(x.shape[0]):
        s, h, v = lif_step(x[t], v, rate, v_th, v_reset, detach_reset, surrogate, decay_input)
        spikes.append(s)
        hs.append(h)
    return torch.stack(spikes), torch.stack(hs), v
