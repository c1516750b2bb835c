"""Input sequences for the neuron lab: generated signals and uploaded CSV/NPY files.

Every sequence is ``[T, C]`` float32 (time first, C channels), the input current X of the neurons.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np

from mfpsn.app.limits import LIMITS, Limits

__all__ = ["SIGNALS", "generate_input", "load_sequence"]

SIGNALS = ("step", "pulse train", "Poisson spikes", "sine", "noise")


def generate_input(kind: str, T: int, channels: int = 1, amplitude: float = 1.0, period: int = 16,
                   rate: float = 0.2, seed: int = 0) -> np.ndarray:
    """A generated input current ``[T, C]`` float32.

    Args:
        kind: one of :data:`SIGNALS`:
            ``step``: 0 until ``T // 8``, then ``amplitude``;
            ``pulse train``: ``amplitude`` every ``period`` steps (channel c starts at step ``c``), else 0;
            ``Poisson spikes``: ``amplitude`` with probability ``rate`` per step (Bernoulli), else 0;
            ``sine``: ``amplitude · (1 + sin(2π t / period + 2π c / C)) / 2``;
            ``noise``: Gaussian with mean and standard deviation ``amplitude / 2``.
        T: time steps. channels: C. amplitude: peak value. period: steps per cycle (pulse train, sine).
        rate: spike probability per step (Poisson). seed: random seed (Poisson, noise).
    """
    if kind not in SIGNALS:
        raise ValueError(f"generate_input: kind must be one of {SIGNALS}, found {kind!r}")
    if T < 1 or channels < 1 or period < 1:
        raise ValueError(f"generate_input: expected T, channels, period >= 1, found {T}, {channels}, {period}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"generate_input: rate must lie in [0, 1], found {rate}")
    t = np.arange(T)[:, None]
    c = np.arange(channels)[None, :]
    rng = np.random.default_rng(seed)
    if kind == "step":
        x = np.where(t >= T // 8, amplitude, 0.0) * np.ones((1, channels))
    elif kind == "pulse train":
        x = np.where((t - c) % period == 0, amplitude, 0.0) * (t >= c)
    elif kind == "Poisson spikes":
        x = amplitude * (rng.random((T, channels)) < rate)
    elif kind == "sine":
        x = amplitude * (1 + np.sin(2 * np.pi * t / period + 2 * np.pi * c / channels)) / 2
    else:
        x = amplitude / 2 + amplitude / 2 * rng.standard_normal((T, channels))
    return np.ascontiguousarray(x, dtype=np.float32)


def load_sequence(path: str | Path, limits: Limits = LIMITS) -> np.ndarray:
    """Read an uploaded ``.csv`` or ``.npy`` sequence of shape ``[T]`` or ``[T, C]`` as ``[T, C]`` float32.

    CSV: numbers separated by commas, one time step per row, an optional header row of names.
    NPY: a numeric array, read with ``allow_pickle=False``. Raises ``gr.Error`` naming the file and
    what is wrong (extension, parse error, rank, size, non-finite values).
    """
    name = Path(path).name
    ext = Path(path).suffix.lower()
    if ext == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise gr.Error(f"{name}: cannot read as a NumPy .npy array ({exc})") from None
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise gr.Error(f"{name}: expected a numeric array, found dtype {arr.dtype}")
    elif ext in (".csv", ".txt"):
        arr = _read_csv(path, name)
    else:
        raise gr.Error(f"{name}: expected a .csv or .npy file, found extension {ext!r}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise gr.Error(f"{name}: expected shape [T] or [T, C], found {tuple(arr.shape)}")
    T, C = arr.shape
    if not 1 <= T <= limits.lab_max_T:
        raise gr.Error(f"{name}: expected 1 to {limits.lab_max_T} time steps (rows), found {T}")
    if not 1 <= C <= limits.lab_max_channels:
        raise gr.Error(f"{name}: expected 1 to {limits.lab_max_channels} channels (columns), found {C}")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise gr.Error(f"{name}: expected finite numbers, found {arr[tuple(bad)]} at row {bad[0]}, column {bad[1]}")
    return np.ascontiguousarray(arr)


def _read_csv(path: str | Path, name: str) -> np.ndarray:
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        lines = [(i + 1, ln.strip()) for i, ln in enumerate(f) if ln.strip()]
    if not lines:
        raise gr.Error(f"{name}: the CSV file holds no rows")
    try:
        [float(v) for v in lines[0][1].split(",")]
    except ValueError:
        lines = lines[1:]  # a header row of names
    rows = []
    for lineno, ln in lines:
        try:
            rows.append([float(v) for v in ln.split(",")])
        except ValueError:
            raise gr.Error(f"{name}: line {lineno} is not a comma-separated list of numbers: {ln[:60]!r}") from None
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise gr.Error(f"{name}: expected the same number of columns in every row, found {sorted(widths)}")
    if not rows:
        raise gr.Error(f"{name}: the CSV file holds a header but no numbers")
    return np.asarray(rows, dtype=np.float64)
