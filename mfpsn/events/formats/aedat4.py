"""AEDAT 4.0 (iniVation DV, dv-processing; DAVIS346, DVXplorer), read through ``aedat`` (MIT).

Layout: ``#!AER-DAT4.0\\r\\n``, uint32 size of an IOHeader FlatBuffer holding the XML stream
description, then LZ4/Zstd-compressed FlatBuffer packets (spec section 4). There is no writer
here: hand-writing FlatBuffers + LZ4 is impractical; the committed fixture was made with faery.

Mapping onto ``mfpsn.events.core``: the events of the first ``events`` stream (or the stream id
given as option ``stream``); t, x, y as stored (top-left origin), p = ``on`` (1 = ON). Sensor
size from the stream's ``sizeX``/``sizeY``. Frame, IMU and trigger packets are skipped.

Memory: the child caps its address space (``RLIMIT_AS``) at its start-up size plus
:func:`child_memory_budget` (256 MiB + 64 x the file size, at most 256 MiB + 64 bytes x max_events), so a
decompression bomb ends in a clean EventFormatError; the parent holds the file's events (13 bytes each) twice.
No AEDAT 4 stream refers to data outside the file (the format has no external references).

Isolation (option ``isolate``, default True): ``aedat`` is compiled Rust, and some corrupt files
make it abort the whole process (a panic at the FFI boundary, found by fuzzing). By default the
decoding therefore runs in a child process (about 0.2-0.4 s of start-up); a crash, a timeout
(option ``timeout_s``, default 120) or any decoder error becomes an EventFormatError. Pass
``isolate=False`` to decode in this process for trusted files.
"""
from __future__ import annotations

import io
import json
import signal
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

from mfpsn.events._context import ReadContext, read_regular
from mfpsn.events.core import Events
from mfpsn.events.errors import EventFormatError
from mfpsn.events.formats.record import FormatRecord
from mfpsn.events.formats.npy import _read_array

__all__ = ["FORMAT", "read", "MAGIC"]

MAGIC = b"#!AER-DAT4.0\r\n"
OPTIONS = ("stream", "isolate", "timeout_s")
CHILD = Path(__file__).with_name("_aedat4_child.py")


def child_memory_budget(file_bytes: int, max_events: int) -> int:
    """Bytes the decoder child may allocate beyond its start-up size for a file of ``file_bytes``."""
    return (256 << 20) + min(64 * int(file_bytes), 64 * int(max_events))


