"""AEDAT 3.1 (cAER / early DV; DVS128 Gesture): polarity packets.

Layout: ``#`` header lines ending in \\r\\n, from ``#!AER-DAT3.1`` to ``#!END-HEADER``; then
packets, little-endian: a 28-byte header ``<hhiiiiii`` (eventType, eventSource, eventSize,
eventTSOffset, eventTSOverflow, eventCapacity, eventNumber, eventValid) and
eventCapacity x eventSize payload bytes. A header is valid when eventSize > 0, 0 <= eventTSOffset <=
eventSize - 4 (the timestamp lies inside the event), 0 <= eventValid <= eventNumber <= eventCapacity,
eventTSOverflow >= 0 and the payload ends inside the file. The walk over packets is vectorised (see
:func:`_packet_chain`): no Python step per packet. Packets of another type than 1 (polarity) are skipped
by that length. Polarity event: uint32 data (bit 0 valid, bit 1 polarity, bits 2-16 y,
bits 17-31 x) and int32 timestamp; time = (eventTSOverflow << 31) | timestamp.
The first eventNumber events of a packet are kept, and of those only the valid ones.

Mapping onto ``mfpsn.events.core``: fields as stored (3.1 uses a top-left origin, like the
core convention), p = bit 1 (1 = ON). Sensor: ``#Source N: <name>`` (DVS128 128x128,
DAVIS240/346/640), else this project's ``#mfpsn-sensor-size: WxH`` comment, else max + 1.

DVS128 Gesture labels: a ``<stem>_labels.csv`` next to the file (``class,startTime_usec,
endTime_usec``) is read into ``meta["labels"]`` (a structured array with fields class,
start, end); ``index=i`` then returns only sample i (start <= t < end) with
``meta["label"]``. See :mod:`mfpsn.events.gesture`.
"""
from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from mfpsn.events._context import ReadContext
from mfpsn.events.core import Events
from mfpsn.events.formats._headers import hash_header
from mfpsn.events.formats.record import FormatRecord

__all__ = ["FORMAT", "read", "write", "MAGIC"]

MAGIC = b"#!AER-DAT3.1\r\n"
END = b"#!END-HEADER"
PACKET = struct.Struct("<hhiiiiii")
POLARITY = 1
SOURCES = {"DVS128": (128, 128), "DAVIS240": (240, 180), "DAVIS346": (346, 260), "DAVIS640": (640, 480)}
SIZE_KEY = "mfpsn-sensor-size:"


def _sensor(lines: list[str]) -> tuple[int | None, int | None]:
    for line in lines:
        m = re.match(r"Source \d+:\s*(\S+)", line)
        if m:
            for name, size in SOURCES.items():
                if name in m.group(1).upper():
                    return size
    for line in lines:
        if line.startswith(SIZE_KEY):
            m = re.fullmatch(r"\s*(\d{1,5})x(\d{1,5})\s*", line[len(SIZE_KEY):])
            if m:
                return int(m.group(1)), int(m.group(2))
    return None, None


def _check_packet(buf: bytes, pos: int, ctx: ReadContext) -> tuple[int, int, int, int, int]:
    """Validate the packet header at ``pos``; returns (type, payload offset, end, eventNumber, eventTSOverflow)."""
    n_bytes = len(buf)
    if pos + PACKET.size > n_bytes:
        raise ctx.error(f"truncated packet header at byte {pos} ({n_bytes - pos} of {PACKET.size} bytes)")
    etype, _src, esize, tsoff, tsover, cap, number, valid = PACKET.unpack_from(buf, pos)
    if (esize <= 0 or cap < 0 or number < 0 or number > cap or tsover < 0 or not 0 <= valid <= number
            or not 0 <= tsoff <= esize - 4):
        raise ctx.error(f"corrupt packet header at byte {pos}: eventSize={esize}, eventTSOffset={tsoff}, "
                        f"eventCapacity={cap}, eventNumber={number}, eventValid={valid}, eventTSOverflow={tsover}")
    payload = pos + PACKET.size
    end = payload + cap * esize
    if end > n_bytes:
        raise ctx.error(f"truncated packet at byte {pos}: payload of {cap}x{esize} bytes runs past the end "
                        f"of the file ({n_bytes} bytes)")
    if etype == POLARITY and (esize != 8 or tsoff != 4):
        raise ctx.error(f"corrupt polarity packet at byte {pos}: eventSize={esize}, eventTSOffset={tsoff}, "
                        "expected 8 and 4")
    return etype, payload, end, number, tsover


