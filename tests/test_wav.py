"""The bounded WAV reader: every PCM/float layout against numpy-made references, and hostile headers."""
from __future__ import annotations

import struct
import wave

import numpy as np
import pytest

from mfpsn.data.wav import MAX_BYTES, WavFormatError, parse_wav, read_wav, write_wav

RATE = 8000


def _riff(fmt_body: bytes, data: bytes, extra_chunks: bytes = b"", declared: int | None = None) -> bytes:
    fmt = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body
    size = len(data) if declared is None else declared
    body = b"WAVE" + extra_chunks + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _fmt(tag: int, channels: int, bits: int, rate: int = RATE) -> bytes:
    block = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)


def test_round_trip_16_bit_matches_the_standard_library(tmp_path):
    x = 0.5 * np.sin(np.arange(1000) * 0.05)
    path = write_wav(tmp_path / "a.wav", x, RATE)
    with wave.open(str(path)) as w:
        ref = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0
    y, rate = read_wav(path)
    assert rate == RATE
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_allclose(y, x, atol=1 / 32767)


@pytest.mark.parametrize("bits", [8, 24, 32])
def test_integer_widths(bits):
    v = np.array([-1.0, -0.5, 0.0, 0.25, 0.75])
    if bits == 8:
        raw = np.round(v * 128 + 128).clip(0, 255).astype(np.uint8).tobytes()
        expected = (np.round(v * 128 + 128).clip(0, 255) - 128) / 128
    elif bits == 24:
        ints = np.round(v * (1 << 23)).clip(-(1 << 23), (1 << 23) - 1).astype(np.int32)
        raw = b"".join(int(i).to_bytes(3, "little", signed=True) for i in ints)
        expected = ints / (1 << 23)
    else:
        ints = np.round(v * (1 << 31)).clip(-(1 << 31), (1 << 31) - 1).astype("<i4")
        raw = ints.tobytes()
        expected = ints / float(1 << 31)
    y, _ = parse_wav(_riff(_fmt(1, 1, bits), raw))
    np.testing.assert_allclose(y, expected, atol=1e-12)


def test_float_stereo_and_extensible_are_averaged_to_mono():
    stereo = np.array([[0.5, -0.5], [0.25, 0.75]], dtype="<f4")
    y, _ = parse_wav(_riff(_fmt(3, 2, 32), stereo.tobytes()))
    np.testing.assert_allclose(y, [0.0, 0.5])
    ext = _fmt(0xFFFE, 1, 16) + struct.pack("<HHIH14s", 22, 16, 4, 1, b"\x00" * 14)
    y, _ = parse_wav(_riff(ext, np.array([16384], "<i2").tobytes()))
    np.testing.assert_allclose(y, [0.5])


def test_unknown_chunks_are_skipped():
    junk = b"LIST" + struct.pack("<I", 5) + b"abcde" + b"\x00"  # odd size, padded
    y, _ = parse_wav(_riff(_fmt(1, 1, 16), np.array([8192], "<i2").tobytes(), extra_chunks=junk))
    np.testing.assert_allclose(y, [0.25])


@pytest.mark.parametrize("data, message", [
    (b"not a wav file at all", "RIFF/WAVE header"),
    (_riff(_fmt(1, 1, 16), b"\x00\x01" * 10, declared=1 << 20), "truncated"),
    (_riff(_fmt(1, 1, 16), b""), "at least one audio frame"),
    (_riff(_fmt(2, 1, 4), b"\x00" * 8), "format tag 2"),
    (_riff(_fmt(1, 0, 16), b"\x00" * 8), "channels"),
    (_riff(_fmt(1, 1, 16, rate=10), b"\x00" * 8), "sample rate"),
    (_riff(_fmt(3, 1, 32), np.array([np.nan], "<f4").tobytes()), "finite"),
    (b"RIFF\x04\x00\x00\x00WAVE", "'fmt ' and a 'data' chunk"),
    (b"RIFF" + struct.pack("<I", 20) + b"WAVEdata" + struct.pack("<I", 2) + b"\x00\x00", "before the 'data'"),
])
def test_bad_files_name_what_was_expected(data, message):
    with pytest.raises(WavFormatError, match=message) as info:
        parse_wav(data, name="bad.wav")
    assert str(info.value).startswith("bad.wav: expected")


def test_length_and_size_are_capped_before_decoding(tmp_path):
    with pytest.raises(WavFormatError, match="at most 1 s"):
        parse_wav(_riff(_fmt(1, 1, 16), b"\x00\x00" * (RATE + 1)), max_seconds=1)
    with pytest.raises(WavFormatError, match="no such file"):
        read_wav(tmp_path / "missing.wav")
    with pytest.raises(WavFormatError, match="not a file"):
        read_wav(tmp_path)
    big = tmp_path / "big.wav"
    with open(big, "wb") as f:
        f.truncate(MAX_BYTES + 1)
    with pytest.raises(WavFormatError, match="MiB"):
        read_wav(big)
