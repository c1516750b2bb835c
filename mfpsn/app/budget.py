"""Per-request work budgets: the cost of a request is estimated from its settings *before* it runs, and a request
over the budget is refused with ``gr.Error`` naming the estimate and the limit.

The estimates are deliberately simple upper bounds (elements touched, Python steps taken) with constants measured
on a slow shared CPU, so the budget holds on the machine the app serves from; they bound time and memory, they
do not predict them exactly.
"""
from __future__ import annotations

import gradio as gr

from mfpsn.bench.subjects import PEER_NAMES

__all__ = ["NS_PER_ELEMENT", "US_PER_PY_STEP", "race_cost_s", "lab_cost", "frames_bytes", "check_budget"]

NS_PER_ELEMENT = 4.0    # one tap/element of a vectorised CPU op (float32), generous
US_PER_PY_STEP = 60.0   # one time step of a Python-loop neuron (LIF loop), forward; x3 with backward


# a peer LIF's step against our loop's (measured forward at N = 1,024, T = 256: SpikingJelly 2.8×, norse 4.9×,
# snnTorch 6.1×; results/cpu/issue14_N1024.md): the budget takes the largest
PEER_STEP_FACTOR = 6.0


def race_cost_s(T_values: list[int], N: int, order: int, names: list[str], train: bool, repeats: int,
                warmup: int = 2) -> float:
    """Estimated seconds of a speed race: every T x contender, ``warmup`` untimed plus ``repeats`` timed calls."""
    calls = repeats + warmup
    factor = 3.0 if train else 1.0
    total = 0.0
    C = min(N, 64)
    for T in T_values:
        for name in names:
            elements = T * N * max(order, 1)
            if "toeplitz" in name:
                elements = max(elements, C * T * T * max(1, -(-N // C)))
            seconds = elements * NS_PER_ELEMENT * 1e-9
            if "Python loop" in name:
                seconds += T * US_PER_PY_STEP * 1e-6
            elif name in PEER_NAMES:      # the peers' LIFs loop over t in Python too, with more ops per step
                seconds += T * PEER_STEP_FACTOR * US_PER_PY_STEP * 1e-6
            total += calls * factor * seconds
    return total


def lab_cost(T: int, channels: int, order: int, extra: str) -> int:
    """Elements a neuron-lab request touches: the filters and loops, plus the T x T weight of a PSN."""
    cost = T * channels * (order + 8)
    if extra == "PSN":
        cost += T * T * channels
    return cost


def frames_bytes(T: int, height: int, width: int) -> int:
    """Bytes of counting ``[T, 2, H, W]`` frames (int64 counts and the float32 result)."""
    return T * 2 * height * width * 12


def check_budget(what: str, cost: float, limit: float, unit: str, hint: str) -> None:
    """``gr.Error`` when ``cost`` exceeds ``limit``: names the request, the estimate, the limit and what to lower."""
    if cost > limit:
        raise gr.Error(f"{what}: estimated {cost:,.1f} {unit}, over the per-request budget of {limit:,} {unit}; "
                       f"{hint}")

