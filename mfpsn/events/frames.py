"""Events to dense frames and spike trains to time bins.

Frame layout: ``[T, 2, H, W]`` float32 event counts, **channel 0 = OFF** (``p == 0``),
**channel 1 = ON** (``p == 1``), ``H`` rows (``y``), ``W`` columns (``x``), top-left origin
as in :class:`~mfpsn.events.core.Events`.

Three ways to slice a stream into frames (exactly one per call):

- ``n_bins``: a fixed number of frames ``T``. Suits classification networks that need one
  input length for every sample. By default the bins stretch over each stream's own span
  ``[t[0], t[-1] + 1)``; pass ``time_range`` to give every sample the same absolute timing
  (e.g. ``(0, 300_000)`` for the 300 ms saccade recordings), so one bin means the same
  duration everywhere.
- ``duration_us``: a fixed time per frame, ``T`` varies with the recording length. Suits
  long or streaming recordings and anything that must keep a constant temporal resolution
  (plots, online inference).
- ``event_count``: a fixed number of events per frame, ``T`` varies. Suits recordings whose
  event rate swings with scene motion (hand-held cameras, gestures): each frame carries about
  the same amount of information whatever the speed.

``overlap`` makes consecutive windows share content: a fraction in ``[0, 1)`` of the window
for ``n_bins``, microseconds for ``duration_us``, events for ``event_count``.

Every function here is vectorised: the window of each event comes from ``np.searchsorted`` on
the sorted timestamps and one ``np.bincount`` on flat indices ``((k * 2 + p) * H + y) * W + x``
counts them (with overlap, an event is listed once per window that holds it).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mfpsn.events.core import Events

__all__ = [
    "as_events",
    "events_to_frames",
    "spike_train_to_bins",
    "downsample_coordinates",
    "window_bounds",
    "ToFrames",
    "ToSpikeBins",
]


def _as_hw(downsample_to: int | tuple[int, int] | None, width: int, height: int) -> tuple[int, int]:
    """Target ``(H, W)`` of a downsampling request (``None`` keeps the sensor size)."""
    if downsample_to is None:
        return height, width
    if isinstance(downsample_to, (int, np.integer)):
        size = (int(downsample_to), int(downsample_to))
    elif isinstance(downsample_to, (str, bytes)):
        raise ValueError(f"downsample_to: expected an int or a (height, width) pair, found {downsample_to!r}")
    else:
        try:
            size = tuple(int(v) for v in downsample_to)
        except (TypeError, ValueError):
            raise ValueError(
                f"downsample_to: expected an int or a (height, width) pair, found {downsample_to!r}"
            ) from None
    if len(size) != 2 or size[0] < 1 or size[1] < 1:
        raise ValueError(f"downsample_to: expected positive (height, width), found {downsample_to!r}")
    return size[0], size[1]


def downsample_coordinates(events: Events, downsample_to: int | tuple[int, int] | None
                           ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Integer pooling of coordinates onto a ``(height, width)`` grid.

    ``x' = x * W' // W`` and ``y' = y * H' // H``: each target pixel pools a contiguous block of
    about ``W / W'`` sensor columns (exactly ``W / W'`` when it divides). Upsampling (a target
    larger than the sensor) spreads pixels apart without interpolating.

    Args:
        events: the stream.
        downsample_to: an int (square target) or ``(height, width)``; ``None`` keeps the size.

    Returns:
        ``(x, y, H', W')`` with ``x, y: [N]`` int64 on the target grid.
    """
    height, width = _as_hw(downsample_to, events.width, events.height)
    x = events.x.astype(np.int64)
    y = events.y.astype(np.int64)
    if (height, width) != (events.height, events.width):
        x = x * width // events.width
        y = y * height // events.height
    return x, y, height, width


