"""Readers and writers: round trips for every format, hand-made byte layouts from the spec,
format detection, the committed assets, and the error contract (EventFormatError)."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from mfpsn.events import (
    EventFormatError, Events, FORMATS, cut_samples, detect_format, read_events, read_gesture_labels, reorient,
    shd_info, write_aedat2, write_aedat31, write_dat, write_events, write_gesture_labels, write_nmnist, write_npy,
    write_npz, write_shd_h5,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def _events(n: int, w: int, h: int, span_us: int = 300_000, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, span_us, n))
    return Events(t, rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n), w, h)


def _same(a: Events, b: Events, size: bool = True) -> None:
    for k in "txyp":
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)
    if size:
        assert a.sensor_size == b.sensor_size


# ------------------------------------------------------------------ round trips
ROUND_TRIPS = [
    ("nmnist", "r.bin", (34, 34), 300_000, {}),
    ("nmnist", "big.bin", (240, 180), 8_000_000, {}),
    ("aedat2", "r.aedat", (128, 128), 300_000, {}),
    ("aedat2", "d.aedat", (346, 260), 5_000_000_000, {"layout": "davis"}),  # > 2^32 us: rejected below
    ("aedat31", "r.aedat", (128, 128), 300_000, {"packet_events": 64}),
    ("aedat31", "big.aedat", (640, 480), 10_000_000_000, {"packet_events": 1000}),  # > 2^31 us: overflow
    ("evt2", "r.raw", (1280, 720), 30_000_000, {}),
    ("evt3", "r.raw", (1280, 720), 30_000_000, {}),
    ("dat", "r.dat", (304, 240), 300_000, {}),
    ("npz", "r.npz", (34, 34), 300_000, {}),
]


@pytest.mark.parametrize("fmt, name, size, span, opts", ROUND_TRIPS)
def test_round_trip(tmp_path, fmt, name, size, span, opts):
    ev = _events(1500, *size, span_us=span, seed=len(name))
    path = tmp_path / name
    if fmt == "aedat2" and span >= 1 << 32:
        with pytest.raises(ValueError, match="2\\^32"):
            write_events(path, ev, format=fmt, **opts)
        ev = _events(1500, *size, span_us=(1 << 32) - 1, seed=1)
    write_events(path, ev, format=fmt, **opts)
    out = read_events(path)
    _same(out, ev)
    assert out.meta["format"] == fmt and detect_format(path) == fmt


def test_round_trip_npy_needs_sensor_size(tmp_path):
    ev = _events(500, 34, 34)
    write_npy(tmp_path / "a.npy", ev)
    _same(read_events(tmp_path / "a.npy", sensor_size=(34, 34)), ev)
    assert read_events(tmp_path / "a.npy").width == int(ev.x.max()) + 1


def test_round_trip_shd_after_float16_cast(tmp_path):
    rng = np.random.default_rng(1)
    times = [np.sort(rng.uniform(0, 1.4, n)) for n in (50, 1, 300)]
    units = [rng.integers(0, 700, t.size) for t in times]
    path = tmp_path / "s.h5"
    write_shd_h5(path, times, units, [3, 0, 19], keys=[f"k{i}" for i in range(20)], speakers=[5, 6, 7])
    n, labels = shd_info(path)
    assert n == 3 and labels.tolist() == [3, 0, 19]
    for i in range(3):
        ev = read_events(path, index=i)
        expected_t = np.round(times[i].astype(np.float16).astype(np.float64) * 1e6).astype(np.int64)
        order = np.argsort(expected_t, kind="stable")
        np.testing.assert_array_equal(ev.t, expected_t[order])
        np.testing.assert_array_equal(ev.x, units[i][order])
        assert set(ev.y.tolist()) == {0} and set(ev.p.tolist()) == {1}
        assert ev.sensor_size == (700, 1)
        assert ev.meta["label"] == [3, 0, 19][i] and ev.meta["key"] == f"k{[3, 0, 19][i]}"
        assert ev.meta["speaker"] == [5, 6, 7][i]
    assert read_events(path).meta["index"] == 0 and read_events(path, index=-1).meta["index"] == 2
    with pytest.raises(EventFormatError, match="index=3 is out of range for 3 samples"):
        read_events(path, index=3)


def test_write_shd_single_train_and_bad_arguments(tmp_path):
    ev = Events([10, 2000, 1_000_000], [0, 699, 5], [0, 0, 0], [1, 1, 1], 700, 1)
    write_events(tmp_path / "one.h5", ev, label=4, key="four")
    out = read_events(tmp_path / "one.h5")
    np.testing.assert_array_equal(out.x, ev.x)
    assert out.meta["label"] == 4 and out.meta["key"] == "four"
    with pytest.raises(ValueError, match="units must lie in"):
        write_shd_h5(tmp_path / "bad.h5", [np.array([0.1])], [np.array([700])], [0])
    with pytest.raises(ValueError, match="expected 2 unit arrays"):
        write_shd_h5(tmp_path / "bad.h5", [np.array([0.1]), np.array([0.2])], [np.array([1])], [0, 1])


def test_shd_h5_without_spike_datasets_is_rejected(tmp_path):
    import h5py
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.arange(3))
    with pytest.raises(EventFormatError, match="missing dataset 'spikes/times'"):
        read_events(path)


# ------------------------------------------------------------------ byte layouts by hand
def test_nmnist_bytes_and_overflow_markers(tmp_path):
    rows = [[1, 2, 0x80, 0x02, 0x03],          # x 1, y 2, ON, t = 0x000203
            [3, 240, 0, 0, 0],                 # overflow marker: +2^13 for later events
            [4, 5, 0x00, 0x00, 0x07]]          # OFF, t = 7 + 8192
    path = tmp_path / "o.bin"
    path.write_bytes(bytes(sum(rows, [])))
    ev = read_events(path, on_unsorted="reject")
    assert ev.x.tolist() == [1, 4] and ev.y.tolist() == [2, 5] and ev.p.tolist() == [1, 0]
    assert ev.t.tolist() == [0x0203, 7 + 8192] and ev.meta["overflow_markers"] == 1
    path.write_bytes(bytes([1, 2, 0xFF, 0xFF, 0xFF]))  # 23-bit maximum, ON
    assert read_events(path).t.tolist() == [(1 << 23) - 1]
    with pytest.raises(EventFormatError, match="backwards"):
        path.write_bytes(bytes([1, 1, 0, 0, 9, 1, 1, 0, 0, 3]))
        read_events(path, on_unsorted="reject")


def test_nmnist_writer_limits(tmp_path):
    with pytest.raises(ValueError, match="2\\^23"):
        write_nmnist(tmp_path / "a.bin", Events([1 << 23], [0], [0], [0], 34, 34))
    with pytest.raises(ValueError, match="reserved"):
        write_nmnist(tmp_path / "a.bin", Events([1], [0], [240], [0], 34, 241))


def _aedat2_file(path, records, chip="ch.unizh.ini.jaer.chip.retina.DVS128", extra=b""):
    head = b"#!AER-DAT2.0\r\n# Creation time: Mon Jan 01 2018\r\n" + f"# AEChip: {chip}\r\n".encode() + extra
    path.write_bytes(head + b"".join(struct.pack(">II", a, t) for a, t in records))


def test_aedat2_dvs128_layout_external_events_and_wrap(tmp_path):
    path = tmp_path / "a.aedat"
    _aedat2_file(path, [((5 << 8) | (7 << 1) | 1, 100),          # x 7, y 5, ON
                        ((1 << 15) | 3, 150),                     # external event: skipped
                        ((127 << 8) | (127 << 1), 0xFFFFFFF0),    # x 127, y 127, OFF
                        ((1 << 8) | (2 << 1), 0x10)])             # after a 32-bit wrap
    ev = read_events(path)
    assert ev.x.tolist() == [7, 127, 2] and ev.y.tolist() == [5, 127, 1] and ev.p.tolist() == [1, 0, 0]
    assert ev.t.tolist() == [100, 0xFFFFFFF0, (1 << 32) + 0x10]
    assert ev.sensor_size == (128, 128) and ev.meta["layout"] == "dvs128"


def test_aedat2_first_record_starting_with_hash_is_not_header(tmp_path):
    path = tmp_path / "h.aedat"
    a = (0x23 << 24)  # top byte '#': bits above 15 are ignored by the DVS128 layout
    _aedat2_file(path, [(a | (3 << 8) | (4 << 1) | 1, 0x0D0A0D0A), (0, 0x0D0A0D0B)])
    ev = read_events(path)
    assert len(ev) == 2 and ev.x.tolist() == [4, 0] and ev.y.tolist() == [3, 0]


def test_aedat2_davis_layout_skips_aps_and_imu(tmp_path):
    path = tmp_path / "d.aedat"
    dvs = (100 << 22) | (300 << 12) | (1 << 11)
    _aedat2_file(path, [(dvs, 5), ((1 << 31) | 123, 6), ((1 << 10) | dvs, 7), ((259 << 22) | (345 << 12), 8)],
                 chip="eu.seebetter.ini.chips.davis.DAVIS346B")
    ev = read_events(path)
    assert ev.sensor_size == (346, 260) and ev.meta["layout"] == "davis"
    assert ev.x.tolist() == [300, 345] and ev.y.tolist() == [100, 259] and ev.p.tolist() == [1, 0]
    _aedat2_file(path, [((260 << 22) | (1 << 12), 1)], chip="eu.seebetter.ini.chips.davis.DAVIS346B")
    with pytest.raises(EventFormatError, match="outside the 346x260 sensor"):
        read_events(path)


def _aedat31_header(source="DVS128"):
    return (b"#!AER-DAT3.1\r\n#Format: RAW\r\n" + f"#Source 1: {source}\r\n".encode()
            + b"#Start-Time: 2017-01-01 00:00:00 (TZ+0000)\r\n#!END-HEADER\r\n")


def _packet(etype, events, number=None, capacity=None, overflow=0, size=8):
    number = len(events) if number is None else number
    capacity = len(events) if capacity is None else capacity
    payload = b"".join(struct.pack("<Ii", d, t) for d, t in events) if size == 8 else bytes(capacity * size)
    return struct.pack("<hhiiiiii", etype, 1, size, 4, overflow, capacity, number, number) + payload


def _pol(x, y, p, valid=1):
    return (x << 17) | (y << 2) | (p << 1) | valid


def test_aedat31_packets_valid_bit_event_number_and_other_types(tmp_path):
    body = (_packet(1, [(_pol(1, 2, 1), 10), (_pol(3, 4, 0, valid=0), 11), (_pol(5, 6, 0), 12)])
            + _packet(2, [], capacity=3, size=20)                           # frame packet: skipped
            + _packet(1, [(_pol(7, 8, 1), 13), (_pol(9, 9, 1), 14)], number=1)  # 2nd event beyond eventNumber
            + _packet(1, [(_pol(10, 11, 0), 5)], overflow=2))               # t = 2 << 31 | 5
    path = tmp_path / "a.aedat"
    path.write_bytes(_aedat31_header() + body)
    ev = read_events(path)
    assert ev.x.tolist() == [1, 5, 7, 10] and ev.y.tolist() == [2, 6, 8, 11] and ev.p.tolist() == [1, 0, 1, 0]
    assert ev.t.tolist() == [10, 12, 13, (2 << 31) | 5]
    assert ev.meta["skipped_packets"] == 1 and ev.meta["invalid_events"] == 1 and ev.sensor_size == (128, 128)


@pytest.mark.parametrize("body, match", [
    (struct.pack("<hhiiiiii", 1, 0, 8, 4, 0, 5, 5, 5) + bytes(16), "truncated packet"),
    (struct.pack("<hhiiiiii", 1, 0, 8, 4, 0, 2, 3, 3) + bytes(16), "corrupt packet header"),
    (struct.pack("<hhiiiiii", 1, 0, 6, 4, 0, 1, 1, 1) + bytes(6), "eventSize=6"),
    (struct.pack("<hhii", 1, 0, 8, 4), "truncated packet header"),
])
def test_aedat31_corrupt_packets(tmp_path, body, match):
    path = tmp_path / "c.aedat"
    path.write_bytes(_aedat31_header() + body)
    with pytest.raises(EventFormatError, match=match):
        read_events(path)


def test_aedat31_header_needs_end_line(tmp_path):
    path = tmp_path / "n.aedat"
    path.write_bytes(b"#!AER-DAT3.1\r\n#Format: RAW\r\n" + _packet(1, [(_pol(1, 1, 1), 1)]))
    with pytest.raises(EventFormatError, match="header"):
        read_events(path)


def test_aedat31_gesture_labels_index_and_cut(tmp_path):
    ev = _events(3000, 128, 128, span_us=1_000_000, seed=5)
    path = tmp_path / "user01_fluorescent.aedat"
    write_aedat31(path, ev, packet_events=300)
    write_gesture_labels(tmp_path / "user01_fluorescent_labels.csv", [3, 11], [100_000, 600_000], [400_000, 900_000])
    whole = read_events(path)
    _same(whole, ev)
    assert whole.meta["labels"]["class"].tolist() == [3, 11]
    samples = cut_samples(whole)
    second = read_events(path, index=1)
    _same(second, ev.time_slice(600_000, 900_000))
    _same(samples[1], second)
    assert second.meta["label"] == 11 and samples[0].meta["label"] == 3
    assert len(samples[0]) == int(((ev.t >= 100_000) & (ev.t < 400_000)).sum())
    with pytest.raises(EventFormatError, match="index=2 is out of range"):
        read_events(path, index=2)
    (tmp_path / "user01_fluorescent_labels.csv").write_text("class,start\n1,2\n")
    with pytest.raises(EventFormatError, match="expected header"):
        read_events(path)


def test_gesture_labels_bad_rows(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("class,startTime_usec,endTime_usec\n1,5,x\n")
    with pytest.raises(EventFormatError, match="row 2"):
        read_gesture_labels(path)


def test_dat_layout_by_hand(tmp_path):
    path = tmp_path / "h.dat"
    recs = struct.pack("<II", 5, 3 | (4 << 14) | (1 << 28)) + struct.pack("<II", 9, 303 | (239 << 14))
    path.write_bytes(b"% Date 2020\n% Version 2\n% Width 304\n% Height 240\n% T0 1000\n" + bytes([0x0C, 8]) + recs)
    ev = read_events(path)
    assert ev.x.tolist() == [3, 303] and ev.y.tolist() == [4, 239] and ev.p.tolist() == [1, 0]
    assert ev.t.tolist() == [1005, 1009] and ev.sensor_size == (304, 240)
    path.write_bytes(b"% Version 2\n% Width 304\n% Height 240\n" + bytes([0x0E, 8]) + recs)
    with pytest.raises(EventFormatError, match="event type byte 0x0E"):
        read_events(path)
    path.write_bytes(b"% Version 2\n" + bytes([0x0C, 8]) + struct.pack("<II", 1, 3 | (5 << 28)))
    with pytest.raises(EventFormatError, match="polarity 5"):
        read_events(path)


def test_headerless_dat1(tmp_path):
    path = tmp_path / "old.dat"
    path.write_bytes(struct.pack("<II", 7, 10 | (20 << 9) | (1 << 17)))
    ev = read_events(path)
    assert ev.meta["format"] == "dat" and ev.x.tolist() == [10] and ev.y.tolist() == [20] and ev.p.tolist() == [1]


# ------------------------------------------------------------------ numpy variants
def test_npy_structured_any_order_aliases_and_polarity(tmp_path):
    arr = np.zeros(3, dtype=[("p", "i1"), ("y", "<i2"), ("timestamp", "<i8"), ("x", "<u2")])
    arr["p"], arr["y"], arr["timestamp"], arr["x"] = [-1, 1, -1], [0, 1, 2], [5, 6, 7], [9, 8, 7]
    np.save(tmp_path / "a.npy", arr)
    ev = read_events(tmp_path / "a.npy")
    assert ev.p.tolist() == [0, 1, 0] and ev.x.tolist() == [9, 8, 7] and ev.t.tolist() == [5, 6, 7]
    assert ev.sensor_size == (10, 3)


def test_npy_shd_style_without_y_and_float_time(tmp_path):
    arr = np.zeros(2, dtype=[("t", "<f8"), ("x", "<u2"), ("p", "?")])
    arr["t"], arr["x"], arr["p"] = [0.001, 0.0025], [3, 699], True
    np.save(tmp_path / "s.npy", arr)
    with pytest.raises(EventFormatError, match="t_unit"):
        read_events(tmp_path / "s.npy")
    ev = read_events(tmp_path / "s.npy", t_unit="s", sensor_size=(700, 1))
    assert ev.t.tolist() == [1000, 2500] and ev.y.tolist() == [0, 0] and ev.height == 1


def test_npy_plain_array_needs_columns(tmp_path):
    arr = np.array([[1, 2, 1, 0.5], [3, 4, 0, 1.5]])  # tonic's DVS Gesture: x, y, p, t in ms
    np.save(tmp_path / "g.npy", arr)
    with pytest.raises(EventFormatError, match="columns"):
        read_events(tmp_path / "g.npy")
    ev = read_events(tmp_path / "g.npy", columns=("x", "y", "p", "t"), t_unit="ms")
    assert ev.t.tolist() == [500, 1500] and ev.x.tolist() == [1, 3] and ev.p.tolist() == [1, 0]


def test_npz_separate_arrays_and_sensor_size(tmp_path):
    np.savez(tmp_path / "s.npz", t=np.array([1, 2]), x=np.array([0, 5]), y=np.array([1, 1]), p=np.array([1, 0]),
             sensor_size=np.array([6, 2]))
    ev = read_events(tmp_path / "s.npz")
    assert ev.sensor_size == (6, 2) and ev.x.tolist() == [0, 5]
    ev2 = _events(50, 20, 10)
    write_npz(tmp_path / "w.npz", ev2)
    _same(read_events(tmp_path / "w.npz"), ev2)


def test_npy_object_arrays_are_refused(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(EventFormatError, match="object arrays are refused"):
        read_events(tmp_path / "o.npy")


def test_npy_negative_coordinates_are_outside_the_sensor(tmp_path):
    np.savez(tmp_path / "n.npz", t=np.array([1]), x=np.array([-1]), y=np.array([0]), p=np.array([1]))
    with pytest.raises(EventFormatError, match="outside"):
        read_events(tmp_path / "n.npz")


# ------------------------------------------------------------------ detection and common errors
def test_detection_by_magic_beats_extension(tmp_path):
    ev = _events(100, 34, 34)
    write_aedat31(tmp_path / "rec.bin", ev)            # an AEDAT 3.1 file with a .bin name
    assert detect_format(tmp_path / "rec.bin") == "aedat31"
    write_dat(tmp_path / "rec.raw", ev)                # a DAT header in a .raw file
    assert detect_format(tmp_path / "rec.raw") == "dat"


def test_unknown_and_unsupported(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"hello world")
    with pytest.raises(EventFormatError, match="unknown format"):
        read_events(tmp_path / "x.txt")
    (tmp_path / "old.aedat").write_bytes(b"#!AER-DAT1.0\r\n" + bytes(12))
    with pytest.raises(EventFormatError, match="unsupported AEDAT version"):
        read_events(tmp_path / "old.aedat")
    (tmp_path / "t.bin").write_bytes(bytes(7))
    with pytest.raises(EventFormatError, match="multiple of 5"):
        read_events(tmp_path / "t.bin")
    with pytest.raises(ValueError, match="format: expected one of"):
        read_events(tmp_path / "t.bin", format="mp4")
    write_nmnist(tmp_path / "ok.bin", _events(10, 34, 34))
    with pytest.raises(ValueError, match="not understood by format 'nmnist'"):
        read_events(tmp_path / "ok.bin", layout="davis")


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "shd"])
def test_empty_file_is_an_error_for_every_format(tmp_path, fmt):
    path = tmp_path / "empty.x"
    path.write_bytes(b"")
    with pytest.raises(EventFormatError, match="empty"):
        read_events(path, format=fmt)


def test_missing_file(tmp_path):
    with pytest.raises(EventFormatError, match="cannot"):
        read_events(tmp_path / "nope.bin")


@pytest.mark.parametrize("fmt, name, magic_len", [("aedat2", "a.aedat", 14), ("aedat31", "b.aedat", 14),
                                                   ("npy", "c.npy", 6), ("npz", "d.npz", 4)])
def test_wrong_magic_with_explicit_format(tmp_path, fmt, name, magic_len):
    ev = _events(50, 34, 34)
    path = tmp_path / name
    write_events(path, ev, format=fmt) if fmt not in ("npy", "npz") else (write_npy if fmt == "npy" else write_npz)(
        path, ev)
    data = bytearray(path.read_bytes())
    data[1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(EventFormatError):
        read_events(path, format=fmt)


def test_header_only_files_hold_no_events(tmp_path):
    path = tmp_path / "h.raw"
    path.write_bytes(b"% evt 3.0\n% geometry 64x64\n")
    with pytest.raises(EventFormatError, match="no events"):
        read_events(path)
    ev = read_events(path, allow_empty=True)
    assert len(ev) == 0 and ev.sensor_size == (64, 64)


def test_truncated_records(tmp_path):
    ev = _events(100, 128, 128)
    for fmt, name in [("aedat2", "a.aedat"), ("dat", "b.dat"), ("evt2", "c.raw"), ("aedat31", "d.aedat")]:
        path = tmp_path / name
        write_events(path, ev, format=fmt)
        path.write_bytes(path.read_bytes()[:-3])
        with pytest.raises(EventFormatError, match="truncated|multiple of"):
            read_events(path)


def test_coordinates_outside_the_stored_sensor(tmp_path):
    path = tmp_path / "o.raw"
    path.write_bytes(b"% evt 3.0\n% format EVT3;height=10;width=10\n"
                     + np.asarray([0x8000, 0x0000 | 3, 0x2000 | 10], "<u2").tobytes())
    with pytest.raises(EventFormatError, match=r"event 0 at \(x=10, y=3\) lies outside the 10x10 sensor"):
        read_events(path)


def test_unsorted_policy_sort_is_stable_and_reject_names_the_event(tmp_path):
    path = tmp_path / "u.npz"
    np.savez(path, t=np.array([5, 3, 5, 3]), x=np.array([0, 1, 2, 3]), y=np.zeros(4, int), p=np.ones(4, int))
    ev = read_events(path)
    assert ev.t.tolist() == [3, 3, 5, 5] and ev.x.tolist() == [1, 3, 0, 2] and ev.meta["backward_steps"] == 2
    with pytest.raises(EventFormatError, match=r"backwards at event 1 \(5 -> 3 us\)"):
        read_events(path, on_unsorted="reject")
    with pytest.raises(ValueError, match="on_unsorted"):
        read_events(path, on_unsorted="ignore")


def test_limits_name_the_limit(tmp_path):
    ev = _events(1000, 34, 34)
    write_events(tmp_path / "l.bin", ev)
    with pytest.raises(EventFormatError, match="max_bytes=100"):
        read_events(tmp_path / "l.bin", max_bytes=100)
    for fmt, name in [("nmnist", "l.bin"), ("evt3", "l.raw"), ("aedat31", "l.aedat"), ("npz", "l.npz")]:
        write_events(tmp_path / name, ev, format=fmt)
        with pytest.raises(EventFormatError, match="max_events=999"):
            read_events(tmp_path / name, max_events=999)
        assert len(read_events(tmp_path / name, max_events=1000)) == 1000


def test_writers_refuse_unsorted_and_unknown(tmp_path):
    ev = Events([5, 1], [0, 0], [0, 0], [0, 1], 4, 4)
    with pytest.raises(ValueError, match="time-sorted"):
        write_events(tmp_path / "u.raw", ev, format="evt3")
    with pytest.raises(ValueError, match="cannot tell the format"):
        write_events(tmp_path / "u.raw", ev)
    with pytest.raises(ValueError, match="dvs128 layout needs x, y < 128"):
        write_aedat2(tmp_path / "big.aedat", Events([1], [200], [0], [0], 346, 260))


def test_relative_and_orientation_presets(tmp_path):
    ev = Events([100, 250], [0, 3], [1, 2], [1, 0], 4, 3)
    write_npz(tmp_path / "o.npz", ev)
    rel = read_events(tmp_path / "o.npz", relative=True)
    assert rel.t.tolist() == [0, 150] and rel.meta["t0"] == 100
    assert read_events(tmp_path / "o.npz", orientation="flip_y").y.tolist() == [1, 0]
    assert read_events(tmp_path / "o.npz", orientation="flip_x").x.tolist() == [3, 0]
    tr = read_events(tmp_path / "o.npz", orientation="transpose")
    assert tr.x.tolist() == [1, 2] and tr.sensor_size == (3, 4)
    sq = Events([1], [1], [2], [1], 128, 128)
    sj = reorient(sq, "spikingjelly_cifar10dvs")
    assert (sj.x.tolist(), sj.y.tolist(), sj.p.tolist()) == ([125], [126], [0])
    with pytest.raises(ValueError, match="orientation"):
        read_events(tmp_path / "o.npz", orientation="upside_down")


# ------------------------------------------------------------------ committed assets
def test_every_asset_reads():
    files = sorted(p for p in ASSETS.iterdir() if p.is_file() and p.suffix not in (".md", ".csv"))  # mnist_subset/ is a folder
    formats = set()
    for path in files:
        ev = read_events(path, sensor_size=(34, 34) if path.suffix == ".npy" else None)
        assert len(ev) > 100, path
        ev.validate(str(path))
        formats.add(ev.meta["format"])
    assert formats == set(FORMATS)


def test_aedat4_asset_holds_the_first_2000_events_of_the_nmnist_asset():
    pytest.importorskip("aedat")
    a4 = read_events(ASSETS / "aedat4_digit3_2000.aedat4")
    ref = read_events(ASSETS / "nmnist_digit3.bin")[:2000]
    _same(a4, ref)
    assert a4.meta["format"] == "aedat4"


def test_asset_labels_cut_two_digits():
    rec = read_events(ASSETS / "aedat31_user01_digits.aedat")
    samples = cut_samples(rec)
    assert [s.meta["label"] for s in samples] == [4, 8]
    assert sum(len(s) for s in samples) == len(rec)


def test_aedat4_corrupt_file_is_an_error(tmp_path):
    pytest.importorskip("aedat")
    data = (ASSETS / "aedat4_digit3_2000.aedat4").read_bytes()
    path = tmp_path / "c.aedat4"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(EventFormatError, match="aedat4"):
        read_events(path)


def test_cifar10dvs_style_aedat2_reads_with_the_spikingjelly_preset(tmp_path):
    ev = Events([1, 2], [0, 10], [5, 127], [1, 0], 128, 128)
    write_aedat2(tmp_path / "airplane_0.aedat", ev)
    raw = read_events(tmp_path / "airplane_0.aedat")
    _same(raw, ev)
    sj = read_events(tmp_path / "airplane_0.aedat", orientation="spikingjelly_cifar10dvs")
    assert sj.x.tolist() == [122, 0] and sj.y.tolist() == [127, 117] and sj.p.tolist() == [0, 1]
