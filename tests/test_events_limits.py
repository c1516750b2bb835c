"""Memory bounded by the input: declared sizes are checked against limits and against what the file can hold
before anything is allocated; compressed members decompress within a budget; the AEDAT 4 decoder child runs
under an address-space cap; reading a small file never allocates a buffer sized from ``max_bytes``."""
from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mfpsn.events import EventFormatError, Events, read_events, write_events
from mfpsn.events.formats import aedat4, npy

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def test_npz_bomb_is_refused_from_the_declared_member_sizes(tmp_path):
    path = tmp_path / "bomb.npz"
    zeros = _npy_bytes(np.zeros(20_000_000, np.int64))  # 160 MB of zeros deflate to ~150 kB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for k in "txyp":
            z.writestr(f"{k}.npy", zeros)
    size = path.stat().st_size
    assert size < 2_000_000
    with pytest.raises(EventFormatError, match=r"declare \d+ uncompressed bytes; at most"):
        read_events(path)


def test_npz_member_lying_about_its_size_cannot_grow(tmp_path):
    """A member whose local header says 1 kB but whose deflate stream holds 100 MB stops at 1 kB (CRC error)."""
    path = tmp_path / "liar.npz"
    payload = _npy_bytes(np.zeros(12_500_000, np.int64))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("t.npy", payload)
    data = bytearray(path.read_bytes())
    # patch the uncompressed size in the local header (offset 22) and the central directory entry
    struct.pack_into("<I", data, 22, 1024)
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 1024)
    path.write_bytes(bytes(data))
    with pytest.raises(EventFormatError):
        read_events(path)


def test_npz_refuses_pickles_and_other_compressions(tmp_path):
    path = tmp_path / "obj.npz"
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("t.npy", buf.getvalue())
    with pytest.raises(EventFormatError, match="object arrays are refused"):
        read_events(path)
    path2 = tmp_path / "bz.npz"
    with zipfile.ZipFile(path2, "w", zipfile.ZIP_BZIP2) as z:
        z.writestr("t.npy", _npy_bytes(np.arange(4)))
    with pytest.raises(EventFormatError, match="compression method"):
        read_events(path2)


def test_npy_header_declaring_more_than_the_file_is_an_error(tmp_path):
    path = tmp_path / "big.npy"
    head = _npy_bytes(np.zeros(1, [("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")]))
    path.write_bytes(head.replace(b"(1,)", b"(10000000000,)"))
    with pytest.raises(EventFormatError, match="truncated: header declares|exceeds? the limit"):
        read_events(path)


def test_npy_header_errors_do_not_quote_the_header(tmp_path):
    path = tmp_path / "bad.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x20\x00{'descr': 'SECRETSAUCE', 'x': }\n")
    with pytest.raises(EventFormatError, match="bad .npy header") as err:
        read_events(path)
    assert "SECRETSAUCE" not in str(err.value)


def test_read_bytes_is_sized_by_the_file_not_by_max_bytes(tmp_path):
    """A 5-byte file under a 64 MiB address-space margin reads even with max_bytes = 4 TiB (CPython would
    preallocate max_bytes + 1 for ``f.read(max_bytes + 1)``)."""
    from memcap import run_capped

    path = tmp_path / "five.bin"
    path.write_bytes(bytes([1, 2, 0x80, 0, 5]))
    out = run_capped(f"len(read_events({str(path)!r}, max_bytes=1 << 42))", extra_bytes=64 << 20)
    assert out == "1"


def test_aedat4_child_runs_under_an_address_space_cap(monkeypatch):
    pytest.importorskip("aedat")
    path = ASSETS / "aedat4_digit3_2000.aedat4"
    assert len(read_events(path)) == 2000
    monkeypatch.setattr(aedat4, "child_memory_budget", lambda file_bytes, max_events: 64 << 10)
    with pytest.raises(EventFormatError, match="memory limit"):
        read_events(path)
    assert aedat4.child_memory_budget.__name__ == "<lambda>"


def test_aedat4_budget_is_proportional_to_the_file():
    assert aedat4.child_memory_budget(1000, 10**9) == (256 << 20) + 64_000
    assert aedat4.child_memory_budget(10**9, 1000) == (256 << 20) + 64_000
    assert npy.BOMB_RATIO == 64


def test_evt3_header_declaring_a_huge_sensor_gives_bounded_frames(tmp_path):
    from mfpsn.events.frames import events_to_frames

    ev = Events(np.array([0, 10, 20]), np.array([1, 2, 3]), np.array([1, 2, 3]), np.array([1, 0, 1]), 4096, 4096)
    path = tmp_path / "big.raw"
    write_events(path, ev, format="evt3")
    assert path.stat().st_size < 300
    got = read_events(path)
    assert got.sensor_size == (4096, 4096)
    with pytest.raises(ValueError, match="frames of"):
        events_to_frames(got, n_bins=16, max_bytes=64 << 20)
    small = events_to_frames(got, n_bins=16, downsample_to=(64, 64), max_bytes=64 << 20)
    assert small.shape == (16, 2, 64, 64)


def test_xxh32_of_the_hand_made_lz4_frames():
    from lz4bomb import xxh32

    assert xxh32(b"") == 0x02CC5D05 and xxh32(b"abc") == 0x32D153FF


def test_aedat4_decompression_bomb_hits_the_child_cap(tmp_path):
    """A 3 MB file whose packet inflates to 768 MiB: the child's cap (256 MiB + 64 x 3 MB) stops it cleanly."""
    pytest.importorskip("aedat")
    from lz4bomb import aedat4_bomb

    asset = (ASSETS / "aedat4_digit3_2000.aedat4").read_bytes()
    small = tmp_path / "small.aedat4"
    small.write_bytes(aedat4_bomb(asset, 8 << 20))  # inflates within the cap: then the packet is not events
    with pytest.raises(EventFormatError, match="aedat decoder failed"):
        read_events(small)
    bomb = tmp_path / "bomb.aedat4"
    bomb.write_bytes(aedat4_bomb(asset, 768 << 20))
    assert bomb.stat().st_size < 4_000_000
    with pytest.raises(EventFormatError, match="memory limit"):
        read_events(bomb)
