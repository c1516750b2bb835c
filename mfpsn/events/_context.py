"""Shared reading machinery: limits, the error helper and the final checks.

Every format reader receives a :class:`ReadContext` and ends with
:meth:`ReadContext.finish`, which applies the rules of ``mfpsn.events.core``:

- the number of events must not exceed ``max_events`` and the file size must not
  exceed ``max_bytes`` (the message names the limit);
- every coordinate must lie on the sensor, polarity must be 0 or 1;
- timestamps must be non-decreasing. Policy (``on_unsorted``): ``"sort"`` (the
  default) applies a *stable* sort by time, so events with equal timestamps keep
  their file order, and records how many backward steps were found in
  ``meta["backward_steps"]``; ``"reject"`` raises :class:`EventFormatError`
  naming the first backward step.
- timestamps must be >= 0 and coordinates below 65536;
- a file without events is an error unless ``allow_empty=True``.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mfpsn.events.core import Events
from mfpsn.events.errors import EventFormatError

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_EVENTS", "UNSORTED_POLICIES", "MAX_T0_US", "ReadContext",
           "open_regular", "read_regular"]

DEFAULT_MAX_BYTES = 4 * 1024**3
DEFAULT_MAX_EVENTS = 500_000_000
UNSORTED_POLICIES = ("sort", "reject")
MAX_T0_US = 1 << 60  # largest header time offset (µs, 36 000 years); keeps t + t0 inside int64


def open_regular(path: str, fmt: str | None) -> tuple[int, int]:
    """Open ``path`` read-only without blocking; returns ``(fd, size)`` of a regular file.

    FIFOs, sockets, devices and directories are refused (a FIFO would block a plain ``open``;
    ``O_NONBLOCK`` makes the open return at once and ``fstat`` on the open descriptor then tells
    what it is, with no race between the check and the read). The caller closes ``fd``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise EventFormatError(path, fmt, f"cannot open file: {exc.strerror or type(exc).__name__}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a directory" if stat.S_ISDIR(st.st_mode)
                    else "a socket" if stat.S_ISSOCK(st.st_mode) else "a device" if
                    (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) else "not a regular file")
            raise EventFormatError(path, fmt, f"expected a regular file, found {kind}")
    except BaseException:
        os.close(fd)
        raise
    return fd, int(st.st_size)


def read_regular(path: str, fmt: str | None, limit: int, *, head: int | None = None) -> tuple[bytes, int]:
    """``(bytes, size)``: the first ``head`` bytes (all when None) of the regular file ``path``.

    Raises EventFormatError for a non-regular file or one larger than ``limit`` bytes (checked on
    the open descriptor before anything is read). Reads in blocks of what is present, so memory is
    the bytes in the file (never a buffer sized from ``limit``).
    """
    fd, size = open_regular(path, fmt)
    try:
        if size > limit:
            raise EventFormatError(path, fmt, f"file size {size} bytes exceeds the limit max_bytes={limit}")
        want = size if head is None else min(size, head)
        parts, got = [], 0
        while got < want:
            block = os.read(fd, min(want - got, 1 << 24))
            if not block:
                break  # the file shrank while being read: use what is there
            parts.append(block)
            got += len(block)
    except OSError as exc:
        raise EventFormatError(path, fmt, f"cannot read file: {exc.strerror or type(exc).__name__}") from exc
    finally:
        os.close(fd)
    return b"".join(parts) if len(parts) != 1 else parts[0], size


