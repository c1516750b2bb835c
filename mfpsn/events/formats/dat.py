"""Prophesee DAT (legacy tools: Gen1 automotive, N-CARS).

Layout: ``% `` header lines; with a header, 1 byte event type (0x00 Event2D, 0x0C CD,
0x0E trigger) and 1 byte event size (8); very old files without header lack both bytes.
Then 8-byte little-endian records: uint32 t (µs), uint32 w.
DAT 2 (``% Version 2``): x = w & 0x3FFF, y = (w >> 14) & 0x3FFF, p = w >> 28.
DAT 1 (no or another version): x = w & 0x1FF, y = (w >> 9) & 0xFF, p = (w >> 17) & 0xF.

Mapping onto ``mfpsn.events.core``: x, y as stored (top-left origin), p as stored (must be
0 or 1), t = stored time + ``% T0``; a backward jump of more than 2^31 µs is a 32-bit wrap and
is unwrapped. Sensor size from ``Width``/``Height`` (or ``format``/``geometry``), else max + 1.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mfpsn.events._context import ReadContext
from mfpsn.events.core import Events
from mfpsn.events.formats._checks import require_sorted
from mfpsn.events.formats._headers import percent_header, prophesee_kind
from mfpsn.events.formats.record import FormatRecord
from mfpsn.events.formats.aedat2 import unwrap32

__all__ = ["FORMAT", "read", "write"]

EVENT_TYPES = (0x00, 0x0C)
RECORD = 8


def read(ctx: ReadContext) -> Events:
    ctx.no_index()
    buf = ctx.read_bytes()
    hdr = percent_header(buf, ctx)
    offset = hdr.offset
    if hdr.lines:
        if len(buf) < offset + 2:
            raise ctx.error("truncated: the event type and size bytes after the header are missing")
        etype, esize = buf[offset], buf[offset + 1]
        if etype not in EVENT_TYPES:
            raise ctx.error(f"event type byte 0x{etype:02X} at byte {offset}: expected 0x00 or 0x0C (CD events)")
        if esize != RECORD:
            raise ctx.error(f"event size byte {esize} at byte {offset + 1}: expected {RECORD}")
        offset += 2
    body = len(buf) - offset
    if body % RECORD:
        raise ctx.error(f"data size {body} bytes is not a multiple of {RECORD} (truncated record)")
    ctx.check_count(body // RECORD)
    rec = np.frombuffer(buf, [("t", "<u4"), ("w", "<u4")], offset=offset)
    w = rec["w"].astype(np.int64)
    t = unwrap32(rec["t"]) + hdr.t0
    if hdr.version == 2:
        x, y, p = w & 0x3FFF, (w >> 14) & 0x3FFF, w >> 28
    else:
        x, y, p = w & 0x1FF, (w >> 9) & 0xFF, (w >> 17) & 0xF
    meta = {"header": hdr.lines, "header_t0": hdr.t0, "dat_version": hdr.version or 1}
    return ctx.finish(t, x, y, p, hdr.width, hdr.height, meta)


def write(path: str | Path, events: Events) -> None:
    """Write DAT 2 (``% Version 2``, CD type 0x0C); times relative to ``% T0`` = first timestamp.

    Requires x, y < 16384, sorted t >= 0 and a span below 2^32 µs.
    """
    require_sorted(events, path, "dat")
    t = events.t
    t0 = int(t[0]) if len(events) else 0
    if len(events):
        if t0 < 0:
            raise ValueError(f"write dat {path}: t must be >= 0, found {t0}")
        if int(t[-1]) - t0 >= 1 << 32:
            raise ValueError(f"write dat {path}: time span must be < 2^32 us")
        if int(events.x.max()) >= 1 << 14 or int(events.y.max()) >= 1 << 14:
            raise ValueError(f"write dat {path}: x, y must be < 16384")
    head = ["% Date 2017-01-01 00:00:00", "% Version 2", f"% Width {events.width}", f"% Height {events.height}",
            f"% T0 {t0}", "% plugin_name mfpsn"]
    rec = np.empty(len(events), [("t", "<u4"), ("w", "<u4")])
    rec["t"] = t - t0
    rec["w"] = events.x.astype(np.uint32) | (events.y.astype(np.uint32) << 14) | (events.p.astype(np.uint32) << 28)
    with open(path, "wb") as f:
        f.write(("\n".join(head) + "\n").encode("ascii"))
        f.write(bytes([0x0C, RECORD]))
        f.write(rec.tobytes())


def sniff(head: bytes, path: str, ext: str, size: int) -> bool:
    """DAT by its ``% `` header keys, or a ``.dat`` name (headerless DAT 1)."""
    if head.startswith(b"% "):
        return prophesee_kind(head, path, ext) == "dat"
    return ext == ".dat"


FORMAT = FormatRecord("dat", read, write, extensions=(".dat",), sniff=sniff)
