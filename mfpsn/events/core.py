"""The one event type of mfpsn.

Convention (shared by every reader and writer):

- ``t``: int64 microseconds, absolute as stored in the file (plus any header t0).
- ``x``, ``y``: uint16 pixel coordinates, origin top-left, y pointing down, as the
  format stores them (no mirroring or transposing; orientation changes are named
  options of the readers).
- ``p``: uint8, 1 = ON (brightness increase), 0 = OFF.
- ``width``, ``height``: sensor size; every event satisfies ``x < width`` and
  ``y < height``.
- Events are time-ordered (non-decreasing ``t``).

Spike trains (SHD) use the same type with ``x = unit``, ``y = 0``, ``p = 1``,
``height = 1``.

Interop with tonic and SpikingJelly (the libraries' own arrays in, tonic's layout out):

- :meth:`Events.from_structured` takes a numpy structured array with fields ``x``, ``y``, ``t``, ``p`` in any
  order and integer/bool dtypes (tonic's readers and data sets: ``tonic.io.events_struct`` = x i2, y i2, t i8,
  p bool; ``tonic.datasets.NMNIST.dtype`` = all i8; SHD without ``y``), or a mapping of 1-D arrays with those
  keys (SpikingJelly's ``{"t", "x", "y", "p"}`` dicts of its ``.npz`` event files), plus tonic's
  ``sensor_size`` ``(W, H, P)`` (or ``(W, H)``, or ``(units,)``).
- :meth:`Events.to_structured` returns tonic's data-set layout (:data:`TONIC_DTYPE`, x, y, t, p all int64,
  p in {0, 1}): every tonic transform accepts it, ToVoxelGrid included (it writes ``p = −1`` in place, which
  a bool or unsigned polarity cannot hold). ``layout="compact"`` gives the small t i8, x u2, y u2, p u1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np

from mfpsn.events.errors import EventFormatError

__all__ = ["Events", "TONIC_DTYPE", "COMPACT_DTYPE"]

#: tonic's data-set dtype (``tonic.datasets.NMNIST.dtype``): signed, so ToVoxelGrid can map p 0 → −1 in place.
TONIC_DTYPE = np.dtype([("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
#: The compact layout of mfpsn's ``.npy`` writer.
COMPACT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
_LAYOUTS = {"tonic": TONIC_DTYPE, "compact": COMPACT_DTYPE}


def _int_column(values: Any, name: str) -> np.ndarray:
    """A 1-D integer copy of one field; floats only when every value is a whole number."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"Events.from_structured: expected field {name!r} to be 1-D, found shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"Events.from_structured: expected whole numbers in field {name!r} "
                             f"(t in microseconds), found non-integer values of dtype {arr.dtype}")
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"Events.from_structured: expected an integer or bool field {name!r}, found {arr.dtype}")
    return arr.astype(np.int64)


def _sensor(sensor_size: Sequence[int], has_y: bool) -> tuple[int, int]:
    try:
        size = [int(v) for v in sensor_size]
    except (TypeError, ValueError):
        raise ValueError(f"Events.from_structured: expected sensor_size (W, H[, P]) or (units,), "
                         f"found {sensor_size!r}") from None
    if not 1 <= len(size) <= 3 or (len(size) == 1 and has_y) or min(size) < 1:
        raise ValueError(f"Events.from_structured: expected sensor_size (W, H[, P]) or (units,) of positive "
                         f"ints, found {sensor_size!r}")
    return size[0], size[1] if len(size) > 1 else 1


