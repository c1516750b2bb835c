"""The most active window: exact against a brute-force search on small sensors, bounded memory and time on a
declared 65,536 × 65,536 sensor (a hostile header), coarse but close when events spread over a huge sensor."""
from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from mfpsn.events import Events
from mfpsn.events.regions import MAX_CELLS, most_active_window


def _events(x, y, W, H) -> Events:
    n = len(x)
    return Events(np.arange(n, dtype=np.int64), np.asarray(x, np.uint16), np.asarray(y, np.uint16),
                  np.ones(n, np.uint8), W, H)


def _brute(ev: Events, w: int, h: int) -> int:
    w, h = min(w, ev.width), min(h, ev.height)
    return max(int(((ev.x >= a) & (ev.x < a + w) & (ev.y >= b) & (ev.y < b + h)).sum())
               for b in range(ev.height - h + 1) for a in range(ev.width - w + 1))


@pytest.mark.parametrize("seed", range(6))
def test_exact_on_small_sensors(seed):
    rng = np.random.default_rng(seed)
    W, H = int(rng.integers(3, 30)), int(rng.integers(3, 30))
    n = int(rng.integers(1, 60))
    ev = _events(rng.integers(0, W, n), rng.integers(0, H, n), W, H)
    w, h = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    x0, y0, ww, hh, exact = most_active_window(ev, w, h)
    assert exact and (ww, hh) == (min(w, W), min(h, H)) and 0 <= x0 <= W - ww and 0 <= y0 <= H - hh
    inside = int(((ev.x >= x0) & (ev.x < x0 + ww) & (ev.y >= y0) & (ev.y < y0 + hh)).sum())
    assert inside == _brute(ev, w, h)


def test_no_events_gives_the_centre():
    ev = _events([], [], 100, 50)
    assert most_active_window(ev, 34, 34) == (33, 8, 34, 34, True)


def test_a_declared_huge_sensor_costs_only_the_events_corner():
    ev = _events([65_000, 65_010, 65_020], [65_100, 65_101, 65_102], 65_535, 65_535)
    tracemalloc.start()
    t0 = time.perf_counter()
    x0, y0, w, h, exact = most_active_window(ev, 34, 34)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 2 and peak < 8 * MAX_CELLS * 8
    assert exact and x0 <= 65_000 and x0 + w > 65_020 and y0 <= 65_100 and y0 + h > 65_102


def test_events_spread_over_a_huge_sensor_use_a_coarse_grid():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.integers(0, 65_535, 200), rng.integers(30_000, 30_034, 500)])
    y = np.concatenate([rng.integers(0, 65_535, 200), rng.integers(40_000, 40_034, 500)])
    ev = _events(x, y, 65_535, 65_535)
    tracemalloc.start()
    x0, y0, w, h, exact = most_active_window(ev, 64, 64)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert not exact and peak < 8 * MAX_CELLS * 8
    inside = int(((ev.x >= x0) & (ev.x < x0 + w) & (ev.y >= y0) & (ev.y < y0 + h)).sum())
    assert inside >= 500                                    # the cluster, refined to the pixel
    far = _events([1, 2, 65_000, 65_001, 65_002], [1, 2, 65_000, 65_001, 65_002], 65_535, 65_535)
    x0, y0, w, h, exact = most_active_window(far, 8, 8)    # an outlier spreads the box: coarse, still right
    assert not exact and (x0 <= 65_000 and x0 + w > 65_002 and y0 <= 65_000 and y0 + h > 65_002)
