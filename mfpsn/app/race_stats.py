"""What a speed race's repeats say: the median with its spread, the fastest serial LIF, and one headline sentence.

A contender's repeats at one T become a :class:`Timing` (median, quartiles, min and max in ms). The baseline of a
speed-up is the fastest serial LIF in the race (at the largest T raced): on a CPU with a C++ compiler the fused
C++ loop, so the ratio compares compiled code with compiled code, not the interpreter's overhead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

__all__ = ["Timing", "summarise", "fastest", "headline", "spread_warning", "result_rows", "SPREAD_WARN"]

SPREAD_WARN = 0.25  # an interquartile range above this fraction of the median is flagged


@dataclass(frozen=True)
class Timing:
    """Milliseconds per call over the repeats of one contender at one T."""

    median: float
    q1: float
    q3: float
    low: float
    high: float
    repeats: int

    @property
    def spread(self) -> float:
        """Interquartile range as a fraction of the median."""
        return (self.q3 - self.q1) / self.median if self.median > 0 else 0.0


def summarise(ms: Sequence[float]) -> Timing:
    """The :class:`Timing` of one contender's repeated times (ms)."""
    a = np.asarray(ms, dtype=np.float64)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return Timing(float(med), float(q1), float(q3), float(a.min()), float(a.max()), int(a.size))


def fastest(times: Mapping[str, Sequence[Timing | None]], prefix: str) -> str | None:
    """The contender whose name starts with ``prefix`` with the lowest median at the largest T it ran."""
    best, best_ms = None, float("inf")
    for name, cells in times.items():
        ran = [c for c in cells if c is not None]
        if name.startswith(prefix) and ran and ran[-1].median < best_ms:
            best, best_ms = name, ran[-1].median
    return best


def headline(T_values: Sequence[int], times: Mapping[str, Sequence[Timing | None]], N: int, machine: str) -> str:
    """``MFPSN (x) is R× faster than LIF (y) at T = …, N = …, on this machine (…)``, from the largest T where
    both the fastest MFPSN and the fastest serial LIF ran; a sentence asking for both when one is missing."""
    lif, mf = fastest(times, "LIF"), fastest(times, "MFPSN")
    if lif is None or mf is None:
        return "Race at least one MFPSN and one serial LIF contender for a headline number."
    both = [i for i, (a, b) in enumerate(zip(times[mf], times[lif])) if a is not None and b is not None]
    if not both:
        return "The MFPSN and the LIF contenders ran at no common T; no headline number."
    i = both[-1]
    ratio = times[lif][i].median / times[mf][i].median
    verdict = f"{ratio:.1f}× faster than" if ratio >= 1 else f"{1 / ratio:.1f}× slower than"
    steps = T_values[i] * N * 1e3
    return (f"**{mf} is {verdict} {lif}** (the fastest serial LIF raced) at T = {T_values[i]}, N = {N}, "
            f"on this machine ({machine}): {steps / times[mf][i].median:.3g} against "
            f"{steps / times[lif][i].median:.3g} neuron-steps per second.")


def spread_warning(T_values: Sequence[int], times: Mapping[str, Sequence[Timing | None]], load: str) -> str:
    """A warning naming the timings whose interquartile range exceeds :data:`SPREAD_WARN` of the median, or ''."""
    wide = [f"{name} at T = {T}" for name, cells in times.items() for T, c in zip(T_values, cells)
            if c is not None and c.spread > SPREAD_WARN]
    if not wide:
        return ""
    shown = ", ".join(wide[:6]) + (f" and {len(wide) - 6} more" if len(wide) > 6 else "")
    return (f"⚠ Large spread (interquartile range over {SPREAD_WARN:.0%} of the median): {shown}. The machine "
            f"is busy ({load}); rerun with more repeats, or when it is idle, before trusting these ratios.")


def result_rows(T_values: Sequence[int], times: Mapping[str, Sequence[Timing | None]], N: int
                ) -> list[dict[str, float | int | str | None]]:
    """One record per contender and T (times in ms, throughput in neuron-steps per second; None: not run), the
    table a race exports as CSV and JSON."""
    rows = []
    for name, cells in times.items():
        for T, c in zip(T_values, cells):
            rows.append({"contender": name, "T": int(T), "N": int(N), "repeats": c.repeats if c else None,
                         "median_ms": c.median if c else None, "q1_ms": c.q1 if c else None,
                         "q3_ms": c.q3 if c else None, "min_ms": c.low if c else None,
                         "max_ms": c.high if c else None,
                         "neuron_steps_per_s": T * N * 1e3 / c.median if c else None})
    return rows