def _candidates(buf: bytes, align: int) -> tuple[np.ndarray, ...]:
    """Every offset ``align + 4k`` read as a packet header (strided views of the buffer, no copy); those that pass
    every check of :func:`_check_packet`: (offset, end, type, eventNumber, eventTSOverflow)."""
    n_bytes = len(buf)
    n_words = (n_bytes - align) // 4 if n_bytes > align else 0
    m = n_words - 6
    if m <= 0:
        e = np.zeros(0, np.int64)
        return e, e, e, e, e
    w = np.frombuffer(buf, "<i4", count=n_words, offset=align)
    # cheapest tests first on every offset, the rest on the survivors only
    cand = np.flatnonzero((w[1:m + 1] > 0) & (w[4:m + 4] >= w[5:m + 5]) & (w[5:m + 5] >= w[6:m + 6])
                          & (w[6:m + 6] >= 0))
    esize, tsoff, tsover, cap, number = (w[cand + 1], w[cand + 2], w[cand + 3], w[cand + 4], w[cand + 5])
    keep = (tsoff >= 0) & (tsoff <= esize - 4) & (tsover >= 0)
    cand, esize, tsoff, tsover, cap, number = (a[keep] for a in (cand, esize, tsoff, tsover, cap, number))
    off = align + 4 * cand.astype(np.int64)
    end = off + PACKET.size + cap.astype(np.int64) * esize.astype(np.int64)
    typ = np.frombuffer(buf, "<i2", count=2 * m, offset=align)[2 * cand].astype(np.int64)
    pol = typ == POLARITY
    good = (end <= n_bytes) & (~pol | ((esize == 8) & (tsoff == 4)))
    return off[good], end[good], typ[good], number[good].astype(np.int64), tsover[good].astype(np.int64)


