"""Prophesee EVT 3.0 ``.raw`` (Gen4.1 / IMX636 / EVK4 and other Metavision cameras).

Layout: ``% `` header lines, then little-endian uint16 words, type = bits 15-12, decoded
with state: 0x0 EVT_ADDR_Y (set y), 0x2 EVT_ADDR_X (bit 11 polarity, x: emit one event),
0x3 VECT_BASE_X (set base x and polarity), 0x4 VECT_12 / 0x5 VECT_8 (bit j of the mask set
-> event at base_x + j; then base_x += 12 or 8), 0x6 EVT_TIME_LOW (t[11:0]), 0x8
EVT_TIME_HIGH (t[23:12]), 0xA EXT_TRIGGER, 0xE/0xF/0x7 skipped. Other codes are reserved and
make the file invalid.

Mapping onto ``mfpsn.events.core``: x, y as stored (top-left origin), p = bit 11 (1 = ON),
t = unwrapped TIME_HIGH · 2^12 + TIME_LOW + the header's ``% t0``.

Time rules (all vectorised, no Python loop over words):

- TIME_HIGH is a 12-bit counter of 4096 µs periods that wraps every 16.777 s. It is unwrapped
  with the modular rule: δ = (new − previous) mod 4096; δ < 2048 is a forward step of δ
  periods (so a smaller value counts one 2^24 µs wrap), δ ≥ 2048 is a backward step of
  4096 − δ (jitter; no wrap is counted). The unwrapped value is a cumulative sum of signed δ.
- The low part is the last TIME_LOW *after* the last TIME_HIGH, else 0 (reset on TIME_HIGH).
- Event words before the first TIME_HIGH, before the first ADDR_Y, or vector words before the
  first VECT_BASE_X lack state and are dropped (counted in ``meta["dropped_without_state"]``).

Sensor size from the header (``format``/``geometry``), else max coordinate + 1.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mfpsn.events._context import ReadContext
from mfpsn.events.core import Events
from mfpsn.events.formats._checks import require_sorted
from mfpsn.events.formats._headers import percent_header, prophesee_kind
from mfpsn.events.errors import EventFormatError
from mfpsn.events.formats.record import FormatRecord
from mfpsn.events.formats.evt2 import unwrap_modular, _header

__all__ = ["FORMAT", "read", "write", "decode_words"]

ADDR_Y, ADDR_X, VECT_BASE_X, VECT_12, VECT_8, TIME_LOW, TIME_HIGH = 0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8
KNOWN = np.zeros(16, bool)
KNOWN[[0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0xA, 0xE, 0xF]] = True
POPCOUNT = np.array([bin(i).count("1") for i in range(1 << 12)], np.int64)


def _last_before(marker_pos: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """For each pos, the index into marker_pos of the last marker before it (-1 if none)."""
    return np.searchsorted(marker_pos, pos) - 1


def decode_words(words: np.ndarray, ctx: ReadContext, offset: int = 0):
    """Decode EVT 3.0 words.

    Args:
        words: [W] uint16.
        ctx: the read context (errors and limits).
        offset: byte offset of words[0] in the file (for messages).
    Returns:
        (t, x, y, p, dropped): [N] int64 time without t0, [N] int64 x and y, [N] uint8 p,
        and the number of event words dropped for lack of state.
    """
    typ = (words >> 12).astype(np.uint8)
    bad = np.flatnonzero(~KNOWN[typ])
    if bad.size:
        i = int(bad[0])
        raise ctx.error(f"reserved word type 0x{int(typ[i]):X} at byte {offset + 2 * i} "
                        f"({bad.size} such words): corrupt data")
    is_vec = (typ == VECT_12) | (typ == VECT_8)
    emit = np.flatnonzero((typ == ADDR_X) | is_vec)
    w_e = words[emit].astype(np.int64)
    any_vec = bool(is_vec.any())
    if any_vec:
        mask = np.where(typ[emit] == ADDR_X, 1, np.where(typ[emit] == VECT_12, w_e & 0xFFF, w_e & 0xFF))
        counts = POPCOUNT[mask]
    else:
        mask = None
        counts = None
    ctx.check_count(int(counts.sum()) if any_vec else emit.size)

    th_pos = np.flatnonzero(typ == TIME_HIGH)
    th = unwrap_modular(words[th_pos] & 0xFFF, 12)
    k_th = _last_before(th_pos, emit)
    y_pos = np.flatnonzero(typ == ADDR_Y)
    k_y = _last_before(y_pos, emit)
    ok = (k_th >= 0) & (k_y >= 0)
    if any_vec:
        vb_pos = np.flatnonzero(typ == VECT_BASE_X)
        k_vb = _last_before(vb_pos, emit)
        ok &= (k_vb >= 0) | (typ[emit] == ADDR_X)
    dropped = int(np.count_nonzero(~ok)) if not any_vec else int(counts[~ok].sum())
    if not ok.all():
        emit, w_e, k_th, k_y = emit[ok], w_e[ok], k_th[ok], k_y[ok]
        if any_vec:
            mask, counts, k_vb = mask[ok], counts[ok], k_vb[ok]

    tl_pos = np.flatnonzero(typ == TIME_LOW)
    k_tl = _last_before(tl_pos, emit)
    tl_ok = k_tl >= 0
    low_pos = np.where(tl_ok, tl_pos[np.maximum(k_tl, 0)] if tl_pos.size else 0, -1)
    after_high = low_pos > th_pos[k_th]
    low = np.where(after_high, words[np.maximum(low_pos, 0)].astype(np.int64) & 0xFFF, 0)
    t = (th[k_th] << 12) + low
    y = words[y_pos[k_y]].astype(np.int64) & 0x7FF
    if not any_vec:
        return t, w_e & 0x7FF, y, ((w_e >> 11) & 1).astype(np.uint8), dropped

    etyp = typ[emit]
    is_x = etyp == ADDR_X
    # base x of a vector word: last VECT_BASE_X value + increments of the vector words since then
    inc = np.where(typ == VECT_12, 12, np.where(typ == VECT_8, 8, 0)).astype(np.int64)
    cs = np.concatenate([[0], np.cumsum(inc)])  # cs[i] = sum of inc before word i
    vb = vb_pos[np.maximum(k_vb, 0)] if vb_pos.size else np.zeros(emit.size, np.int64)
    vb_w = words[vb].astype(np.int64) if vb_pos.size else np.zeros(emit.size, np.int64)
    base = np.where(is_x, w_e & 0x7FF, (vb_w & 0x7FF) + cs[emit] - cs[vb])
    pol = np.where(is_x, (w_e >> 11) & 1, (vb_w >> 11) & 1).astype(np.uint8)
    bits = ((mask[:, None] >> np.arange(12)) & 1).astype(bool)
    r, j = np.nonzero(bits)
    return t[r], base[r] + j, y[r], pol[r], dropped


def read(ctx: ReadContext) -> Events:
    ctx.no_index()
    buf = ctx.read_bytes()
    hdr = percent_header(buf, ctx)
    body = len(buf) - hdr.offset
    if body % 2:
        raise ctx.error(f"data size {body} bytes after the header is odd (truncated 16-bit word)")
    words = np.frombuffer(buf, "<u2", offset=hdr.offset)
    t, x, y, p, dropped = decode_words(words, ctx, hdr.offset)
    meta = {"header": hdr.lines, "header_t0": hdr.t0, "dropped_without_state": dropped}
    return ctx.finish(t + hdr.t0, x, y, p, hdr.width, hdr.height, meta)


def _time_high_values(high: np.ndarray, max_step: int) -> tuple[np.ndarray, np.ndarray]:
    """Unwrapped TIME_HIGH values to emit: (event index each belongs to, value), in stream order.

    For event 0 its own period; for a later event whose period differs from the previous one,
    points every ``max_step`` periods after the previous period, the pair 4096m-1, 4096m at each
    wrap crossed (so decoders that only count a 0xFFF -> 0x000 drop as a wrap, like faery's and
    evt3's, decode the file too), and finally its own period.
    """
    n = high.shape[0]
    prev = np.concatenate([[high[0] - 1], high[:-1]])
    gap = high - prev
    moving = np.flatnonzero(gap > 0)
    g, pv = gap[moving], prev[moving]
    # grid points pv + k*max_step (k >= 1, below the event's period) and the period itself
    n_grid = -(-g // max_step)
    ev_g = np.repeat(moving, n_grid)
    k = np.arange(ev_g.size) - np.repeat(np.cumsum(n_grid) - n_grid, n_grid) + 1
    val_g = np.minimum(np.repeat(pv, n_grid) + k * max_step, np.repeat(high[moving], n_grid))
    # wrap crossings m*4096 in (pv, high]: values m*4096 - 1 and m*4096
    first_m = pv // 4096 + 1
    n_wrap = np.maximum(high[moving] // 4096 - first_m + 1, 0)
    ev_w = np.repeat(moving, n_wrap)
    m = np.arange(ev_w.size) - np.repeat(np.cumsum(n_wrap) - n_wrap, n_wrap) + np.repeat(first_m, n_wrap)
    ev = np.concatenate([ev_g, ev_w, ev_w])
    val = np.concatenate([val_g, m * 4096 - 1, m * 4096])
    keep = val > prev[ev]
    if n:
        keep[ev == 0] = val[ev == 0] == high[0]  # event 0: its own period only
    ev, val = ev[keep], val[keep]
    order = np.lexsort((val, ev))
    ev, val = ev[order], val[order]
    dup = np.zeros(ev.size, bool)
    dup[1:] = (ev[1:] == ev[:-1]) & (val[1:] == val[:-1])
    return ev[~dup], val[~dup]


def encode_words(t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray, max_step: int = 1024) -> np.ndarray:
    """Encode time-sorted events (t relative, >= 0) as EVT 3.0 words, no vector words.

    Args:
        t, x, y, p: [N] sorted times (µs, >= 0), coordinates (< 2048), polarity.
        max_step: largest step between consecutive TIME_HIGH words, in 4096 µs periods (< 2048).
    Per event: TIME_HIGH words when t >> 12 changes (see :func:`_time_high_values`), TIME_LOW
    after each TIME_HIGH and whenever t[11:0] changes, ADDR_Y when y changes, then ADDR_X.
    Returns: [W] uint16.
    """
    n = t.shape[0]
    if n == 0:
        return np.zeros(0, np.uint16)
    if not 1 <= max_step < 2048:
        raise ValueError(f"max_step: expected 1..2047, found {max_step}")
    high = t >> 12
    th_ev, th_val = _time_high_values(high, max_step)
    n_th = np.bincount(th_ev, minlength=n)
    low = t & 0xFFF
    n_tl = ((n_th > 0) | np.concatenate([[True], low[1:] != low[:-1]])).astype(np.int64)
    n_y = np.concatenate([[True], y[1:] != y[:-1]]).astype(np.int64)
    per = n_th + n_tl + n_y + 1
    end = np.cumsum(per)
    start = end - per
    words = np.empty(int(end[-1]), np.uint16)
    k = np.arange(th_ev.size) - np.repeat(np.cumsum(n_th) - n_th, n_th)
    words[start[th_ev] + k] = (TIME_HIGH << 12) | (th_val & 0xFFF)
    pos = start + n_th
    has_tl = n_tl.astype(bool)
    words[pos[has_tl]] = (TIME_LOW << 12) | low[has_tl]
    pos = pos + n_tl
    has_y = n_y.astype(bool)
    words[pos[has_y]] = (ADDR_Y << 12) | y[has_y]
    pos = pos + n_y
    words[pos] = (ADDR_X << 12) | (p.astype(np.int64) << 11) | x
    return words


def write(path: str | Path, events: Events) -> None:
    """Write EVT 3.0 (no vector words); times relative to ``% t0`` = first timestamp.

    Requires x, y < 2048 and sorted t >= 0. Any span is allowed (wraps are encoded).
    """
    require_sorted(events, path, "evt3")
    t0 = int(events.t[0]) if len(events) else 0
    if len(events):
        if t0 < 0:
            raise ValueError(f"write evt3 {path}: t must be >= 0, found {t0}")
        if int(events.x.max()) > 2047 or int(events.y.max()) > 2047:
            raise ValueError(f"write evt3 {path}: x, y must be < 2048")
    words = encode_words(events.t - t0, events.x.astype(np.int64), events.y.astype(np.int64), events.p)
    with open(path, "wb") as f:
        f.write(_header(events, "3.0", t0))
        f.write(words.astype("<u2").tobytes())


def sniff(head: bytes, path: str, ext: str, size: int) -> bool:
    """EVT 3.0 by its ``% `` header; a ``.raw`` file without one cannot be told from EVT 2.0."""
    if head.startswith(b"% "):
        return prophesee_kind(head, path, ext) == "evt3"
    if ext == ".raw":
        raise EventFormatError(path, None, "a .raw file without a '% ' header: cannot tell EVT 2.0 from 3.0; "
                                           "pass format='evt2' or 'evt3'")
    return False


FORMAT = FormatRecord("evt3", read, write, extensions=(".raw",), sniff=sniff)
