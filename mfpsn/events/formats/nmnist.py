"""N-MNIST / N-Caltech101 ``.bin`` (Orchard et al. 2015, ATIS sensor).

Layout: no header; 5 bytes per event: byte 0 = x, byte 1 = y, byte 2 bit 7 = polarity,
byte 2 bits 6-0 = t[22:16], byte 3 = t[15:8], byte 4 = t[7:0]; t in µs (23 bits).

Mapping onto ``mfpsn.events.core``: x, y as stored (origin top-left, as the ATIS files
store them), p = bit 7 (1 = ON), t as stored. Rows with y = 240 are timestamp-overflow
markers (the reference reader gorchard/event-Python): they are dropped and 2^13 µs is added
to every later timestamp, exactly as that reader does. The sensor size is not stored:
34x34 (N-MNIST) when every coordinate fits, else max coordinate + 1 (override with
``sensor_size``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mfpsn.events._context import ReadContext
from mfpsn.events.core import Events
from mfpsn.events.errors import EventFormatError
from mfpsn.events.formats.record import FormatRecord

__all__ = ["FORMAT", "read", "write"]

RECORD = 5
OVERFLOW_Y = 240
OVERFLOW_STEP = 1 << 13
NMNIST_SIZE = 34


def read(ctx: ReadContext) -> Events:
    ctx.no_index()
    buf = ctx.read_bytes()
    if len(buf) % RECORD:
        raise ctx.error(f"size {len(buf)} bytes is not a multiple of the {RECORD}-byte record "
                        f"(truncated: {len(buf) % RECORD} trailing bytes)")
    ctx.check_count(len(buf) // RECORD)
    a = np.frombuffer(buf, np.uint8).reshape(-1, RECORD)
    x = a[:, 0].astype(np.int64)
    y = a[:, 1].astype(np.int64)
    p = a[:, 2] >> 7
    t = ((a[:, 2].astype(np.int64) & 0x7F) << 16) | (a[:, 3].astype(np.int64) << 8) | a[:, 4]
    overflow = y == OVERFLOW_Y
    if overflow.any():
        t = t + np.cumsum(overflow) * OVERFLOW_STEP
        keep = ~overflow
        t, x, y, p = t[keep], x[keep], y[keep], p[keep]
    fits = x.size and int(x.max()) < NMNIST_SIZE and int(y.max()) < NMNIST_SIZE
    size = NMNIST_SIZE if fits else None
    return ctx.finish(t, x, y, p, size, size, {"overflow_markers": int(overflow.sum())})


def write(path: str | Path, events: Events) -> None:
    """Write ``events`` as N-MNIST ``.bin``. Requires x, y < 256, y != 240 and t in [0, 2^23)."""
    t, x, y, p = events.t, events.x, events.y, events.p
    if len(events):
        if int(x.max()) > 255 or int(y.max()) > 255:
            raise ValueError(f"write nmnist {path}: coordinates must be < 256 (8-bit), found max x={x.max()}, y={y.max()}")
        if np.any(y == OVERFLOW_Y):
            raise ValueError(f"write nmnist {path}: y = {OVERFLOW_Y} is reserved for overflow markers")
        if int(t.min()) < 0 or int(t.max()) >= 1 << 23:
            raise ValueError(f"write nmnist {path}: t must lie in [0, 2^23) us, found [{t.min()}, {t.max()}]")
    out = np.empty((len(events), RECORD), np.uint8)
    tt = t.astype(np.int64)
    out[:, 0] = x
    out[:, 1] = y
    out[:, 2] = (p.astype(np.int64) << 7) | ((tt >> 16) & 0x7F)
    out[:, 3] = (tt >> 8) & 0xFF
    out[:, 4] = tt & 0xFF
    Path(path).write_bytes(out.tobytes())


def sniff(head: bytes, path: str, ext: str, size: int) -> bool:
    """No magic: a ``.bin`` name, whose size must be a whole number of 5-byte records."""
    if ext != ".bin":
        return False
    if size % RECORD:
        raise EventFormatError(path, "nmnist", f"size {size} bytes is not a multiple of 5 (truncated record)")
    return True


FORMAT = FormatRecord("nmnist", read, write, extensions=(".bin",), sniff=sniff)
