"""Prophesee EVT 2.0 / 3.0: the vectorised decoders against word-by-word references, time wraps,
vector words, headers, and cross-checks with ``evt3`` (MIT) and ``faery`` when installed."""
from __future__ import annotations

import numpy as np
import pytest

from mfpsn.events import EventFormatError, Events, read_events, write_evt2, write_evt3
from mfpsn.events._context import ReadContext
from mfpsn.events.formats.evt3 import decode_words, encode_words

def evt3_reference(words: np.ndarray) -> tuple[list, list, list, list]:
    """Decode EVT 3.0 words one at a time. Returns lists t (without t0), x, y, p."""
    t_out, x_out, y_out, p_out = [], [], [], []
    y = base_x = pol = None
    high = None  # unwrapped TIME_HIGH (periods of 4096 us)
    prev_raw = None
    low = 0
    for w in (int(v) for v in words):
        typ, payload = w >> 12, w & 0xFFF
        if typ == 0x8:
            if high is None:
                high = payload
            else:
                d = (payload - prev_raw) % 4096
                high += d if d < 2048 else d - 4096
            prev_raw = payload
            low = 0
        elif typ == 0x6:
            low = payload
        elif typ == 0x0:
            y = payload & 0x7FF
        elif typ == 0x2:
            if high is not None and y is not None:
                t_out.append(high * 4096 + low)
                x_out.append(payload & 0x7FF)
                y_out.append(y)
                p_out.append((payload >> 11) & 1)
        elif typ == 0x3:
            base_x, pol = payload & 0x7FF, (payload >> 11) & 1
        elif typ in (0x4, 0x5):
            nbits = 12 if typ == 0x4 else 8
            if base_x is not None:
                for j in range(nbits):
                    if (payload >> j) & 1 and high is not None and y is not None:
                        t_out.append(high * 4096 + low)
                        x_out.append(base_x + j)
                        y_out.append(y)
                        p_out.append(pol)
                base_x += nbits
        elif typ in (0xA, 0xE, 0xF, 0x7):
            pass
        else:
            raise ValueError(f"reserved type {typ:#x}")
    return t_out, x_out, y_out, p_out


def evt2_reference(words: np.ndarray) -> tuple[list, list, list, list]:
    """Decode EVT 2.0 words one at a time ("a smaller TIME_HIGH means a 2^34 us wrap")."""
    t_out, x_out, y_out, p_out = [], [], [], []
    high = None
    wraps = 0
    for w in (int(v) for v in words):
        typ = w >> 28
        if typ == 0x8:
            v = w & 0x0FFFFFFF
            if high is not None and v < high:
                wraps += 1
            high = v
        elif typ in (0, 1):
            if high is None:
                continue
            t_out.append(((wraps << 28) + high) * 64 + ((w >> 22) & 0x3F))
            x_out.append((w >> 11) & 0x7FF)
            y_out.append(w & 0x7FF)
            p_out.append(typ)
    return t_out, x_out, y_out, p_out


def _events(n: int, span_us: int, seed: int, w: int = 1280, h: int = 720) -> Events:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, span_us, n))
    return Events(t, rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n), w, h)


def _same(a: Events, b: Events) -> None:
    for k in "txyp":
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)
    assert a.sensor_size == b.sensor_size


def _raw(tmp_path, name: str, evt: str, words: np.ndarray, extra: str = "") -> str:
    path = tmp_path / name
    dtype = "<u2" if evt == "3.0" else "<u4"
    path.write_bytes(f"% evt {evt}\n% geometry 2048x2048\n{extra}".encode() + np.asarray(words, dtype).tobytes())
    return str(path)


