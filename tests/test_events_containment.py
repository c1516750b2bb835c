"""No byte from outside the uploaded file: HDF5 external storage, virtual datasets, external links and soft
links leaving the file are refused before any data is read, and the messages never carry the target's bytes.
Also: non-regular files (FIFOs, directories) are refused without blocking; a huge header ``t0`` is a clean error."""
from __future__ import annotations

import os
import struct

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from mfpsn.events import EventFormatError, read_events, shd_info, write_shd_h5  # noqa: E402

SECRET = b"root:x:0:0:TOPSECRET-PASSWD-LINE\n"


def _base(path, with_labels=False):
    f = h5py.File(path, "w")
    t = f.create_dataset("spikes/times", (2,), dtype=h5py.vlen_dtype(np.float16))
    u = f.create_dataset("spikes/units", (2,), dtype=h5py.vlen_dtype(np.uint16))
    for i in range(2):
        t[i] = np.array([0.1, 0.2], np.float16)
        u[i] = np.array([1, 2], np.uint16)
    if with_labels:
        f.create_dataset("labels", data=np.array([1, 2], np.uint16))
    return f


@pytest.fixture()
def secret(tmp_path):
    p = tmp_path / "secret.txt"
    p.write_bytes(SECRET * 8)
    return p


@pytest.fixture()
def other(tmp_path):
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as g:
        g.create_dataset("x", data=np.frombuffer(SECRET[:4], np.uint16))
    return p


def _attack(tmp_path, kind, secret, other):
    path = tmp_path / f"{kind}.h5"
    f = _base(path)
    if kind == "external":
        f.create_dataset("labels", (2,), dtype="u2", external=[(str(secret), 0, 4)])
    elif kind == "virtual":
        layout = h5py.VirtualLayout(shape=(2,), dtype="u2")
        layout[:] = h5py.VirtualSource(str(other), "x", shape=(2,))
        f.create_virtual_dataset("labels", layout)
    elif kind == "external_link":
        f["labels"] = h5py.ExternalLink(str(other), "x")
    elif kind == "soft_to_external":
        f["elsewhere"] = h5py.ExternalLink(str(other), "x")
        f["labels"] = h5py.SoftLink("/elsewhere")
    elif kind == "external_group":
        f.create_dataset("labels", data=np.array([1, 2], np.uint16))
        del f["spikes"]
        with h5py.File(other, "a") as g:
            _base_group(g)
        f["spikes"] = h5py.ExternalLink(str(other), "/spikes")
    elif kind == "external_speaker":
        f.create_dataset("labels", data=np.array([1, 2], np.uint16))
        f.create_dataset("extra/speaker", (2,), dtype="u2", external=[(str(secret), 0, 4)])
    f.close()
    return path


def _base_group(g):
    t = g.create_dataset("spikes/times", (2,), dtype=h5py.vlen_dtype(np.float16))
    u = g.create_dataset("spikes/units", (2,), dtype=h5py.vlen_dtype(np.uint16))
    for i in range(2):
        t[i] = np.array([0.1, 0.2], np.float16)
        u[i] = np.array([1, 2], np.uint16)


@pytest.mark.parametrize("kind,match", [
    ("external", "external storage"), ("virtual", "virtual dataset"), ("external_link", "external link"),
    ("soft_to_external", "external link"), ("external_group", "external link"),
    ("external_speaker", "external storage")])
def test_hdf5_data_from_outside_the_file_is_refused(tmp_path, secret, other, kind, match):
    path = _attack(tmp_path, kind, secret, other)
    for call in (lambda: read_events(path), lambda: read_events(path, format="shd", index=1),
                 lambda: shd_info(path)):
        with pytest.raises(EventFormatError, match=match) as err:
            call()
        assert b"TOPSECRET" not in str(err.value).encode() and str(SECRET[:4]) not in str(err.value)


def test_soft_link_inside_the_file_is_followed(tmp_path):
    path = tmp_path / "soft.h5"
    with _base(path) as f:
        f.create_dataset("real_labels", data=np.array([3, 4], np.uint16))
        f["labels"] = h5py.SoftLink("/real_labels")
    assert read_events(path, index=1).meta["label"] == 4
    assert list(shd_info(path)[1]) == [3, 4]


