"""Checks shared by the writers."""
from __future__ import annotations

import numpy as np

from mfpsn.events.core import Events

__all__ = ["require_sorted"]


def require_sorted(events: Events, path: object, fmt: str) -> None:
    """Raise ValueError unless ``events.t`` is non-decreasing."""
    back = np.flatnonzero(np.diff(events.t) < 0)
    if back.size:
        i = int(back[0])
        raise ValueError(f"write {fmt} {path}: events must be time-sorted, t goes back at event {i + 1} "
                         f"({events.t[i]} -> {events.t[i + 1]})")
