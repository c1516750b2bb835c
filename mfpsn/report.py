"""Small text helpers shared by the experiment runners' README sections."""
from __future__ import annotations

import statistics

__all__ = ["mean_std"]


def mean_std(values: list[float]) -> str:
    """Accuracies in [0, 1] as ``"mean ± std"`` in percent (``"x (1 seed)"`` for one value, ``"–"`` for none)."""
    if not values:
        return "–"
    mean = 100 * statistics.mean(values)
    if len(values) == 1:
        return f"{mean:.2f} (1 seed)"
    return f"{mean:.2f} ± {100 * statistics.stdev(values):.2f}"
