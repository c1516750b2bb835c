"""AEDAT 4.0 (iniVation DV, dv-processing; DAVIS346, DVXplorer), read through ``aedat`` (MIT).

Layout: ``#!AER-DAT4.0\\r\\n``, an IOHeader FlatBuffer with an XML stream description, then
LZ4/Zstd-compressed FlatBuffer packets (see the spec, section 4). There is no writer here:
hand-writing FlatBuffers + LZ4 is impractical; the committed fixture was made once with faery.

Mapping onto ``mfpsn.events.core``: the events of the first ``events`` stream (or the stream
id given as option ``stream``); t, x, y as stored (top-left origin), p = ``on`` (1 = ON).
Sensor size from the stream's ``sizeX``/``sizeY``. Frame, IMU and trigger packets are skipped.
Any failure inside ``aedat`` (it is compiled Rust; a corrupt file can make it raise or panic)
becomes an EventFormatError.
"""
from __future__ import annotations

import numpy as np

from mfpsn.events._context import ReadContext
from mfpsn.events.core import Events

__all__ = ["read", "MAGIC"]

MAGIC = b"#!AER-DAT4.0\r\n"
OPTIONS = ("stream",)


def _wrap(ctx: ReadContext, what: str, exc: BaseException):
    return ctx.error(f"the aedat decoder failed while {what}: {type(exc).__name__}: {exc}")


def read(ctx: ReadContext) -> Events:
    ctx.no_index()
    ctx.file_size()
    with open(ctx.path, "rb") as f:
        head = f.read(len(MAGIC))
    if head != MAGIC:
        raise ctx.error(f"expected magic {MAGIC!r}, found {head!r}")
    try:
        import aedat
    except ImportError as exc:  # a pinned runtime dependency; say so loudly if it is missing
        raise RuntimeError("reading AEDAT 4 needs the 'aedat' package (pip install aedat==2.3.0)") from exc
    try:
        decoder = aedat.Decoder(ctx.path)
        streams = decoder.id_to_stream()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - pyo3 panics derive from BaseException
        raise _wrap(ctx, "opening the file", exc) from exc
    event_ids = sorted(k for k, v in streams.items() if v.get("type") == "events")
    wanted = ctx.options.get("stream")
    if wanted is not None:
        if wanted not in event_ids:
            raise ctx.error(f"stream={wanted} is not an event stream; event streams: {event_ids}")
        sid = wanted
    elif event_ids:
        sid = event_ids[0]
    else:
        raise ctx.error(f"no event stream in the file; streams: {streams}")
    width, height = int(streams[sid].get("width", 0)), int(streams[sid].get("height", 0))
    parts = []
    total = 0
    try:
        for packet in decoder:
            if packet.get("stream_id") != sid or "events" not in packet:
                continue
            ev = packet["events"]
            total += len(ev)
            ctx.check_count(total)
            parts.append(ev)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, type(ctx.error(""))):
            raise
        raise _wrap(ctx, "decoding packets", exc) from exc
    if parts:
        ev = np.concatenate(parts)
        t = ev["t"]
        if t.size and int(t.max()) >= 1 << 62:
            raise ctx.error(f"timestamp {int(t.max())} is out of range")
        t, x, y, p = t.astype(np.int64), ev["x"].astype(np.int64), ev["y"].astype(np.int64), ev["on"].astype(np.uint8)
    else:
        t = x = y = np.zeros(0, np.int64)
        p = np.zeros(0, np.uint8)
    meta = {"stream_id": sid, "streams": streams}
    return ctx.finish(t, x, y, p, width if width > 0 else None, height if height > 0 else None, meta)
