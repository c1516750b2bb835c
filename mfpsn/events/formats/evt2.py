"""Prophesee EVT 2.0 ``.raw``.

Layout: ``% `` header lines, then little-endian uint32 words, type = bits 31-28:
0x0/0x1 CD_OFF/CD_ON (bits 27-22 t[5:0], bits 21-11 x, bits 10-0 y), 0x8 EV_TIME_HIGH
(bits 27-0 = t[33:6]), 0xA EXT_TRIGGER, 0xE OTHERS, 0xF CONTINUED (skipped). Other
codes are reserved and make the file invalid.

Mapping onto ``mfpsn.events.core``: x, y as stored (top-left origin), p = word type (1 = ON),
t = (time_high << 6) | t[5:0] + the header's ``% t0``. TIME_HIGH values are unwrapped with the
modular rule: a step of (new - previous) mod 2^28 below 2^27 is forward (a smaller value thus
counts a 2^34 µs wrap), a larger one is a backward step. CD words before the first TIME_HIGH
have no time and are dropped (``meta["dropped_before_time_high"]``). Sensor size from the header
(``format``/``geometry``), else max coordinate + 1.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mfpsn.events._context import ReadContext
from mfpsn.events.core import Events
from mfpsn.events.formats._headers import percent_header, prophesee_kind
from mfpsn.events.formats.record import FormatRecord

__all__ = ["FORMAT", "read", "write"]

TIME_HIGH = 0x8
KNOWN = np.zeros(16, bool)
KNOWN[[0x0, 0x1, 0x8, 0xA, 0xE, 0xF]] = True


def unwrap_modular(v: np.ndarray, bits: int) -> np.ndarray:
    """[K] counter values of ``bits`` bits -> int64 unwrapped with signed modular steps."""
    v = v.astype(np.int64)
    if v.size < 2:
        return v
    mod = 1 << bits
    d = np.diff(v) % mod
    d = np.where(d >= mod >> 1, d - mod, d)
    return np.concatenate([v[:1], v[0] + np.cumsum(d)])


def read(ctx: ReadContext) -> Events:
    ctx.no_index()
    buf = ctx.read_bytes()
    hdr = percent_header(buf, ctx)
    body = len(buf) - hdr.offset
    if body % 4:
        raise ctx.error(f"data size {body} bytes after the header is not a multiple of 4 (truncated word)")
    w = np.frombuffer(buf, "<u4", offset=hdr.offset)
    typ = (w >> 28).astype(np.uint8)
    bad = np.flatnonzero(~KNOWN[typ])
    if bad.size:
        i = int(bad[0])
        raise ctx.error(f"reserved word type 0x{int(typ[i]):X} at byte {hdr.offset + 4 * i} "
                        f"({bad.size} such words): corrupt data")
    cd = np.flatnonzero(typ <= 1)
    ctx.check_count(cd.size)
    th_pos = np.flatnonzero(typ == TIME_HIGH)
    th = unwrap_modular(w[th_pos] & 0x0FFFFFFF, 28)
    k = np.searchsorted(th_pos, cd) - 1
    has_time = k >= 0
    dropped = int((~has_time).sum())
    cd, k = cd[has_time], k[has_time]
    wc = w[cd]
    t = (th[k] << 6) + ((wc >> 22) & 0x3F).astype(np.int64) + hdr.t0
    x = ((wc >> 11) & 0x7FF).astype(np.int64)
    y = (wc & 0x7FF).astype(np.int64)
    p = typ[cd]
    meta = {"header": hdr.lines, "header_t0": hdr.t0, "dropped_before_time_high": dropped}
    return ctx.finish(t, x, y, p, hdr.width, hdr.height, meta)


def _header(events: Events, evt: str, t0: int) -> bytes:
    lines = [f"% evt {evt}", f"% format EVT{evt.replace('.', '')[:1]};height={events.height};width={events.width}",
             f"% geometry {events.width}x{events.height}", "% plugin_name mfpsn", f"% t0 {t0}", "% end"]
    return ("\n".join(lines) + "\n").encode("ascii")


def write(path: str | Path, events: Events) -> None:
    """Write EVT 2.0 words; times are stored relative to ``% t0`` = first timestamp.

    Requires x, y < 2048 and a span below 2^34 µs.
    """
    t, x, y, p = events.t, events.x.astype(np.uint32), events.y.astype(np.uint32), events.p.astype(np.uint32)
    t0 = int(t[0]) if len(events) else 0
    if len(events):
        if t0 < 0:
            raise ValueError(f"write evt2 {path}: t must be >= 0, found {t0}")
        if x.max() > 2047 or y.max() > 2047:
            raise ValueError(f"write evt2 {path}: x, y must be < 2048")
        if int(t[-1]) - t0 >= 1 << 34:
            raise ValueError(f"write evt2 {path}: time span must be < 2^34 us")
    r = t - t0
    high = r >> 6
    new_high = np.ones(len(events), bool)
    new_high[1:] = high[1:] != high[:-1]
    n_words = len(events) + int(new_high.sum())
    words = np.empty(n_words, "<u4")
    ev_pos = np.arange(len(events)) + np.cumsum(new_high)
    th_pos = ev_pos[new_high] - 1
    words[th_pos] = (TIME_HIGH << 28) | (high[new_high] & 0x0FFFFFFF).astype(np.uint32)
    words[ev_pos] = (p << 28) | ((r & 0x3F).astype(np.uint32) << 22) | (x << 11) | y
    with open(path, "wb") as f:
        f.write(_header(events, "2.0", t0))
        f.write(words.tobytes())


FORMAT = FormatRecord("evt2", read, write, extensions=(".raw",),
                      sniff=lambda head, path, ext, size: prophesee_kind(head, path, ext) == "evt2")