def test_hdf5_compressed_bomb_is_refused_before_decompressing(tmp_path):
    path = tmp_path / "bomb.h5"
    with _base(path) as f:
        f.create_dataset("labels", shape=(2,), dtype="u2")
        del f["spikes/times"]
        f.create_dataset("spikes/times", shape=(2,), dtype=h5py.vlen_dtype(np.float16))
        f.create_dataset("extra/speaker", shape=(300_000_000,), dtype="u2", chunks=(50_000_000,), compression="gzip")
    assert os.path.getsize(path) < 100_000
    with pytest.raises(EventFormatError, match="declares 600000000 bytes"):
        read_events(path)
    path2 = tmp_path / "bomb_labels.h5"
    with _base(path2) as f:
        f.create_dataset("labels", shape=(2,), dtype="u2", chunks=(40_000_000,), maxshape=(None,), compression="gzip")
    with pytest.raises(EventFormatError, match="chunks of 80000000 bytes"):
        shd_info(path2)


def test_shd_sample_length_is_checked_before_reading(tmp_path):
    path = tmp_path / "ok.h5"
    write_shd_h5(path, [np.array([0.1, 0.2, 0.3])], [np.array([1, 2, 3])], [0])
    assert len(read_events(path)) == 3
    with h5py.File(path, "r") as f:
        offset = f["spikes/times"].id.get_offset()
    data = bytearray(path.read_bytes())
    assert struct.unpack_from("<I", data, offset)[0] == 3
    struct.pack_into("<I", data, offset, 0x7FFFFFFF)  # declare 2^31 spikes in a 9 kB file
    bad = tmp_path / "bad.h5"
    bad.write_bytes(bytes(data))
    with pytest.raises(EventFormatError, match="exceed the limit|more than the"):
        read_events(bad)
    with pytest.raises(EventFormatError, match="more than the"):
        read_events(bad, max_events=1 << 40)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("fmt", [None, "nmnist", "evt3", "shd", "npz", "aedat4", "aedat31"])
def test_fifo_is_refused_without_blocking(tmp_path, fmt):
    path = tmp_path / "pipe.raw"
    os.mkfifo(path)
    with pytest.raises(EventFormatError, match="expected a regular file, found a FIFO"):
        read_events(path, format=fmt)


def test_directory_is_refused(tmp_path):
    with pytest.raises(EventFormatError, match="regular file|cannot open"):
        read_events(tmp_path, format="nmnist")


@pytest.mark.parametrize("fmt", ["evt3", "evt2", "dat"])
def test_huge_header_t0_is_a_clean_error(tmp_path, fmt):
    path = tmp_path / "t0.raw"
    path.write_bytes(b"% evt 3.0\n% Version 2\n% t0 " + b"9" * 40 + b"\n% end\n" + bytes(16))
    with pytest.raises(EventFormatError, match="t0"):
        read_events(path, format=fmt)


def test_hdf5_file_that_makes_libhdf5_loop_is_stopped_by_the_child_timeout(tmp_path):
    """Found by the capped fuzz test: three overwrites of a small SHD file make libhdf5 loop for ever inside
    ``h5py``; the isolated child is killed at ``timeout_s`` and the read is a clean EventFormatError."""
    seed = tmp_path / "seed.h5"
    rng = np.random.default_rng(0)
    write_shd_h5(seed, [np.sort(rng.uniform(0, 1, 50))], [rng.integers(0, 700, 50)], [1], keys=["a", "b"])
    data = bytearray(seed.read_bytes())
    for pos, value in ((2774, b"\x9d\x07\x19\xbd\x87"), (2971, rb"[\x20-\x7e\t]*"), (4788, b"\x01")):
        data[pos:pos + len(value)] = value
    path = tmp_path / "loop.h5"
    path.write_bytes(bytes(data))
    with pytest.raises(EventFormatError):
        read_events(path, format="shd", timeout_s=3)
    assert len(read_events(seed)) == 50