def window_bounds(events: Events, *, n_bins: int | None = None, duration_us: int | None = None,
                  event_count: int | None = None, overlap: float = 0,
                  time_range: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges ``[lo[k], hi[k])`` of the events in each window ``k``.

    Windows (``t0, t1`` = ``time_range`` or ``(t[0], t[-1] + 1)``):

    - ``n_bins = T``: with overlap fraction ``f``, window length ``w = (t1 - t0) / (1 + (T-1)(1-f))``
      and stride ``s = w (1 - f)``; window ``k`` holds ``t0 + k s <= t < min(t0 + k s + w, t1)`` (for ``f = 0``
      the bounds are exact rationals ``t0 + k (t1 - t0) / T``). Always ``T`` windows.
    - ``duration_us = D``, overlap ``o`` µs (``0 <= o < D``): stride ``D - o``, window ``k`` holds
      ``t0 + k (D - o) <= t < t0 + k (D - o) + D``; as many windows as needed to reach ``t1``
      (the last may be incomplete), ``T = max(1, ceil((t1 - t0 - D) / (D - o)) + 1)``.
    - ``event_count = c``, overlap ``o`` events (``0 <= o < c``): window ``k`` holds events
      ``k (c - o) <= i < k (c - o) + c``; ``T = max(1, ceil((N - c) / (c - o)) + 1)``.

    An empty stream gives ``T`` empty windows for ``n_bins`` (or ``duration_us`` with a
    ``time_range``) and no window otherwise.

    Returns:
        ``(lo, hi)``: ``[T]`` int64 each.
    """
    given = [name for name, v in (("n_bins", n_bins), ("duration_us", duration_us),
                                  ("event_count", event_count)) if v is not None]
    if len(given) != 1:
        raise ValueError(
            "events_to_frames: expected exactly one of n_bins, duration_us, event_count, "
            f"found {given or 'none'}")
    n = len(events)
    t = events.t
    if time_range is not None:
        if event_count is not None:
            raise ValueError("time_range: only n_bins and duration_us take a time range, "
                             "found it together with event_count")
        t0, t1 = (int(v) for v in time_range)
        if t1 <= t0:
            raise ValueError(f"time_range: expected t_start < t_end, found {time_range!r}")
    elif n:
        t0, t1 = int(t[0]), int(t[-1]) + 1
    else:
        t0 = t1 = 0

    if n_bins is not None:
        if int(n_bins) != n_bins or n_bins < 1:
            raise ValueError(f"n_bins: expected a positive integer, found {n_bins!r}")
        if not 0 <= overlap < 1:
            raise ValueError(f"overlap: with n_bins expected a fraction in [0, 1), found {overlap!r}")
        n_bins = int(n_bins)
        span = t1 - t0
        k = np.arange(n_bins, dtype=np.int64)
        if overlap == 0:
            # Exact integer bounds: the first integer t >= t0 + k * span / n_bins.
            starts = t0 + (-((-k * span) // n_bins))
            ends = np.append(starts[1:], t1)
        else:
            w = span / (1 + (n_bins - 1) * (1 - overlap))
            starts_f = t0 + k * (w * (1 - overlap))
            starts = np.ceil(starts_f).astype(np.int64)
            ends = np.minimum(np.ceil(starts_f + w).astype(np.int64), t1)
        return (np.searchsorted(t, starts, side="left").astype(np.int64),
                np.searchsorted(t, ends, side="left").astype(np.int64))

    if duration_us is not None:
        if int(duration_us) != duration_us or duration_us < 1:
            raise ValueError(f"duration_us: expected a positive integer, found {duration_us!r}")
        duration_us = int(duration_us)
        if int(overlap) != overlap or not 0 <= overlap < duration_us:
            raise ValueError(
                f"overlap: with duration_us expected integer microseconds in [0, {duration_us}), "
                f"found {overlap!r}")
        if not n and time_range is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        stride = duration_us - int(overlap)
        n_win = max(1, -(-(t1 - t0 - duration_us) // stride) + 1)
        starts = t0 + np.arange(n_win, dtype=np.int64) * stride
        ends = np.minimum(starts + duration_us, t1)
        return (np.searchsorted(t, starts, side="left").astype(np.int64),
                np.searchsorted(t, ends, side="left").astype(np.int64))

    if int(event_count) != event_count or event_count < 1:
        raise ValueError(f"event_count: expected a positive integer, found {event_count!r}")
    event_count = int(event_count)
    if int(overlap) != overlap or not 0 <= overlap < event_count:
        raise ValueError(
            f"overlap: with event_count expected an integer number of events in [0, {event_count}), "
            f"found {overlap!r}")
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    stride = event_count - int(overlap)
    n_win = max(1, -(-(n - event_count) // stride) + 1)
    lo = np.arange(n_win, dtype=np.int64) * stride
    return lo, np.minimum(lo + event_count, n)


def _frames_from_ranges(p: np.ndarray, y: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                        height: int, width: int) -> np.ndarray:
    """``[T, 2, H, W]`` float32 where frame ``k`` counts events ``lo[k] <= i < hi[k]``.

    Each event is listed once per window that holds it (once in total without overlap), then
    one ``np.bincount`` over flat indices ``((k * 2 + p) * H + y) * W + x`` counts them.
    """
    n_win = lo.shape[0]
    sizes = hi - lo
    total = int(sizes.sum())
    win = np.repeat(np.arange(n_win, dtype=np.int64), sizes)
    if n_win == 1 or bool(np.all(lo[1:] == hi[:-1])):
        idx = slice(int(lo[0]), int(hi[-1])) if n_win else slice(0, 0)
    else:
        offsets = np.cumsum(sizes) - sizes
        idx = np.arange(total, dtype=np.int64) + np.repeat(lo - offsets, sizes)
    flat = ((win * 2 + p[idx]) * height + y[idx]) * width + x[idx]
    counts = np.bincount(flat, minlength=n_win * 2 * height * width)
    return counts.reshape(n_win, 2, height, width).astype(np.float32)


def as_events(events: Events | np.ndarray, sensor_size: tuple[int, ...] | None = None) -> Events:
    """``events`` itself, or a tonic structured array (fields x, y, t, p) / SpikingJelly dict as :class:`Events`
    (:meth:`Events.from_structured`). Without ``sensor_size`` an array's sensor is ``(max x + 1, max y + 1)``."""
    if isinstance(events, Events):
        if sensor_size is not None and tuple(sensor_size)[:2] != events.sensor_size:
            raise ValueError(f"sensor_size: expected the stream's {events.sensor_size} (or None) for Events, "
                             f"found {tuple(sensor_size)}")
        return events
    if sensor_size is None:
        names = tuple(events) if isinstance(events, Mapping) else (getattr(events.dtype, "names", None) or ())
        if "x" not in names:
            raise ValueError(f"events: expected Events, a structured array with fields x, y, t, p or a dict of "
                             f"those arrays, found {type(events).__name__}")
        x = np.asarray(events["x"])
        y = np.asarray(events["y"]) if "y" in names else np.zeros(1, np.int64)
        sensor_size = (int(x.max()) + 1 if x.size else 1, int(y.max()) + 1 if y.size else 1)
    return Events.from_structured(events, sensor_size)


def events_to_frames(events: Events | np.ndarray, *, n_bins: int | None = None, duration_us: int | None = None,
                     event_count: int | None = None, overlap: float = 0,
                     downsample_to: int | tuple[int, int] | None = None,
                     time_range: tuple[int, int] | None = None,
                     sensor_size: tuple[int, ...] | None = None, max_bytes: int | None = None) -> np.ndarray:
    """Count events into frames.

    Args:
        events: the stream (time-ordered, as every :class:`Events` is), or a tonic structured array / SpikingJelly
            dict (see :func:`as_events`; give tonic's ``sensor_size`` to fix H and W).
        sensor_size: ``(W, H[, P])`` of an array input (tonic's convention); for Events None or its own size.
        n_bins | duration_us | event_count: exactly one; how to slice (see the module docstring
            and :func:`window_bounds` for the exact window bounds).
        overlap: window overlap; a fraction for ``n_bins``, µs for ``duration_us``, events for
            ``event_count``.
        downsample_to: target ``(height, width)`` or an int for a square, by integer pooling of
            coordinates (:func:`downsample_coordinates`); ``None`` keeps the sensor size.
        time_range: ``(t_start, t_end)`` µs, absolute, for ``n_bins`` / ``duration_us``: windows
            cover this range instead of the stream's own span; events outside are dropped.
        max_bytes: refuse (``ValueError``) frames whose counting would take more than this many bytes
            (12 per element: the int64 counts and the float32 result), checked before allocating;
            ``None``: no limit. A header may declare any sensor up to 65536 x 65536.

    Returns:
        ``[T, 2, H, W]`` float32 counts; channel 0 = OFF, channel 1 = ON.
    """
    events = as_events(events, sensor_size)
    lo, hi = window_bounds(events, n_bins=n_bins, duration_us=duration_us, event_count=event_count,
                           overlap=overlap, time_range=time_range)
    height, width = _as_hw(downsample_to, events.width, events.height)
    if max_bytes is not None:
        need = int(lo.shape[0]) * 2 * height * width * 12
        if need > max_bytes:
            raise ValueError(f"events_to_frames: frames of {lo.shape[0]}x2x{height}x{width} need {need} bytes, "
                             f"more than max_bytes={max_bytes}; pass downsample_to or fewer windows")
    x, y, height, width = downsample_coordinates(events, downsample_to)
    return _frames_from_ranges(events.p.astype(np.int64), y, x, lo, hi, height, width)


def spike_train_to_bins(events: Events, n_bins: int | None = None, bin_us: int | None = None,
                        n_units: int = 700, pool: int = 1, t_start: int | None = 0) -> np.ndarray:
    """Bin a spike train (SHD layout: ``x`` = unit, ``height`` 1) into spike counts.

    Time axis, starting at ``t_start`` (default 0, the stimulus onset of SHD samples; ``None``
    starts at the first spike), ``t_end = t[-1] + 1``:

    - only ``bin_us`` (the default, 10 ms when neither is given): ``T = ceil((t_end - t_start) / bin_us)``
      bins of ``bin_us``; bin ``k`` holds ``t_start + k bin_us <= t < t_start + (k+1) bin_us``.
    - only ``n_bins``: the span ``[t_start, t_end)`` split into ``n_bins`` equal bins (exact
      rational bounds as in :func:`window_bounds`).
    - both: ``n_bins`` bins of ``bin_us`` each; spikes after the last bin are dropped (a fixed
      length for batching).

    Spikes before ``t_start`` are dropped. Polarity is ignored. Units are pooled in groups of
    ``pool`` neighbours (``700 -> 140`` for ``pool = 5``, as SNN-delays does).

    Returns:
        ``[T, n_units // pool]`` float32 spike counts.
    """
    if events.height != 1:
        raise ValueError(
            f"spike_train_to_bins: expected a spike train with height 1 (x = unit), found a "
            f"{events.width}x{events.height} sensor; use events_to_frames for cameras")
    if int(pool) != pool or pool < 1 or n_units % pool:
        raise ValueError(f"pool: expected a positive divisor of n_units={n_units}, found {pool!r}")
    if n_units < 1:
        raise ValueError(f"n_units: expected a positive integer, found {n_units!r}")
    if len(events) and int(events.x.max()) >= n_units:
        raise ValueError(
            f"spike_train_to_bins: expected units below n_units={n_units}, found unit {int(events.x.max())}")
    if n_bins is not None and (int(n_bins) != n_bins or n_bins < 1):
        raise ValueError(f"n_bins: expected a positive integer, found {n_bins!r}")
    if bin_us is not None and (int(bin_us) != bin_us or bin_us < 1):
        raise ValueError(f"bin_us: expected a positive integer, found {bin_us!r}")
    if n_bins is None and bin_us is None:
        bin_us = 10_000
    t = events.t
    start = (int(t[0]) if len(events) else 0) if t_start is None else int(t_start)
    end = int(t[-1]) + 1 if len(events) else start
    units = events.x.astype(np.int64) // pool
    rel = t - start
    if bin_us is not None and n_bins is not None:
        n_t = int(n_bins)
        b = rel // bin_us
    elif bin_us is not None:
        n_t = max(0, -(-(end - start) // bin_us))
        b = rel // bin_us
    else:
        n_t = int(n_bins)
        span = max(end - start, 1)
        b = rel * n_t // span
    keep = (rel >= 0) & (b < n_t)
    width = n_units // pool
    counts = np.bincount(b[keep] * width + units[keep], minlength=n_t * width)
    return counts.reshape(n_t, width).astype(np.float32)


@dataclass(frozen=True)
class ToFrames:
    """Transform ``Events -> [T, 2, H, W]`` float32 (channel 0 = OFF, 1 = ON), like tonic's ``ToFrame``.

    Which slicing suits which case:

    - ``n_bins``: fixed ``T`` for classifiers; add ``time_range`` so every sample shares one timing.
    - ``duration_us``: constant temporal resolution for long or streaming recordings (``T`` varies).
    - ``event_count``: constant information per frame when the event rate follows motion (``T`` varies).

    ``time_range`` is absolute, or relative to the recording's first event with ``time_range_from_first`` (how
    the model cards store it: a recording read from a file keeps its own clock). See :func:`events_to_frames`
    for the other arguments. :meth:`to_dict` / :meth:`from_dict` give the JSON form written into model cards,
    so training, evaluation, ``predict`` and the app bin a recording with this one object.
    """

    n_bins: int | None = None
    duration_us: int | None = None
    event_count: int | None = None
    overlap: float = 0
    downsample_to: int | tuple[int, int] | None = None
    time_range: tuple[int, int] | None = None
    time_range_from_first: bool = False

    NAME = "to_frames"

    def __post_init__(self) -> None:
        given = [v for v in (self.n_bins, self.duration_us, self.event_count) if v is not None]
        if len(given) != 1:
            raise ValueError("ToFrames: expected exactly one of n_bins, duration_us, event_count, "
                             f"found {len(given)}")
        _as_hw(self.downsample_to, 1, 1)
        if self.time_range is not None:
            object.__setattr__(self, "time_range", tuple(int(v) for v in self.time_range))

    def absolute_time_range(self, events: Events) -> tuple[int, int] | None:
        """The absolute ``time_range`` for ``events`` (None: the stream's own span)."""
        if self.time_range is None or not self.time_range_from_first:
            return self.time_range
        start = int(events.t[0]) if len(events) else 0
        return start + self.time_range[0], start + self.time_range[1]

    def for_recording(self, events: Events) -> "ToFrames":
        """This transform with its time range fixed to the whole recording ``events`` (absolute; with ``n_bins``
        and no range, the recording's ``[first event, last event]``), for binning a part of it (a cropped
        window) on the recording's own timing."""
        rng = self.absolute_time_range(events)
        if rng is None and self.n_bins is not None and len(events):
            rng = (int(events.t[0]), int(events.t[-1]) + 1)
        return ToFrames(self.n_bins, self.duration_us, self.event_count, self.overlap, self.downsample_to, rng)

    def __call__(self, events: Events, max_bytes: int | None = None) -> np.ndarray:
        return events_to_frames(events, n_bins=self.n_bins, duration_us=self.duration_us,
                                event_count=self.event_count, overlap=self.overlap,
                                downsample_to=self.downsample_to, time_range=self.absolute_time_range(events),
                                max_bytes=max_bytes)

    def to_dict(self) -> dict:
        """JSON form (``{"name": "to_frames", ...}``), the inverse of :meth:`from_dict`."""
        return {"name": self.NAME, "n_bins": self.n_bins, "duration_us": self.duration_us,
                "event_count": self.event_count, "overlap": self.overlap,
                "downsample_to": list(self.downsample_to) if isinstance(self.downsample_to, tuple)
                else self.downsample_to, "time_range": None if self.time_range is None else list(self.time_range),
                "time_range_from_first": self.time_range_from_first}

    @classmethod
    def from_dict(cls, d: dict) -> "ToFrames":
        """The transform of :meth:`to_dict`'s output; ``ValueError`` naming the field for anything else."""
        return cls(**_fields(d, cls.NAME, ("n_bins", "duration_us", "event_count", "overlap", "downsample_to",
                                          "time_range", "time_range_from_first")))


@dataclass(frozen=True)
class ToSpikeBins:
    """Transform spike train ``Events -> [T, n_units // pool]`` float32 (see :func:`spike_train_to_bins`).

    Use ``bin_us`` alone for the SNN-delays recipe (10 ms bins, variable ``T``), ``n_bins`` and
    ``bin_us`` together for a fixed length per batch. :meth:`to_dict` / :meth:`from_dict`: its card form.
    """

    n_bins: int | None = None
    bin_us: int | None = None
    n_units: int = 700
    pool: int = 1
    t_start: int | None = 0

    NAME = "to_spike_bins"

    def __post_init__(self) -> None:
        if int(self.pool) != self.pool or self.pool < 1 or self.n_units % self.pool:
            raise ValueError(f"ToSpikeBins.pool: expected a positive divisor of n_units={self.n_units}, "
                             f"found {self.pool!r}")

    def __call__(self, events: Events) -> np.ndarray:
        return spike_train_to_bins(events, n_bins=self.n_bins, bin_us=self.bin_us,
                                   n_units=self.n_units, pool=self.pool, t_start=self.t_start)

    def to_dict(self) -> dict:
        """JSON form (``{"name": "to_spike_bins", ...}``), the inverse of :meth:`from_dict`."""
        return {"name": self.NAME, "n_bins": self.n_bins, "bin_us": self.bin_us, "n_units": self.n_units,
                "pool": self.pool, "t_start": self.t_start}

    @classmethod
    def from_dict(cls, d: dict) -> "ToSpikeBins":
        """The transform of :meth:`to_dict`'s output; ``ValueError`` naming the field for anything else."""
        return cls(**_fields(d, cls.NAME, ("n_bins", "bin_us", "n_units", "pool", "t_start")))


def _fields(d: dict, name: str, keys: tuple[str, ...]) -> dict:
    """The ``keys`` of a transform's JSON form ``d`` (``d["name"] == name``), ints checked, lists as tuples."""
    if not isinstance(d, dict) or d.get("name") != name:
        raise ValueError(f"transform: expected an object with name {name!r}, found {str(d)[:80]}")
    unknown = sorted(set(d) - set(keys) - {"name"})
    if unknown:
        raise ValueError(f"transform {name}: unknown fields {unknown}")
    out = {}
    for k in keys:
        if k not in d:
            continue
        v = d[k]
        if isinstance(v, list):
            if not all(isinstance(i, int) and not isinstance(i, bool) for i in v) or len(v) != 2:
                raise ValueError(f"transform {name}.{k}: expected two integers, found {v!r}")
            v = tuple(v)
        elif k == "time_range_from_first":
            if not isinstance(v, bool):
                raise ValueError(f"transform {name}.{k}: expected true or false, found {v!r}")
        elif v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool)):
            raise ValueError(f"transform {name}.{k}: expected a number or null, found {v!r}")
        out[k] = v
    return out
