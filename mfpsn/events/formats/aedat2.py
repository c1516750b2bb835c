"""AEDAT 2.0 (jAER): DVS128 and DAVIS address layouts; also the original CIFAR10-DVS files.

Layout: ``#`` header lines ending in \\r\\n (the first ``#!AER-DAT2.0``), then 8-byte
**big-endian** records: uint32 address, uint32 timestamp (µs).

Address layouts (``layout`` option; ``"auto"`` picks DAVIS when the ``# AEChip:`` line
names a DAVIS chip, else DVS128):

- ``dvs128``: bit 0 polarity (1 = ON), bits 1-7 x, bits 8-14 y, bit 15 external event
  (skipped). Sensor 128x128.
- ``davis``: bit 31 set = APS/IMU sample, bit 10 set = IMU/other (both skipped); DVS events:
  y = bits 22-30, x = bits 12-21, polarity = bit 11. Sensor from the chip name (DAVIS240
  240x180, DAVIS346 346x260, DAVIS640 640x480), else max coordinate + 1.

Mapping onto ``mfpsn.events.core``: the stored fields unchanged. iniVation's pages put (0, 0)
lower-left for these chips; the reader does *not* flip: pass ``orientation="flip_y"`` (or the
``"spikingjelly_cifar10dvs"`` preset for CIFAR10-DVS) to ``read_events`` for that view.
Timestamps: a backward jump of more than 2^31 µs is a 32-bit wrap and is unwrapped (+2^32).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mfpsn.events._context import ReadContext
from mfpsn.events.core import Events
from mfpsn.events.formats._headers import hash_header
from mfpsn.events.formats.record import FormatRecord

__all__ = ["FORMAT", "read", "write", "MAGIC", "LAYOUTS"]

MAGIC = b"#!AER-DAT2.0\r\n"
LAYOUTS = ("auto", "dvs128", "davis")
OPTIONS = ("layout",)
DAVIS_SIZES = {"DAVIS240": (240, 180), "DAVIS346": (346, 260), "DAVIS640": (640, 480)}
CHIP_DVS128 = "ch.unizh.ini.jaer.chip.retina.DVS128"
CHIP_DAVIS346 = "eu.seebetter.ini.chips.davis.DAVIS346B"


def unwrap32(t: np.ndarray) -> np.ndarray:
    """[N] uint32-valued timestamps -> int64 with backward jumps > 2^31 unwrapped."""
    t = t.astype(np.int64)
    if t.size > 1:
        wraps = np.concatenate([[0], np.cumsum(np.diff(t) < -(1 << 31))])
        t = t + (wraps << 32)
    return t


def read(ctx: ReadContext) -> Events:
    ctx.no_index()
    layout = ctx.options.get("layout", "auto")
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {LAYOUTS}, found {layout!r}")
    buf = ctx.read_bytes()
    if not buf.startswith(MAGIC):
        raise ctx.error(f"expected first line {MAGIC!r}, found {buf[:14]!r}")
    lines, offset = hash_header(buf, ctx, end_marker=None)
    chip = next((ln.split(":", 1)[1].strip() for ln in lines if ln.strip().startswith("AEChip:")), "")
    if layout == "auto":
        layout = "davis" if "DAVIS" in chip.upper() else "dvs128"
    body = len(buf) - offset
    if body % 8:
        raise ctx.error(f"data size {body} bytes after the header is not a multiple of 8 (truncated record)")
    ctx.check_count(body // 8, "records")
    rec = np.frombuffer(buf, dtype=[("a", ">u4"), ("t", ">u4")], offset=offset)
    a = rec["a"].astype(np.uint32)
    t = unwrap32(rec["t"])
    meta = {"chip": chip, "layout": layout, "header": lines}
    if layout == "dvs128":
        keep = (a & 0x8000) == 0
        a, t = a[keep], t[keep]
        p = (a & 1).astype(np.uint8)
        x = ((a >> 1) & 0x7F).astype(np.int64)
        y = ((a >> 8) & 0x7F).astype(np.int64)
        return ctx.finish(t, x, y, p, 128, 128, meta)
    keep = ((a >> 31) == 0) & (((a >> 10) & 1) == 0)
    a, t = a[keep], t[keep]
    y = ((a >> 22) & 0x1FF).astype(np.int64)
    x = ((a >> 12) & 0x3FF).astype(np.int64)
    p = ((a >> 11) & 1).astype(np.uint8)
    m = re.search(r"DAVIS(240|346|640)", chip.upper())
    w, h = DAVIS_SIZES[f"DAVIS{m.group(1)}"] if m else (None, None)
    return ctx.finish(t, x, y, p, w, h, meta)


def write(path: str | Path, events: Events, *, layout: str = "dvs128", chip: str | None = None,
          comments: tuple[str, ...] = ()) -> None:
    """Write AEDAT 2.0 with the ``dvs128`` (x, y < 128) or ``davis`` (x < 1024, y < 512) layout.

    Requires t in [0, 2^32) µs. ``chip`` is written as ``# AEChip:``; the default names the
    jAER DVS128 class, or DAVIS346B for ``davis``.
    """
    t, x, y, p = events.t, events.x.astype(np.uint32), events.y.astype(np.uint32), events.p.astype(np.uint32)
    if len(events) and (int(t.min()) < 0 or int(t.max()) >= 1 << 32):
        raise ValueError(f"write aedat2 {path}: t must lie in [0, 2^32) us, found [{t.min()}, {t.max()}]")
    if layout == "dvs128":
        if len(events) and (x.max() > 127 or y.max() > 127):
            raise ValueError(f"write aedat2 {path}: dvs128 layout needs x, y < 128, found max {x.max()}, {y.max()}")
        a = (y << 8) | (x << 1) | p
        chip = chip or CHIP_DVS128
    elif layout == "davis":
        if len(events) and (x.max() > 1023 or y.max() > 511):
            raise ValueError(f"write aedat2 {path}: davis layout needs x < 1024, y < 512, found {x.max()}, {y.max()}")
        a = (y << 22) | (x << 12) | (p << 11)
        chip = chip or CHIP_DAVIS346
    else:
        raise ValueError(f"write aedat2 {path}: layout must be 'dvs128' or 'davis', found {layout!r}")
    head = [MAGIC.decode().strip(), "# This is a raw AE data file - do not edit",
            "# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event",
            "# Timestamps tick is 1 us", f"# AEChip: {chip}", *(f"# {c}" for c in comments)]
    rec = np.empty(len(events), dtype=[("a", ">u4"), ("t", ">u4")])
    rec["a"], rec["t"] = a, t
    with open(path, "wb") as f:
        f.write("".join(line + "\r\n" for line in head).encode("ascii"))
        f.write(rec.tobytes())


FORMAT = FormatRecord("aedat2", read, write, extensions=(".aedat",), options=OPTIONS,
                      sniff=lambda head, path, ext, size: head.startswith(MAGIC))
