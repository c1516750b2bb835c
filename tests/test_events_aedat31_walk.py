"""The vectorised AEDAT 3.1 packet walk: same events as a packet-by-packet walk, across alignment changes
(packets of odd-sized events), skipped packet types and corrupt headers found anywhere in the chain."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from mfpsn.events import EventFormatError, read_events

HEAD = b"#!AER-DAT3.1\r\n#Source 0: DVS128\r\n#!END-HEADER\r\n"


def _pol(events, over=0):
    n = len(events)
    body = b"".join(struct.pack("<Ii", (x << 17) | (y << 2) | (p << 1) | 1, t) for t, x, y, p in events)
    return struct.pack("<hhiiiiii", 1, 0, 8, 4, over, n, n, n) + body


def _other(etype, esize, cap):
    return struct.pack("<hhiiiiii", etype, 0, esize, 0, 0, cap, cap, cap) + bytes(esize * cap)


def _walk_reference(data: bytes):
    """Packet by packet, as the reader did before it was vectorised."""
    pos = data.index(b"#!END-HEADER\r\n") + 14
    out = []
    while pos < len(data):
        etype, _s, esize, _o, over, cap, number, _v = struct.unpack_from("<hhiiiiii", data, pos)
        if etype == 1:
            for i in range(number):
                d, t = struct.unpack_from("<Ii", data, pos + 28 + 8 * i)
                if d & 1:
                    out.append(((over << 31) | t, d >> 17, (d >> 2) & 0x7FFF, (d >> 1) & 1))
        pos += 28 + cap * esize
    return out


def test_walk_matches_packet_by_packet_across_alignments(tmp_path):
    rng = np.random.default_rng(1)
    parts, t = [HEAD], 0
    for k in range(300):
        if k % 7 == 3:
            parts.append(_other(2, 5 + (k % 4), 1 + k % 3))  # odd event sizes shift the alignment
        n = int(rng.integers(0, 5))
        evs = []
        for _ in range(n):
            t += int(rng.integers(0, 50))
            evs.append((t, int(rng.integers(0, 128)), int(rng.integers(0, 128)), int(rng.integers(0, 2))))
        parts.append(_pol(evs))
    data = b"".join(parts)
    path = tmp_path / "mixed.aedat"
    path.write_bytes(data)
    ev = read_events(path)
    ref = np.array(_walk_reference(data), np.int64).reshape(-1, 4)
    assert len(ev) == len(ref)
    assert np.array_equal(ev.t, ref[:, 0]) and np.array_equal(ev.x, ref[:, 1]) and np.array_equal(ev.y, ref[:, 2])
    assert ev.meta["skipped_packets"] == sum(1 for k in range(300) if k % 7 == 3)


@pytest.mark.parametrize("where", [0, 1, 50, 99])
def test_a_corrupt_header_anywhere_is_named(tmp_path, where):
    parts = [HEAD] + [_pol([(10 * k, 1, 2, 1)]) for k in range(100)]
    bad = bytearray(parts[1 + where])
    struct.pack_into("<i", bad, 24, 7)  # eventValid > eventNumber
    parts[1 + where] = bytes(bad)
    path = tmp_path / "bad.aedat"
    path.write_bytes(b"".join(parts))
    with pytest.raises(EventFormatError, match=f"corrupt packet header at byte {len(HEAD) + 36 * where}"):
        read_events(path)


def test_truncated_last_packet(tmp_path):
    data = HEAD + b"".join(_pol([(10 * k, 1, 2, 1)] * 3) for k in range(20))
    path = tmp_path / "cut.aedat"
    path.write_bytes(data[:-5])
    with pytest.raises(EventFormatError, match="truncated packet"):
        read_events(path)
