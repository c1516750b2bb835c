"""Background-activity filter (Delbruck 2008 style), vectorised.

Rule: event ``i`` at pixel ``(x, y)`` is kept when some *neighbouring* pixel (8-connected by
default, 4-connected on request; the pixel itself does not count) fired an earlier event ``j``
(``j < i`` in stream order, so ``t[j] <= t[i]``) with ``t[i] - t[j] <= filter_time_us``.
Polarity is ignored. Real edges move across neighbouring pixels within a short time; isolated
noise events have no such support and are removed.

Differences from tonic's ``denoise``: tonic checks only 4 neighbours and starts every pixel's
memory at ``filter_time``, which keeps every event of the first ``filter_time`` µs; here no
event has support before its neighbours fired.

Implementation: sort the keys ``pixel * N + i`` once; for each neighbour offset the query
``(pixel + offset) * N + i`` is the sorted key array shifted by a constant, so one
``np.searchsorted`` per offset finds the latest earlier event at that neighbour.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfpsn.events.core import Events

__all__ = ["denoise", "denoise_mask", "Denoise"]

_OFFSETS = {
    4: ((-1, 0), (1, 0), (0, -1), (0, 1)),
    8: ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)),
}


def denoise_mask(events: Events, filter_time_us: int, connectivity: int = 8) -> np.ndarray:
    """``[N]`` bool: which events the background-activity filter keeps (see the module docstring)."""
    if int(filter_time_us) != filter_time_us or filter_time_us < 0:
        raise ValueError(f"filter_time_us: expected a non-negative integer, found {filter_time_us!r}")
    if connectivity not in _OFFSETS:
        raise ValueError(f"connectivity: expected 4 or 8, found {connectivity!r}")
    n = len(events)
    if n == 0:
        return np.zeros(0, bool)
    width, height = events.width, events.height
    x = events.x.astype(np.int64)
    y = events.y.astype(np.int64)
    pix = y * width + x
    keys = np.sort(pix * n + np.arange(n, dtype=np.int64))
    order = keys % n                      # event index of each sorted key
    sx, sy = x[order], y[order]
    st = events.t[order]
    keep_sorted = np.zeros(n, bool)
    for dx, dy in _OFFSETS[connectivity]:
        inside = (sx + dx >= 0) & (sx + dx < width) & (sy + dy >= 0) & (sy + dy < height)
        query = keys + (dy * width + dx) * n
        pos = np.searchsorted(keys, query, side="left") - 1
        found = pos >= 0
        pos = np.where(found, pos, 0)
        prev = keys[pos]
        found &= inside & (prev // n == pix[order] + dy * width + dx)
        found &= st - events.t[prev % n] <= filter_time_us
        keep_sorted |= found
    keep = np.empty(n, bool)
    keep[order] = keep_sorted
    return keep


def denoise(events: Events, filter_time_us: int, connectivity: int = 8) -> Events:
    """The events that a neighbour supports within ``filter_time_us`` µs before them.

    Args:
        events: the stream (time-ordered).
        filter_time_us: support window in µs (e.g. 10_000 for a DVS128 at room light).
        connectivity: 8 (default) or 4 neighbours.

    Returns:
        A new :class:`Events` with the kept events, same sensor and meta.
    """
    return events[denoise_mask(events, filter_time_us, connectivity)]


@dataclass(frozen=True)
class Denoise:
    """Transform ``Events -> Events`` applying :func:`denoise`."""

    filter_time_us: int
    connectivity: int = 8

    def __post_init__(self) -> None:
        if int(self.filter_time_us) != self.filter_time_us or self.filter_time_us < 0:
            raise ValueError(f"Denoise.filter_time_us: expected a non-negative integer, found "
                             f"{self.filter_time_us!r}")
        if self.connectivity not in _OFFSETS:
            raise ValueError(f"Denoise.connectivity: expected 4 or 8, found {self.connectivity!r}")

    def __call__(self, events: Events) -> Events:
        return denoise(events, self.filter_time_us, self.connectivity)