@dataclass
class ReadContext:
    """What a format reader needs besides the bytes: the source, limits and options.

    Attributes:
        path: the file being read (used in every message).
        fmt: the format name being tried.
        max_bytes: largest accepted file size (and decompressed member size).
        max_events: largest accepted number of events.
        on_unsorted: ``"sort"`` or ``"reject"`` (see module docstring).
        sensor_size: ``(width, height)`` overriding what the file says or implies.
        index: sample index for multi-sample files (SHD, labelled AEDAT 3.1), else None.
        allow_empty: return an empty Events instead of raising when no event is found.
        options: format-specific options (e.g. ``layout`` for AEDAT 2.0).
    """

    path: str
    fmt: str
    max_bytes: int = DEFAULT_MAX_BYTES
    max_events: int = DEFAULT_MAX_EVENTS
    on_unsorted: str = "sort"
    sensor_size: tuple[int, int] | None = None
    index: int | None = None
    allow_empty: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- errors
    def error(self, problem: str) -> EventFormatError:
        """An EventFormatError naming this file and format."""
        return EventFormatError(self.path, self.fmt, problem)

    # ----------------------------------------------------------------- input
    def file_size(self) -> int:
        """The size of the file after checking it is a regular file within ``max_bytes``."""
        fd, size = open_regular(self.path, self.fmt)
        os.close(fd)
        if size == 0:
            raise self.error("the file is empty (0 bytes)")
        if size > self.max_bytes:
            raise self.error(f"file size {size} bytes exceeds the limit max_bytes={self.max_bytes}")
        return size

    def read_bytes(self) -> bytes:
        """The whole file, after the checks of :meth:`file_size`; memory is the file's size."""
        data, size = read_regular(self.path, self.fmt, self.max_bytes)
        if size == 0 or not data:
            raise self.error("the file is empty (0 bytes)")
        return data

    def check_count(self, n: int, what: str = "events") -> None:
        """Raise when ``n`` exceeds ``max_events`` (call before allocating per-event arrays)."""
        if n > self.max_events:
            raise self.error(f"{n} {what} exceed the limit max_events={self.max_events}")

    def no_index(self) -> None:
        if self.index is not None:
            raise self.error(f"index={self.index} was given, but this format holds a single recording")

    # ---------------------------------------------------------------- output
    def sensor(self, width: int | None, height: int | None, x: np.ndarray, y: np.ndarray) -> tuple[int, int]:
        """The sensor size: the override, else the file's, else max coordinate + 1."""
        if self.sensor_size is not None:
            w, h = (int(v) for v in self.sensor_size)
            if w < 1 or h < 1:
                raise ValueError(f"sensor_size: expected two positive integers, found {self.sensor_size}")
            return w, h
        w = int(width) if width else (int(x.max()) + 1 if x.size else 1)
        h = int(height) if height else (int(y.max()) + 1 if y.size else 1)
        return w, h

    def finish(self, t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray,
               width: int | None, height: int | None, meta: dict[str, Any] | None = None) -> Events:
        """Check decoded fields against the rules above and build the Events.

        ``t, x, y, p``: [N] integer arrays of any signed or unsigned dtype.
        ``width``/``height``: the stored sensor size, or None when the file has none.
        ``meta["sensor_from"]`` says where the size came from: ``"given"`` (``sensor_size=``), ``"file"`` or
        ``"largest coordinate + 1"`` (a guess).
        """
        n = int(t.shape[0])
        self.check_count(n)
        if n == 0 and not self.allow_empty:
            raise self.error("the file holds no events (pass allow_empty=True to accept that)")
        w, h = self.sensor(width, height, x, y)
        if w > 65536 or h > 65536:
            raise self.error(f"sensor size {w}x{h} exceeds the 16-bit coordinate range (65536)")
        meta = dict(meta or {})
        meta.setdefault("sensor_from", "given" if self.sensor_size is not None else
                        "file" if width and height else "largest coordinate + 1")
        meta.setdefault("source", self.path)
        meta.setdefault("format", self.fmt)
        if n:
            bad = np.flatnonzero((x < 0) | (x >= w) | (y < 0) | (y >= h))
            if bad.size:
                i = int(bad[0])
                raise self.error(f"event {i} at (x={int(x[i])}, y={int(y[i])}) lies outside the {w}x{h} "
                                 f"sensor ({bad.size} such events)")
            badp = np.flatnonzero((p != 0) & (p != 1))
            if badp.size:
                i = int(badp[0])
                raise self.error(f"event {i} has polarity {int(p[i])}, expected 0 or 1")
            if int(t.min()) < 0:
                i = int(np.argmin(t))
                raise self.error(f"event {i} has a negative timestamp {int(t[i])} us")
            back = np.flatnonzero(t[1:] < t[:-1])
            meta["backward_steps"] = int(back.size)
            if back.size:
                if self.on_unsorted == "reject":
                    i = int(back[0])
                    raise self.error(f"timestamps go backwards at event {i + 1} ({int(t[i])} -> {int(t[i + 1])} us); "
                                     f"{back.size} backward steps (on_unsorted='reject')")
                order = np.argsort(t, kind="stable")
                t, x, y, p = t[order], x[order], y[order], p[order]
        return Events(t, x, y, p, w, h, meta)
