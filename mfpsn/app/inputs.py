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


def load_sequence(path: str | Path, limits: Limits = LIMITS, notes: list[str] | None = None) -> np.ndarray:
    """Read an uploaded ``.csv`` or ``.npy`` sequence of shape ``[T]`` or ``[T, C]`` as ``[T, C]`` float32.

    CSV: numbers separated by commas, one time step per row, an optional header row of names; ``notes`` then
    receives which name became which channel, and a warning when the first column looks like time stamps.
    NPY: a numeric array, parsed without pickle and without trusting its header (the declared size is checked
    against the bytes present). The file size is checked (``limits.lab_max_upload_kb``) before anything is
    parsed, and a CSV stops at the first row past ``limits.lab_max_T``, so memory stays proportional to the
    limits. Raises ``gr.Error`` naming the file and what is wrong (size, extension, parse error, rank, size,
    non-finite values).
    """
    name = Path(path).name
    ext = Path(path).suffix.lower()
    if ext not in (".npy", ".csv", ".txt"):
        raise gr.Error(f"{name}: expected a .csv or .npy file, found extension {ext!r}")
    size = _regular_size(path, name)
    if size > limits.lab_max_upload_kb * 1024:
        raise gr.Error(f"{name}: the file is {size / 1024:,.0f} kB; a lab sequence may be at most "
                       f"{limits.lab_max_upload_kb:,} kB ({limits.lab_max_T} rows x {limits.lab_max_channels} "
                       "columns fit in far less)")
    if ext == ".npy":
        arr = _read_npy(path, name, size, limits)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise gr.Error(f"{name}: expected a numeric array, found dtype {arr.dtype}")
    else:
        arr, header = _read_csv(path, name, limits)
        if header is not None and notes is not None:
            notes.extend(_header_notes(name, header, arr))
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


def _regular_size(path: str | Path, name: str) -> int:
    from mfpsn.events._context import open_regular
    from mfpsn.events.errors import EventFormatError
    import os

    try:
        fd, size = open_regular(str(path), None)
    except EventFormatError as exc:
        raise gr.Error(f"{name}: {exc.problem}") from None
    os.close(fd)
    return size


def _read_npy(path: str | Path, name: str, size: int, limits: Limits) -> np.ndarray:
    from mfpsn.events._context import ReadContext
    from mfpsn.events.errors import EventFormatError
    from mfpsn.events.formats.npy import _read_array

    ctx = ReadContext(str(path), "npy", max_bytes=limits.lab_max_upload_kb * 1024,
                      max_events=limits.lab_max_T)
    try:
        with open(path, "rb") as fp:
            return _read_array(fp, size, ctx, name)
    except EventFormatError as exc:
        raise gr.Error(f"{name}: cannot read as a NumPy .npy array ({exc.problem})") from None
    except OSError:
        raise gr.Error(f"{name}: cannot read the file") from None


_TIME_NAMES = ("t", "time", "step", "index", "idx", "timestamp", "time_ms", "time_s", "time_us", "t_ms", "t_us")


def _header_notes(name: str, header: list[str], arr: np.ndarray) -> list[str]:
    """Say which header name became which channel; flag a first column that looks like time stamps."""
    mapping = ", ".join(f"{h!r} → channel {c}" for c, h in enumerate(header))
    out = [f"{name}: header row skipped; columns become channels: {mapping}"]
    first = arr[:, 0]
    if header[0].strip().lower() in _TIME_NAMES or (len(first) > 2 and np.all(np.diff(first) > 0)):
        out.append(f"{name}: column {header[0]!r} looks like time stamps (it only increases), yet it is used as the "
                   "input current of channel 0: remove it from the file if the rows are already the time steps")
    return out


def _read_csv(path: str | Path, name: str, limits: Limits = LIMITS) -> tuple[np.ndarray, list[str] | None]:
    """The numbers ``[rows, columns]`` float64 and the header names (None without a header row)."""
    lines = []
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for i, ln in enumerate(f):
            ln = ln.strip()
            if ln:
                lines.append((i + 1, ln))
                if len(lines) > limits.lab_max_T + 1:  # + an optional header row
                    raise gr.Error(f"{name}: expected 1 to {limits.lab_max_T} time steps (rows), found more")
    if not lines:
        raise gr.Error(f"{name}: the CSV file holds no rows")
    header = None
    try:
        [float(v) for v in lines[0][1].split(",")]
    except ValueError:
        header = [v.strip() for v in lines[0][1].split(",")]  # a header row of names
        lines = lines[1:]
    rows = []
    for lineno, ln in lines:
        try:
            rows.append([float(v) for v in ln.split(",")])
        except ValueError:
            raise gr.Error(f"{name}: line {lineno} is not a comma-separated list of numbers") from None
        if len(rows[-1]) > limits.lab_max_channels:
            raise gr.Error(f"{name}: expected 1 to {limits.lab_max_channels} channels (columns), found "
                           f"{len(rows[-1])} at line {lineno}")
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise gr.Error(f"{name}: expected the same number of columns in every row, found {sorted(widths)}")
    if not rows:
        raise gr.Error(f"{name}: the CSV file holds a header but no numbers")
    if header is not None and len(header) != len(rows[0]):
        raise gr.Error(f"{name}: the header row names {len(header)} columns, the rows hold {len(rows[0])}")
    return np.asarray(rows, dtype=np.float64), header