def _packet_chain(buf: bytes, pos: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The packets from ``pos`` on, found without a Python step per packet.

    Candidates at all four alignments (:func:`_candidates`) each point to their successor (offset + 28 +
    capacity x size). The chain from ``pos`` is enumerated by pointer doubling: after round k the list holds the
    packets at steps [0, 2^(k+1)), so a file of P packets takes log2(P) rounds of array work. Returns (offsets,
    types, eventNumbers, eventTSOverflows) in file order and the offset after the last packet of the chain: the
    end of the file, or a packet that is not a valid candidate (the caller lets :func:`_check_packet` name it).
    """
    result = _chain_at(buf, pos, (pos % 4,))  # packets of 8-byte events keep their alignment: try it alone
    if result[-1] != len(buf) and result[-1] % 4 != pos % 4:
        result = _chain_at(buf, pos, range(4))
    return result


def _chain_at(buf: bytes, pos: int, aligns) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    parts = [_candidates(buf, a) for a in aligns]
    off, end, typ, num, over = (np.concatenate([p[i] for p in parts]) for i in range(5))
    if len(parts) > 1:
        order = np.argsort(off, kind="stable")
        off, end, typ, num, over = off[order], end[order], typ[order], num[order], over[order]
    start = int(np.searchsorted(off, pos))
    e = np.zeros(0, np.int64)
    if start >= off.size or off[start] != pos:
        return e, e, e, e, pos
    nxt = np.searchsorted(off, end)
    hit = nxt < off.size
    hit[hit] = off[nxt[hit]] == end[hit]
    sink = off.size
    jump = np.append(np.where(hit, nxt, sink), sink)
    del nxt, hit
    path = np.array([start], np.int64)
    while True:
        step = jump[path]
        step = step[step != sink]
        if step.size == 0:
            break
        path = np.concatenate([path, step])
        jump = jump[jump]
    path.sort()  # the steps are distinct packets: sorting by index is file order
    return off[path], typ[path], num[path], over[path], int(end[path[-1]])


def read(ctx: ReadContext) -> Events:
    buf = ctx.read_bytes()
    if not buf.startswith(MAGIC):
        raise ctx.error(f"expected first line {MAGIC!r}, found {buf[:14]!r}")
    lines, pos = hash_header(buf, ctx, end_marker=END)
    n_bytes = len(buf)
    starts_parts: list[np.ndarray] = []
    counts_parts: list[np.ndarray] = []
    over_parts: list[np.ndarray] = []
    total = 0
    skipped = 0
    while pos < n_bytes:
        offsets, types, numbers, overs, stop = _packet_chain(buf, pos)
        if offsets.size:
            is_pol = types == POLARITY
            skipped += int(np.count_nonzero(~is_pol))
            total += int(numbers[is_pol].sum())
            ctx.check_count(total)
            keep = is_pol & (numbers > 0)
            starts_parts.append(offsets[keep] + PACKET.size)
            counts_parts.append(numbers[keep])
            over_parts.append(overs[keep])
            if stop < n_bytes:
                _check_packet(buf, stop, ctx)  # not a valid candidate: this raises, naming the packet
                raise ctx.error(f"inconsistent packet at byte {stop}")
            break
        _check_packet(buf, pos, ctx)  # the first packet is not a valid candidate: this raises
        raise ctx.error(f"inconsistent packet at byte {pos}")
    starts = np.concatenate(starts_parts) if starts_parts else np.zeros(0, np.int64)
    counts = np.concatenate(counts_parts) if counts_parts else np.zeros(0, np.int64)
    overflows = np.concatenate(over_parts) if over_parts else np.zeros(0, np.int64)
    if starts.size:
        # byte offsets of every event record: payload start + 8 i within its packet
        first = np.repeat(starts - 8 * (np.cumsum(counts) - counts), counts)
        offs = first + 8 * np.arange(int(counts.sum()), dtype=np.int64)
        del first
        rec_dtype = np.dtype([("d", "<u4"), ("t", "<i4")])
        rec = np.empty(offs.size, rec_dtype)
        for a in range(8):  # records at byte offset a + 8i come from the view that starts at a
            sel = np.flatnonzero(offs % 8 == a)
            if sel.size:
                view = np.frombuffer(buf, rec_dtype, count=(n_bytes - a) // 8, offset=a)
                rec[sel] = view[(offs[sel] - a) // 8]
        del offs
        over = np.repeat(overflows, counts)
    else:
        rec = np.empty(0, [("d", "<u4"), ("t", "<i4")])
        over = np.empty(0, np.int64)
    d = rec["d"]
    ts = rec["t"].astype(np.int64)
    valid = (d & 1) == 1
    neg = np.flatnonzero(valid & (ts < 0))
    if neg.size:
        raise ctx.error(f"event {int(neg[0])} has a negative timestamp {int(ts[neg[0]])}")
    d, ts, over = d[valid], ts[valid], over[valid]
    t = (over << 31) | ts
    x = (d >> 17).astype(np.int64)
    y = ((d >> 2) & 0x7FFF).astype(np.int64)
    p = ((d >> 1) & 1).astype(np.uint8)
    w, h = _sensor(lines)
    meta = {"header": lines, "skipped_packets": skipped, "invalid_events": int((~valid).sum())}
    labels_path = Path(ctx.path).with_name(Path(ctx.path).stem + "_labels.csv")
    if labels_path.is_file():
        from mfpsn.events.gesture import read_labels
        labels = read_labels(labels_path)
        meta["labels"] = labels
        meta["labels_path"] = str(labels_path)
        if ctx.index is not None:
            if not -len(labels) <= ctx.index < len(labels):
                raise ctx.error(f"index={ctx.index} is out of range: {labels_path.name} has {len(labels)} samples")
            row = labels[ctx.index]
            sel = (t >= row["start"]) & (t < row["end"])
            t, x, y, p = t[sel], x[sel], y[sel], p[sel]
            meta.update(label=int(row["class"]), sample_start=int(row["start"]), sample_end=int(row["end"]),
                        index=int(ctx.index) % len(labels))
    else:
        ctx.no_index()
    return ctx.finish(t, x, y, p, w, h, meta)


def write(path: str | Path, events: Events, *, packet_events: int = 4096, source: str | None = None,
          start_time: str = "2017-01-01 00:00:00 (TZ+0000)") -> None:
    """Write AEDAT 3.1 polarity packets of at most ``packet_events`` events.

    ``source`` names the camera in ``#Source 0:``; default DVS128 for a 128x128 sensor, else
    ``DVS`` plus a ``#mfpsn-sensor-size: WxH`` line so the reader recovers the size.
    Requires t >= 0 and x, y < 32768.
    """
    t, x, y, p = events.t, events.x.astype(np.uint32), events.y.astype(np.uint32), events.p.astype(np.uint32)
    if packet_events < 1:
        raise ValueError(f"packet_events: expected >= 1, found {packet_events}")
    if len(events):
        if int(t.min()) < 0:
            raise ValueError(f"write aedat31 {path}: t must be >= 0, found {t.min()}")
        if x.max() >= 1 << 15 or y.max() >= 1 << 15:
            raise ValueError(f"write aedat31 {path}: x, y must be < 32768")
    if source is None:
        source = "DVS128" if events.sensor_size == (128, 128) else "DVS"
    head = [MAGIC.decode().strip(), "#Format: RAW", f"#Source 0: {source}", f"#Start-Time: {start_time}"]
    if _sensor([h[1:] for h in head]) != events.sensor_size:
        head.append(f"#{SIZE_KEY} {events.width}x{events.height}")
    head.append(END.decode())
    data = (x << 17) | (y << 2) | (p << 1) | 1
    ts = (t & 0x7FFFFFFF).astype(np.int32)
    over = t >> 31
    # packet boundaries: every packet_events events and wherever the overflow counter changes
    cuts = np.union1d(np.arange(0, len(events), packet_events), np.flatnonzero(np.diff(over)) + 1)
    bounds = np.append(cuts, len(events))
    rec = np.empty(len(events), [("d", "<u4"), ("t", "<i4")])
    rec["d"], rec["t"] = data, ts
    with open(path, "wb") as f:
        f.write("".join(line + "\r\n" for line in head).encode("ascii"))
        for a, b in zip(bounds[:-1], bounds[1:]):
            n = int(b - a)
            f.write(PACKET.pack(POLARITY, 0, 8, 4, int(over[a]), n, n, n))
            f.write(rec[a:b].tobytes())


FORMAT = FormatRecord("aedat31", read, write, extensions=(".aedat",),
                      sniff=lambda head, path, ext, size: head.startswith(MAGIC))