@dataclass(frozen=True, eq=False)
class Events:
    """A time-ordered stream of events from one sensor.

    Attributes:
        t: [N] int64, microseconds.
        x: [N] uint16, column, 0 ≤ x < width.
        y: [N] uint16, row, 0 ≤ y < height (top-left origin).
        p: [N] uint8, polarity, 1 = ON, 0 = OFF.
        width: sensor width in pixels (or units for spike trains).
        height: sensor height in pixels (1 for spike trains).
        meta: free-form information from the file (label, speaker, source path, ...).
    """

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    width: int
    height: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "t", np.ascontiguousarray(self.t, dtype=np.int64))
        object.__setattr__(self, "x", np.ascontiguousarray(self.x, dtype=np.uint16))
        object.__setattr__(self, "y", np.ascontiguousarray(self.y, dtype=np.uint16))
        object.__setattr__(self, "p", np.ascontiguousarray(self.p, dtype=np.uint8))
        n = self.t.shape[0]
        for name in ("t", "x", "y", "p"):
            arr = getattr(self, name)
            if arr.ndim != 1 or arr.shape[0] != n:
                raise ValueError(
                    f"Events.{name}: expected a 1-D array of {n} elements, found shape {arr.shape}"
                )
        if int(self.width) < 1 or int(self.height) < 1:
            raise ValueError(f"Events: sensor size must be positive, found {self.width}x{self.height}")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return int(self.t.shape[0])

    def __repr__(self) -> str:
        span = f", t=[{self.t[0]}, {self.t[-1]}] us" if len(self) else ""
        return f"Events(n={len(self)}, sensor={self.width}x{self.height}{span})"

    @property
    def sensor_size(self) -> tuple[int, int]:
        """(width, height)."""
        return (self.width, self.height)

    @property
    def duration_us(self) -> int:
        """Last minus first timestamp in microseconds (0 when empty)."""
        return int(self.t[-1] - self.t[0]) if len(self) else 0

    def _take(self, index: Any) -> "Events":
        return Events(self.t[index], self.x[index], self.y[index], self.p[index],
                      self.width, self.height, dict(self.meta))

    def __getitem__(self, index: Any) -> "Events":
        """Index with a slice, an integer array or a boolean mask; returns Events."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 if int(index) != -1 else None)
        return self._take(index)

    def time_slice(self, t_start: int | None = None, t_end: int | None = None) -> "Events":
        """Events with ``t_start <= t < t_end`` (µs, absolute). Uses binary search."""
        lo = 0 if t_start is None else int(np.searchsorted(self.t, t_start, side="left"))
        hi = len(self) if t_end is None else int(np.searchsorted(self.t, t_end, side="left"))
        return self._take(slice(lo, max(lo, hi)))

    def relative(self) -> "Events":
        """A copy whose first event is at t = 0."""
        if not len(self):
            return self
        return Events(self.t - self.t[0], self.x, self.y, self.p, self.width, self.height,
                      dict(self.meta, t0=int(self.t[0])))

    def to_structured(self, layout: str = "tonic") -> np.ndarray:
        """[N] structured array: ``"tonic"`` (:data:`TONIC_DTYPE`: x, y, t, p int64, p in {0, 1}) or
        ``"compact"`` (:data:`COMPACT_DTYPE`: t i8, x u2, y u2, p u1). A new array (tonic transforms may write
        into theirs)."""
        if layout not in _LAYOUTS:
            raise ValueError(f"Events.to_structured: expected layout in {tuple(_LAYOUTS)}, found {layout!r}")
        out = np.empty(len(self), dtype=_LAYOUTS[layout])
        out["t"], out["x"], out["y"], out["p"] = self.t, self.x, self.y, self.p
        return out

    @classmethod
    def from_structured(cls, events: np.ndarray | Mapping[str, Any], sensor_size: Sequence[int],
                        meta: dict[str, Any] | None = None) -> "Events":
        """Events from tonic's structured arrays or SpikingJelly's dicts (see the module docstring).

        Args:
            events: [N] structured array with fields ``x``, ``t``, ``p`` and optionally ``y`` (any order, integer
                or bool, ``t`` in µs), or a mapping with those keys.
            sensor_size: tonic's ``(W, H, P)``, or ``(W, H)``, or ``(units,)`` for a spike train without ``y``.
            meta: stored as :attr:`meta`.

        Polarity: ``p > 0`` is ON (1), anything else OFF (0), so {0, 1}, {False, True} and {−1, +1} all map.
        Events out of time order are stable-sorted by ``t`` (``meta["sorted"] = True`` then). The result is
        validated (coordinates on the sensor).
        """
        if isinstance(events, Mapping):
            names = tuple(events)
        else:
            names = getattr(getattr(events, "dtype", None), "names", None) or ()
        missing = [k for k in ("x", "t", "p") if k not in names]
        if missing:
            raise ValueError(f"Events.from_structured: expected fields x, y, t, p (y optional), found "
                             f"{list(names) or type(events).__name__} (missing {missing})")
        t, x, p = (_int_column(events[k], k) for k in ("t", "x", "p"))
        has_y = "y" in names
        y = _int_column(events["y"], "y") if has_y else np.zeros_like(x)
        if not (t.shape == x.shape == y.shape == p.shape):
            raise ValueError(f"Events.from_structured: expected fields of one length, found t {t.shape}, "
                             f"x {x.shape}, y {y.shape}, p {p.shape}")
        width, height = _sensor(sensor_size, has_y)
        if x.size and (x.min() < 0 or y.min() < 0 or x.max() >= width or y.max() >= height):
            raise ValueError(f"Events.from_structured: expected 0 <= x < {width} and 0 <= y < {height} "
                             f"(sensor_size {tuple(sensor_size)}), found x in [{x.min()}, {x.max()}], "
                             f"y in [{y.min()}, {y.max()}]")
        info = dict(meta or {})
        if t.size > 1 and np.any(np.diff(t) < 0):
            order = np.argsort(t, kind="stable")
            t, x, y, p = t[order], x[order], y[order], p[order]
            info["sorted"] = True
        return cls(t, x, y, (p > 0).astype(np.uint8), width, height, info).validate("from_structured")

    @staticmethod
    def concatenate(parts: Sequence["Events"]) -> "Events":
        """Concatenate streams of one sensor size, then stable-sort by time."""
        if not parts:
            raise ValueError("Events.concatenate: expected at least one Events, found none")
        w, h = parts[0].width, parts[0].height
        for e in parts:
            if (e.width, e.height) != (w, h):
                raise ValueError(
                    f"Events.concatenate: expected sensor {w}x{h} for every part, found {e.width}x{e.height}"
                )
        t = np.concatenate([e.t for e in parts])
        order = np.argsort(t, kind="stable")
        return Events(t[order], np.concatenate([e.x for e in parts])[order],
                      np.concatenate([e.y for e in parts])[order],
                      np.concatenate([e.p for e in parts])[order], w, h, dict(parts[0].meta))

    def validate(self, source: str = "<memory>") -> "Events":
        """Raise EventFormatError unless coordinates lie on the sensor, p in {0, 1} and t is sorted."""
        n = len(self)
        if n:
            bad = np.flatnonzero((self.x >= self.width) | (self.y >= self.height))
            if bad.size:
                i = int(bad[0])
                raise EventFormatError(
                    source, None,
                    f"event {i} at (x={self.x[i]}, y={self.y[i]}) lies outside the "
                    f"{self.width}x{self.height} sensor ({bad.size} such events)")
            badp = np.flatnonzero(self.p > 1)
            if badp.size:
                raise EventFormatError(source, None,
                                       f"event {int(badp[0])} has polarity {self.p[badp[0]]}, expected 0 or 1")
            back = np.flatnonzero(np.diff(self.t) < 0)
            if back.size:
                i = int(back[0])
                raise EventFormatError(
                    source, None,
                    f"timestamps go backwards at event {i + 1} ({self.t[i]} -> {self.t[i + 1]} us)")
        return self
