"""Dilation schedules for stacks of MFPSN layers, their receptive field and the lags they reach (spec §3).

One dilation per spiking-neuron layer, shared by its channels. The paper calls its schedule a "sawtooth
wave-like heuristic" (Eq. 11, from hybrid dilated convolution) but the rule itself is **reconstructed (open)**.
Rules that fit the published evidence or were considered:

- **(A) period 3** (default here): ``d_l = (l mod 3) + 1`` for l = 0, 1, …, i.e. 1, 2, 3, 1, 2, 3, …; fits
  Fig. 2 (k = 2, three layers reach the last 7 steps, Σd = 6) and the unofficial port (1, 2, 3, 1, 2, 3 at k = 3).
- (B) period k + 1: fits Fig. 2 only. Use ``sawtooth_dilations(n, period=k + 1)``.
- (C) period k: fails Fig. 2 (k = 2 gives 1, 2, 1: 5 steps, not 7). ``period=k`` builds it for ablations.
- (D) grow by one until the receptive field reaches T, then restart: not built in; pass an explicit list.
- (E) exponential, ``d_l = k^l`` (WaveNet/TCN style, not the paper's): 1, k, k², …; gap-free with
  R = k^L, so four layers of k = 8 see 4,096 steps, enough for T = 784 (:func:`exponential_dilations`).
  Our addition for long sequences, where the sawtooth's R = 1 + (k − 1)·Σd stays far below T.

Also open: whether d advances at every neuron layer (FC neurons, neurons inside residual branches included).
Models take either ``period`` or an explicit per-layer list.

Stack of L layers with order k: the total lag is a sum of one element from each {0, d_l, 2d_l, …, (k−1)d_l}.

.. math::
    R = 1 + (k - 1) \\sum_l d_l

The reachable lags fill 0 … R−1 without gaps iff, with the dilations sorted ascending,
``d_(j) ≤ 1 + (k − 1)·Σ_{i<j} d_(i)`` for every j (:func:`is_gap_free`).
"""
from __future__ import annotations

from typing import Sequence

__all__ = ["sawtooth_dilations", "exponential_dilations", "receptive_field", "reachable_lags", "is_gap_free"]


def _check_order(order) -> int:
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"dilation: expected order k to be an int >= 1, found {order!r}")
    return order


def _check_dilations(dilations: Sequence[int]) -> list[int]:
    try:
        ds = list(dilations)
    except TypeError as err:
        raise ValueError(f"dilation: expected a sequence of ints >= 1, found {dilations!r}") from err
    for i, d in enumerate(ds):
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(f"dilation: expected every dilation to be an int >= 1, found {d!r} at index {i}")
    return ds


def sawtooth_dilations(n_layers: int, period: int | None = 3) -> list[int]:
    """Per-layer dilations ``d_l = (l mod period) + 1``: [1, 2, 3, 1, 2, 3, …] for the default period 3.

    Args:
        n_layers: number of spiking-neuron layers, >= 0, in forward order.
        period: cycle length >= 1 (rule A: 3); ``None`` = no dilation (all ones).
    Returns:
        list of ``n_layers`` ints.
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 0:
        raise ValueError(f"sawtooth_dilations: expected n_layers to be an int >= 0, found {n_layers!r}")
    if period is None:
        return [1] * n_layers
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"sawtooth_dilations: expected period to be an int >= 1 or None, found {period!r}")
    return [(layer % period) + 1 for layer in range(n_layers)]


def exponential_dilations(n_layers: int, order: int) -> list[int]:
    """Per-layer dilations ``d_l = k^l``: [1, k, k², …] (rule E). Gap-free, ``R = k^L``.

    Args:
        n_layers: number of spiking-neuron layers, >= 0, in forward order.
        order: taps k per layer (k = 1 gives all ones).
    Returns:
        list of ``n_layers`` ints.
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 0:
        raise ValueError(f"exponential_dilations: expected n_layers to be an int >= 0, found {n_layers!r}")
    k = _check_order(order)
    return [k ** layer for layer in range(n_layers)]


def receptive_field(order: int, dilations: Sequence[int]) -> int:
    """R = 1 + (k − 1)·Σ_l d_l: how many past steps (the current one included) a stack can see."""
    k = _check_order(order)
    return 1 + (k - 1) * sum(_check_dilations(dilations))


def reachable_lags(order: int, dilations: Sequence[int]) -> list[int]:
    """Sorted set of total lags Σ_l m_l·d_l with m_l ∈ {0, …, k−1}: the steps back a stack responds to."""
    k = _check_order(order)
    reach = {0}
    for d in _check_dilations(dilations):
        reach = {r + m * d for r in reach for m in range(k)}
    return sorted(reach)


def is_gap_free(order: int, dilations: Sequence[int]) -> bool:
    """True iff the reachable lags are exactly 0 … R−1 (sorted-dilation criterion, no enumeration).

    With d_(1) ≤ d_(2) ≤ …: gap-free iff every d_(j) ≤ 1 + (k − 1)·Σ_{i<j} d_(i). For k = 1 only the empty
    stack's lag 0 is reachable, which is always the full range 0 … R−1 = {0}.
    """
    k = _check_order(order)
    ds = sorted(_check_dilations(dilations))
    if k == 1:
        return True
    covered = 0                                   # reachable lags so far are 0 … covered
    for d in ds:
        if d > covered + 1:
            return False
        covered += (k - 1) * d
    return True
