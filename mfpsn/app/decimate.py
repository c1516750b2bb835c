"""Bounded traces for the browser: long sequences are thinned before they are drawn, keeping what the eye needs.

A browser draws every point it is sent; at T = 4096 with 16 channels and three neurons a lab update held a
quarter of a million SVG points and froze the page for seconds. Here

- :func:`envelope` keeps, in each of ``max_points // 2`` equal buckets of a line, its lowest and its highest
  point (in time order), so peaks, threshold crossings and the band a dense trace fills survive;
- :func:`thin_events` keeps at most one event per bucket (the first), for spike markers;
- :func:`spike_image` turns ``[T, rows]`` spikes into an image of at most ``max_points`` columns (1 where a
  bucket holds a spike), drawn as one heatmap instead of one marker per spike.

Each returns the input unchanged when it is already within ``max_points``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["envelope", "thin_events", "spike_image"]


def _bucket(n: int, max_points: int) -> int:
    """Steps per bucket so that ``n`` steps make at most ``max_points`` buckets."""
    return -(-n // max(1, max_points))


def envelope(y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """``(t, y[t])`` of at most ``max_points`` indices of the line ``y: [T]``: each bucket's min and max."""
    y = np.asarray(y)
    n = y.shape[0]
    if n <= max_points:
        return np.arange(n), y
    size = _bucket(n, max(1, max_points // 2))
    rows = -(-n // size)
    padded = np.concatenate([y, np.full(rows * size - n, y[-1], dtype=y.dtype)]).reshape(rows, size)
    base = np.arange(rows) * size
    idx = np.unique(np.minimum(np.concatenate([base + padded.argmin(1), base + padded.argmax(1)]), n - 1))
    return idx, y[idx]


def thin_events(t: np.ndarray, T: int, max_points: int) -> np.ndarray:
    """Sorted event times ``t`` (steps in ``[0, T)``), at most one per bucket of ``T / max_points`` steps."""
    t = np.asarray(t)
    if t.shape[0] <= max_points:
        return t
    keep = np.ones(t.shape[0], dtype=bool)
    b = t // _bucket(T, max_points)
    keep[1:] = b[1:] != b[:-1]
    return t[keep]


def spike_image(spikes: np.ndarray, max_points: int) -> tuple[np.ndarray, int]:
    """``([rows, columns] 0/1, steps per column)`` of ``spikes: [T, rows]`` with at most ``max_points`` columns."""
    s = np.asarray(spikes) > 0
    T, rows = s.shape
    size = _bucket(T, max_points)
    cols = -(-T // size)
    padded = np.zeros((cols * size, rows), dtype=bool)
    padded[:T] = s
    return padded.reshape(cols, size, rows).any(axis=1).T.astype(np.uint8), size