def _decode_in_child(ctx: ReadContext, stream: int, timeout_s: float, size: int) -> tuple[dict, np.ndarray]:
    budget = child_memory_budget(size, ctx.max_events)
    cmd = [sys.executable, "-I", str(CHILD), ctx.path, str(stream), str(ctx.max_events), str(budget)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ctx.error(f"the aedat decoder took longer than timeout_s={timeout_s} s") from exc
    out = proc.stdout
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = str(-proc.returncode)
        memory = b"memory allocation" in proc.stderr or b"MemoryError" in proc.stderr
        raise ctx.error(f"the aedat decoder crashed on this file ({name}): "
                        + (f"it needs more than its memory limit of {budget} bytes (a decompression bomb or a "
                           "corrupt packet size)" if memory else "corrupt data"))
    if len(out) < 8:
        memory = b"memory allocation" in proc.stderr or b"MemoryError" in proc.stderr
        raise ctx.error(f"the aedat decoder failed (exit {proc.returncode})"
                        + (f": it needs more than its memory limit of {budget} bytes" if memory else ""))
    (n,) = struct.unpack_from("<Q", out)
    if n > len(out) - 8:
        raise ctx.error("truncated answer from the aedat decoder")
    try:
        info = json.loads(out[8:8 + n].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ctx.error(f"unreadable answer from the aedat decoder ({type(exc).__name__})") from exc
    if "error" in info:
        if info.get("kind") == "import":
            raise RuntimeError(f"reading AEDAT 4 needs the 'aedat' package (pip install aedat==2.3.0): "
                               f"{info['error']}")
        raise ctx.error(info["error"])
    rest = out[8 + n:]
    arr = _read_array(io.BytesIO(rest), len(rest), ctx, "decoded events")
    return info, arr


def _decode_here(ctx: ReadContext, stream: int) -> tuple[dict, np.ndarray]:
    try:
        import aedat
    except ImportError as exc:
        raise RuntimeError("reading AEDAT 4 needs the 'aedat' package (pip install aedat==2.3.0)") from exc
    try:
        decoder = aedat.Decoder(ctx.path)
        streams = decoder.id_to_stream()
        event_ids = sorted(k for k, v in streams.items() if v.get("type") == "events")
        sid = stream if stream >= 0 else (event_ids[0] if event_ids else None)
        if sid is None or sid not in event_ids:
            raise ctx.error(f"no event stream {'' if stream < 0 else stream} in the file; "
                            f"{len(streams)} streams of types {sorted({str(v.get('type'))[:16] for v in streams.values()})[:8]}")
        parts, total = [], 0
        for packet in decoder:
            if packet.get("stream_id") == sid and "events" in packet:
                total += len(packet["events"])
                ctx.check_count(total)
                parts.append(packet["events"])
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - pyo3 panics derive from BaseException
        if isinstance(exc, type(ctx.error(""))):
            raise
        raise ctx.error(f"the aedat decoder failed ({type(exc).__name__}): corrupt data") from exc
    dtype = [("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")]
    arr = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
    return {"streams": {str(k): v for k, v in streams.items()}, "stream_id": sid}, arr


def read(ctx: ReadContext) -> Events:
    ctx.no_index()
    size = ctx.file_size()
    head, _ = read_regular(ctx.path, ctx.fmt, ctx.max_bytes, head=len(MAGIC) + 4)
    if head[:len(MAGIC)] != MAGIC:
        raise ctx.error(f"expected magic {MAGIC!r}, found {head[:len(MAGIC)]!r}")
    if len(head) < len(MAGIC) + 4:
        raise ctx.error("truncated: the IOHeader size is missing")
    (header_size,) = struct.unpack_from("<I", head, len(MAGIC))
    if len(MAGIC) + 4 + header_size > size:
        raise ctx.error(f"truncated: the IOHeader of {header_size} bytes runs past the end of the file ({size} bytes)")
    stream = ctx.options.get("stream")
    stream = -1 if stream is None else int(stream)
    if ctx.options.get("isolate", True):
        info, arr = _decode_in_child(ctx, stream, float(ctx.options.get("timeout_s", 120.0)), size)
    else:
        info, arr = _decode_here(ctx, stream)
    if arr.dtype.names != ("t", "x", "y", "on") or arr.ndim != 1:
        raise ctx.error(f"unexpected decoded array {arr.dtype} {arr.shape}")
    ctx.check_count(arr.shape[0])
    sid = info["stream_id"]
    desc = info["streams"].get(str(sid), {})
    width, height = int(desc.get("width", 0) or 0), int(desc.get("height", 0) or 0)
    t = arr["t"]
    if t.size and int(t.max()) >= 1 << 62:
        raise ctx.error(f"timestamp {int(t.max())} is out of range")
    meta = {"stream_id": sid, "streams": info["streams"]}
    return ctx.finish(t.astype(np.int64), arr["x"].astype(np.int64), arr["y"].astype(np.int64),
                      arr["on"].astype(np.uint8), width if width > 0 else None, height if height > 0 else None, meta)


def sniff(head: bytes, path: str, ext: str, size: int) -> bool:
    """AEDAT 4.0 by its version line; any other ``#!AER-DAT`` version line (2.0 and 3.1 are sniffed before
    this) is an unsupported version."""
    if head.startswith(MAGIC):
        return True
    if head.startswith(b"#!AER-DAT"):
        version = head[:20].split(b"\r")[0][:16]
        raise EventFormatError(path, None, f"unsupported AEDAT version line {version!r}; supported: 2.0, 3.1, 4.0")
    return False


FORMAT = FormatRecord("aedat4", read, None, extensions=(".aedat4",), sniff=sniff, options=OPTIONS)
