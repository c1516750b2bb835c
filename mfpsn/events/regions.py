"""The most active window of a recording, in memory bounded by :data:`MAX_CELLS`, whatever sensor size a file
declares.

A window of ``w × h`` pixels is slid over a per-pixel event histogram by 2-D prefix sums. The histogram covers only
the part of the sensor where a best window can lie (the events' bounding box, widened to fit one window), so a file
that declares a 65,536 × 65,536 sensor but holds events in a corner costs the corner. When even that part exceeds
:data:`MAX_CELLS` pixels (events spread over a huge sensor), the histogram is built on a grid of ``f × f``-pixel
cells, the best window of cells is found, and the exact best window starting within ``f`` pixels of it is
returned; :func:`most_active_window` says which (``exact``).
"""
from __future__ import annotations

import math

import numpy as np

from mfpsn.events.core import Events

__all__ = ["MAX_CELLS", "most_active_window"]

MAX_CELLS = 1 << 21  # histogram cells (int64: 16 MiB, about 48 MiB with the prefix sums)


def _axis(lo: int, hi: int, size: int, extent: int) -> tuple[int, int]:
    """[start, end) of the sensor range along one axis that holds every candidate window start, given events in
    [lo, hi) and a window of ``size`` on a sensor of ``extent``."""
    start = max(0, min(lo, extent - size))
    return start, min(extent, max(start + size, hi))


def most_active_window(events: Events, width: int, height: int) -> tuple[int, int, int, int, bool]:
    """``(x0, y0, w, h, exact)``: the ``width × height`` window (clipped to the sensor) holding the most events
    (ties: the lowest y, then x); the centre window when there are no events. ``exact`` is False when the
    histogram had to be coarsened (the window is then best to within the cell size)."""
    W, H = events.width, events.height
    w, h = min(int(width), W), min(int(height), H)
    if w < 1 or h < 1:
        raise ValueError(f"window: expected a positive width and height, found {width}x{height}")
    if len(events) == 0:
        return (W - w) // 2, (H - h) // 2, w, h, True
    x = events.x.astype(np.int64)
    y = events.y.astype(np.int64)
    cx0, cx1 = _axis(int(x.min()), int(x.max()) + 1, w, W)
    cy0, cy1 = _axis(int(y.min()), int(y.max()) + 1, h, H)
    f = max(1, math.ceil(math.sqrt((cx1 - cx0) * (cy1 - cy0) / MAX_CELLS)))
    if f == 1:
        x0, y0 = _best(x, y, cx0, cy0, cx1 - cx0, cy1 - cy0, w, h, 1)
        return x0, y0, w, h, True
    # coarse: the best window of f x f cells, then the exact best window starting within f pixels of it
    i, j = _best(x, y, cx0, cy0, cx1 - cx0, cy1 - cy0, max(1, round(w / f)), max(1, round(h / f)), f)
    rx0, rx1 = max(0, min(i - f, W - w)), min(W, max(i - f, 0) + 2 * f + w)
    ry0, ry1 = max(0, min(j - f, H - h)), min(H, max(j - f, 0) + 2 * f + h)
    near = (x >= rx0) & (x < rx1) & (y >= ry0) & (y < ry1)
    x0, y0 = _best(x[near], y[near], rx0, ry0, max(rx1 - rx0, w), max(ry1 - ry0, h), w, h, 1)
    return min(x0, W - w), min(y0, H - h), w, h, False


def _best(x: np.ndarray, y: np.ndarray, ox: int, oy: int, gw: int, gh: int, w: int, h: int, f: int
          ) -> tuple[int, int]:
    """Sensor origin of the window of ``w × h`` cells (cells of ``f × f`` pixels) holding the most of the events
    (x, y) inside the region of ``gw × gh`` pixels at (ox, oy)."""
    nx, ny = -(-gw // f), -(-gh // f)
    ww, hh = min(w, nx), min(h, ny)
    counts = np.zeros((ny + 1, nx + 1), np.int64)
    np.add.at(counts, ((y - oy) // f + 1, (x - ox) // f + 1), 1)
    c = counts.cumsum(0).cumsum(1)                   # c[j, i] = events in cell rows < j, columns < i
    box = c[hh:, ww:] - c[:-hh, ww:] - c[hh:, :-ww] + c[:-hh, :-ww]
    j, i = np.unravel_index(int(np.argmax(box)), box.shape)
    return ox + int(i) * f, oy + int(j) * f