def _random_evt3_words(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random but well-formed-ish EVT3 stream with every word type, jitter and big jumps."""
    types = rng.choice([0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8, 0xA, 0xE, 0xF, 0x7], size=n,
                       p=[.12, .3, .06, .08, .06, .12, .14, .03, .03, .03, .03])
    payload = rng.integers(0, 1 << 12, n)
    # keep x and base small enough that base + increments stay plausible, y < 2048
    payload = np.where(types == 0x0, payload & 0x7FF, payload)
    payload = np.where(np.isin(types, (0x2, 0x3)), payload & 0x8FF, payload)
    return ((types << 12) | payload).astype(np.uint16)


@pytest.mark.parametrize("seed", range(6))
def test_evt3_vectorised_matches_reference_on_random_streams(seed):
    words = _random_evt3_words(np.random.default_rng(seed), 3000)
    t, x, y, p, _ = decode_words(words, ReadContext("<words>", "evt3"))
    rt, rx, ry, rp = evt3_reference(words)
    np.testing.assert_array_equal(t, rt)
    np.testing.assert_array_equal(x, rx)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(p, rp)
    assert len(rt) > 500


def test_evt3_vector_words_by_hand(tmp_path):
    words = [0x8000 | 5, 0x6000 | 7, 0x0000 | 9,        # TIME_HIGH 5, TIME_LOW 7, y = 9
             0x3000 | (1 << 11) | 100,                 # base x 100, ON
             0x4000 | 0b100000000101,                  # VECT_12: x 100, 102, 111
             0x5000 | 0b10000001,                      # VECT_8: x 112, 119
             0x2000 | 3]                               # ADDR_X x 3, OFF
    ev = read_events(_raw(tmp_path, "v.raw", "3.0", words))
    assert ev.x.tolist() == [100, 102, 111, 112, 119, 3]
    assert ev.p.tolist() == [1, 1, 1, 1, 1, 0]
    assert set(ev.y.tolist()) == {9} and set(ev.t.tolist()) == {5 * 4096 + 7}


def test_evt3_time_low_resets_on_time_high_and_state_less_events_are_dropped(tmp_path):
    words = [0x2000 | 1,                     # no TIME_HIGH, no y: dropped
             0x8000 | 1, 0x2000 | 2,         # no y yet: dropped
             0x0000 | 4, 0x6000 | 100, 0x2000 | 3,
             0x8000 | 2, 0x2000 | 5]         # new TIME_HIGH, no TIME_LOW since: low = 0
    ev = read_events(_raw(tmp_path, "r.raw", "3.0", words))
    assert ev.x.tolist() == [3, 5]
    assert ev.t.tolist() == [4096 + 100, 2 * 4096]
    assert ev.meta["dropped_without_state"] == 2


@pytest.mark.parametrize("span_s, n", [(40, 4000), (200, 3000)])
def test_evt3_round_trip_long_files(tmp_path, span_s, n):
    ev = _events(n, span_s * 1_000_000, seed=span_s)
    path = tmp_path / "long.raw"
    write_evt3(path, ev)
    _same(read_events(path), ev)


def test_evt3_gaps_longer_than_4_2_s_and_crossing_the_wrap(tmp_path):
    t = np.array([0, 10, 5_000_000, 16_777_000, 16_777_300, 16_778_000, 30_000_000, 33_554_431, 33_554_432,
                  90_000_000, 90_000_001])
    n = t.size
    ev = Events(t + 1234, np.arange(n), np.arange(n)[::-1], np.arange(n) % 2, 1280, 720)
    path = tmp_path / "gaps.raw"
    write_evt3(path, ev)
    _same(read_events(path), ev)


def test_evt3_encoder_keeps_time_high_steps_below_2048():
    t = np.array([0, 100_000_000, 100_000_001])
    words = encode_words(t, np.zeros(3, np.int64), np.zeros(3, np.int64), np.zeros(3, np.uint8))
    th = (words[(words >> 12) == 0x8] & 0xFFF).astype(np.int64)
    assert np.all(np.diff(th) % 4096 <= 1024)
    rt, _, _, _ = evt3_reference(words)
    assert rt == t.tolist()


def test_evt3_modular_rule_treats_backward_jitter_as_backward(tmp_path):
    words = [0x0000, 0x8000 | 4095, 0x2000 | 1,
             0x8000 | 0, 0x2000 | 2,     # forward by 1 across the wrap
             0x8000 | 4095, 0x2000 | 3,  # backward jitter by 1 (not a wrap)
             0x8000 | 1, 0x2000 | 4]
    path = _raw(tmp_path, "j.raw", "3.0", words)
    ev = read_events(path, on_unsorted="sort")
    assert ev.t.tolist() == [4095 * 4096, 4095 * 4096, 4096 * 4096, 4097 * 4096]
    assert ev.x.tolist() == [1, 3, 2, 4]
    assert ev.meta["backward_steps"] == 1
    with pytest.raises(EventFormatError, match="backwards"):
        read_events(path, on_unsorted="reject")


def test_evt3_reserved_word_and_odd_length_are_errors(tmp_path):
    with pytest.raises(EventFormatError, match="reserved word type 0x1"):
        read_events(_raw(tmp_path, "bad.raw", "3.0", [0x8000, 0x1000]))
    path = tmp_path / "odd.raw"
    path.write_bytes(b"% evt 3.0\n" + b"\x00\x80\x00")
    with pytest.raises(EventFormatError, match="odd"):
        read_events(path)


def test_evt3_header_t0_and_format_line(tmp_path):
    words = [0x8000 | 1, 0x6000 | 2, 0x0000 | 3, 0x2000 | 4]
    path = tmp_path / "t0.raw"
    path.write_bytes(b"% date 2020-01-01\n% format EVT3;height=720;width=1280\n% t0 1000000\n% end\n"
                     + np.asarray(words, "<u2").tobytes())
    ev = read_events(path)
    assert ev.sensor_size == (1280, 720)
    assert ev.t.tolist() == [1_000_000 + 4096 + 2]
    assert read_events(path, relative=True).t.tolist() == [0]


def test_evt3_header_stops_at_a_binary_line(tmp_path):
    # the first data word's low byte is 0x25 ('%') followed by a space-like byte: not a header line
    words = np.array([0x2025 & 0xFFFF, 0x8000], np.uint16)
    path = tmp_path / "hdr.raw"
    path.write_bytes(b"% evt 3.0\n% geometry 64x64\n" + words.tobytes() + b"\x00\x00")
    ev = read_events(path, allow_empty=True)
    assert len(ev) == 0 and ev.meta["dropped_without_state"] == 1


@pytest.mark.parametrize("seed", range(3))
def test_evt2_vectorised_matches_reference_on_random_streams(seed, tmp_path):
    rng = np.random.default_rng(seed)
    n = 3000
    types = rng.choice([0x0, 0x1, 0x8, 0xA, 0xE, 0xF], size=n, p=[.35, .35, .2, .04, .03, .03])
    # TIME_HIGH: non-decreasing in unwrapped time, starting just below 2^28 so it wraps once
    high = ((1 << 28) - 300 + np.cumsum(rng.integers(0, 3, n))) % (1 << 28)
    payload = np.where(types == 0x8, high, rng.integers(0, 1 << 28, n))
    words = ((types.astype(np.int64) << 28) | payload).astype(np.uint32)
    ev = read_events(_raw(tmp_path, "e2.raw", "2.0", words))  # stable sort by time (the default policy)
    rt, rx, ry, rp = (np.asarray(v) for v in evt2_reference(words))
    order = np.argsort(rt, kind="stable")
    rt, rx, ry, rp = rt[order], rx[order], ry[order], rp[order]
    assert rt[-1] > 1 << 34  # the stream wrapped
    np.testing.assert_array_equal(ev.t, rt)
    np.testing.assert_array_equal(ev.x, rx)
    np.testing.assert_array_equal(ev.y, ry)
    np.testing.assert_array_equal(ev.p, rp)


def test_evt2_round_trip_with_offset_and_long_span(tmp_path):
    ev = _events(3000, 7_200_000_000, seed=4, w=640, h=480)
    ev = Events(ev.t + 10**9, ev.x, ev.y, ev.p, 640, 480)
    path = tmp_path / "a.raw"
    write_evt2(path, ev)
    out = read_events(path)
    _same(out, ev)
    assert out.meta["format"] == "evt2"


def test_evt2_reserved_word_is_an_error(tmp_path):
    with pytest.raises(EventFormatError, match="reserved word type 0x3"):
        read_events(_raw(tmp_path, "bad2.raw", "2.0", [0x80000000, 0x30000000]))


def test_raw_without_header_needs_a_format(tmp_path):
    path = tmp_path / "nohdr.raw"
    path.write_bytes(np.asarray([0x8000 | 1, 0x0000, 0x2000 | 5], "<u2").tobytes())
    with pytest.raises(EventFormatError, match="cannot tell EVT 2.0 from 3.0"):
        read_events(path)
    assert read_events(path, format="evt3").x.tolist() == [5]


def test_cross_check_with_evt3_package(tmp_path):
    evt3 = pytest.importorskip("evt3")
    for i, (span, n) in enumerate([(300_000, 2000), (40_000_000, 5000), (120_000_000, 500)]):
        ev = _events(n, span, seed=10 + i)
        path = tmp_path / f"x{i}.raw"
        write_evt3(path, ev)
        theirs = evt3.decode_file(str(path))
        ours = read_events(path, relative=True)
        np.testing.assert_array_equal(np.asarray(theirs.t, np.int64), ours.t)
        np.testing.assert_array_equal(np.asarray(theirs.x), ours.x)
        np.testing.assert_array_equal(np.asarray(theirs.y), ours.y)
        np.testing.assert_array_equal(np.asarray(theirs.p), ours.p)


def test_cross_check_evt3_package_on_gaps_and_vectors(tmp_path):
    evt3 = pytest.importorskip("evt3")
    # gaps > 4.2 s written in <= 1024-period steps, plus vector words
    t = np.array([0, 5_000_000, 5_000_001, 21_000_000, 40_000_000])
    words = list(encode_words(t, np.array([1, 2, 3, 4, 5]), np.array([7, 7, 8, 8, 9]), np.array([1, 0, 1, 0, 1])))
    words += [0x3000 | (1 << 11) | 200, 0x4000 | 0xFFF, 0x5000 | 0x81]
    path = _raw(tmp_path, "cv.raw", "3.0", np.asarray(words), extra="% format EVT3;height=2048;width=2048\n")
    theirs = evt3.decode_file(path)
    ours = read_events(path)
    np.testing.assert_array_equal(np.asarray(theirs.t, np.int64), ours.t)
    np.testing.assert_array_equal(np.asarray(theirs.x), ours.x)
    np.testing.assert_array_equal(np.asarray(theirs.y), ours.y)
    assert len(ours) == 5 + 12 + 2


def test_reads_faery_written_evt3_with_t0(tmp_path):
    faery = pytest.importorskip("faery")
    ev = _events(3000, 25_000_000, seed=3, w=640, h=480)
    t = ev.t + 5_000_000
    arr = np.zeros(len(ev), dtype=faery.EVENTS_DTYPE)
    arr["t"], arr["x"], arr["y"], arr["on"] = t, ev.x, ev.y, ev.p.astype(bool)
    for version in ("evt3", "evt2"):
        path = tmp_path / f"faery_{version}.raw"
        faery.events_stream_from_array(arr, dimensions=(640, 480)).to_file(str(path), version=version)
        out = read_events(path)
        np.testing.assert_array_equal(out.t, t)
        np.testing.assert_array_equal(out.x, ev.x)
        np.testing.assert_array_equal(out.p, ev.p)
        assert out.sensor_size == (640, 480)


def test_evt3_encoder_crosses_each_wrap_as_0xfff_then_0x000():
    t = np.array([4000 * 4096, 4096 * 4096 + 300 * 4096, 3 * 4096 * 4096 + 5])
    words = encode_words(t, np.zeros(3, np.int64), np.zeros(3, np.int64), np.zeros(3, np.uint8))
    th = (words[(words >> 12) == 0x8] & 0xFFF).astype(np.int64).tolist()
    drops = [(a, b) for a, b in zip(th[:-1], th[1:]) if b < a]
    assert drops == [(4095, 0)] * 3
    assert evt3_reference(words)[0] == t.tolist()


def test_faery_reads_our_evt2_evt3_dat_and_we_read_its_dat(tmp_path):
    faery = pytest.importorskip("faery")
    from mfpsn.events import write_events
    ev = _events(2000, 30_000_000, seed=8, w=304, h=240)
    ev = Events(ev.t + 3_000_000, ev.x, ev.y, ev.p, 304, 240)
    for fmt, name in (("evt3", "o3.raw"), ("evt2", "o2.raw"), ("dat", "o.dat")):
        write_events(tmp_path / name, ev, format=fmt)
        got = np.concatenate(list(faery.events_stream_from_file(str(tmp_path / name))))
        np.testing.assert_array_equal(got["t"].astype(np.int64), ev.t, err_msg=fmt)
        np.testing.assert_array_equal(got["x"], ev.x, err_msg=fmt)
        np.testing.assert_array_equal(got["y"], ev.y, err_msg=fmt)
        np.testing.assert_array_equal(got["on"], ev.p.astype(bool), err_msg=fmt)
    arr = np.zeros(len(ev), dtype=faery.EVENTS_DTYPE)
    arr["t"], arr["x"], arr["y"], arr["on"] = ev.t, ev.x, ev.y, ev.p.astype(bool)
    faery.events_stream_from_array(arr, dimensions=(304, 240)).to_file(str(tmp_path / "f.dat"))
    _same(read_events(tmp_path / "f.dat"), ev)
