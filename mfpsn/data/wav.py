"""A bounded reader for RIFF/WAVE audio files: integer PCM (8, 16, 24, 32 bit) and IEEE float (32, 64 bit),
plain or ``WAVE_FORMAT_EXTENSIBLE``, any number of channels (averaged to mono).

Only the bytes of the file are read and only as many as its ``data`` chunk holds (a header that declares more
than the file has is refused, not trusted); the file size is capped by ``MAX_BYTES`` and the decoded length by ``max_seconds``
before any sample is decoded. Every problem raises :class:`WavFormatError`, a ``ValueError`` naming the file, what was expected and
what was found.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

__all__ = ["WavFormatError", "MAX_SECONDS", "MAX_BYTES", "read_wav", "parse_wav", "write_wav"]

MAX_SECONDS = 60.0
MAX_BYTES = 256 << 20
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_MAX_CHANNELS = 32
_RATE_RANGE = (1_000, 384_000)


class WavFormatError(ValueError):
    """The bytes are not a WAV file this reader decodes; the message names the file, expected and found."""

    def __init__(self, name: str, expected: str, found: str) -> None:
        super().__init__(f"{name}: expected {expected}, found {found}")
        self.name, self.expected, self.found = name, expected, found


def read_wav(path: str | os.PathLike, *, max_seconds: float = MAX_SECONDS) -> tuple[np.ndarray, int]:
    """Decode the WAV file ``path``.

    Returns:
        audio: ``[S]`` float64 mono waveform, full scale ±1 (channels averaged).
        sample_rate: Hz.
    """
    path = Path(path)
    if not path.is_file():
        raise WavFormatError(str(path), "a regular WAV file", "no such file" if not path.exists() else "not a file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise WavFormatError(str(path), f"a WAV file of at most {MAX_BYTES >> 20} MiB", f"{size >> 20} MiB")
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    return parse_wav(data, name=str(path), max_seconds=max_seconds)


def parse_wav(data: bytes, *, name: str = "<bytes>", max_seconds: float = MAX_SECONDS) -> tuple[np.ndarray, int]:
    """Decode WAV ``data`` (see :func:`read_wav`); ``name`` goes into error messages."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavFormatError(name, "a RIFF/WAVE header ('RIFF' …. 'WAVE')", f"{data[:12]!r}")
    fmt, payload = _chunks(data, name)
    channels, rate, width, kind = _format(fmt, name)
    frame = channels * width
    n_frames = len(payload) // frame
    if n_frames == 0:
        raise WavFormatError(name, "at least one audio frame in the data chunk", f"{len(payload)} bytes")
    if n_frames > max_seconds * rate:
        raise WavFormatError(name, f"at most {max_seconds:g} s of audio", f"{n_frames / rate:.1f} s at {rate} Hz")
    raw = payload[:n_frames * frame]
    samples = _decode(raw, width, kind).reshape(n_frames, channels)
    audio = samples.mean(axis=1) if channels > 1 else samples[:, 0]
    if not np.all(np.isfinite(audio)):
        raise WavFormatError(name, "finite samples", "NaN or infinite float samples")
    return np.clip(audio, -1.0, 1.0), rate


def _chunks(data: bytes, name: str) -> tuple[bytes, bytes]:
    """The ``fmt `` and ``data`` chunk bodies (the data body cut to the bytes present, never beyond)."""
    fmt: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            if body + size > len(data):
                raise WavFormatError(name, f"a complete 'fmt ' chunk of {size} bytes", f"{len(data) - body} bytes")
            fmt = data[body:body + size]
        elif cid == b"data":
            if fmt is None:
                raise WavFormatError(name, "the 'fmt ' chunk before the 'data' chunk", "'data' first")
            if body + size > len(data) and size != 0xFFFFFFFF:
                raise WavFormatError(name, f"a data chunk of {size} bytes as its header declares",
                                     f"{len(data) - body} bytes (a truncated file)")
            return fmt, data[body:min(body + size, len(data))]
        pos = body + size + (size & 1)
    raise WavFormatError(name, "a 'fmt ' and a 'data' chunk", "fmt " if fmt is not None else "neither")


def _format(fmt: bytes, name: str) -> tuple[int, int, int, str]:
    if len(fmt) < 16:
        raise WavFormatError(name, "a 'fmt ' chunk of >= 16 bytes", f"{len(fmt)} bytes")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _EXTENSIBLE:
        if len(fmt) < 40:
            raise WavFormatError(name, "a 40-byte WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk", f"{len(fmt)} bytes")
        tag = struct.unpack_from("<H", fmt, 24)[0]
    if not 1 <= channels <= _MAX_CHANNELS:
        raise WavFormatError(name, f"1..{_MAX_CHANNELS} channels", str(channels))
    if not _RATE_RANGE[0] <= rate <= _RATE_RANGE[1]:
        raise WavFormatError(name, f"a sample rate in {_RATE_RANGE[0]}..{_RATE_RANGE[1]} Hz", f"{rate} Hz")
    if tag == _PCM and bits in (8, 16, 24, 32):
        return channels, rate, bits // 8, "int"
    if tag == _FLOAT and bits in (32, 64):
        return channels, rate, bits // 8, "float"
    raise WavFormatError(name, "integer PCM of 8/16/24/32 bit or IEEE float of 32/64 bit",
                         f"format tag {tag} with {bits} bit")


def _decode(raw: bytes, width: int, kind: str) -> np.ndarray:
    if kind == "float":
        return np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8").astype(np.float64)
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        return v.astype(np.float64) / float(1 << 23)
    dtype = "<i2" if width == 2 else "<i4"
    return np.frombuffer(raw, dtype=dtype).astype(np.float64) / float(1 << (8 * width - 1))


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> Path:
    """Write ``audio [S]`` (full scale ±1, clipped) as 16-bit mono PCM; returns the path."""
    path = Path(path)
    pcm = np.round(np.clip(np.asarray(audio, np.float64), -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, _PCM, 1, int(sample_rate), 2 * int(sample_rate), 2, 16)
    path.write_bytes(header + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm)
    return path
