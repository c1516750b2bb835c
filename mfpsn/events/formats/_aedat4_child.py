"""Child process for reading AEDAT 4 with ``aedat`` in isolation (no mfpsn imports).

``python -I _aedat4_child.py PATH STREAM MAX_EVENTS [MEMORY_BYTES]`` first caps its own address space at its
current size plus MEMORY_BYTES (``resource.setrlimit(RLIMIT_AS)``, so a decompression bomb ends in an allocation
failure of this process, not in the parent's memory), then writes to stdout: an 8-byte little-endian
length, a JSON object (``streams``, ``stream_id``, or ``error``), then, without error, one .npy
array with fields t (u8), x (u2), y (u2), on (bool). A corrupt file can make the compiled
decoder abort the process; the parent turns that into an EventFormatError.
"""
from __future__ import annotations

import io
import json
import struct
import sys


def limit_memory(extra_bytes: int) -> int:
    """Cap the address space at the current VmSize + ``extra_bytes``; returns the cap (0 where unsupported)."""
    try:
        import resource
        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    except (ImportError, OSError, StopIteration, ValueError):
        return 0
    cap = vm + int(extra_bytes)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return cap


def _send(obj: dict, arr=None) -> None:
    import numpy as np

    head = json.dumps(obj).encode()
    out = sys.stdout.buffer
    out.write(struct.pack("<Q", len(head)) + head)
    if arr is not None:
        buf = io.BytesIO()  # np.save cannot write to a pipe directly (it asks for a file position)
        np.save(buf, arr, allow_pickle=False)
        out.write(buf.getvalue())
    out.flush()


def _describe(streams: dict) -> str:
    return ", ".join(f"{k}: {str(v.get('type', '?'))[:16]}" for k, v in list(streams.items())[:8]) or "none"


def main(path: str, stream: int, max_events: int, memory_bytes: int = 0) -> int:
    import numpy as np  # imported before the cap: start-up is not counted


    try:
        import aedat
    except ImportError as exc:
        _send({"error": f"the 'aedat' package is not installed: {exc}", "kind": "import"})
        return 3
    if memory_bytes > 0:
        limit_memory(memory_bytes)
    try:
        decoder = aedat.Decoder(path)
        streams = {int(k): {kk: (vv if isinstance(vv, (int, str)) else str(vv)) for kk, vv in v.items()}
                   for k, v in decoder.id_to_stream().items()}
        event_ids = sorted(k for k, v in streams.items() if v.get("type") == "events")
        if stream >= 0:
            if stream not in event_ids:
                _send({"error": f"stream={stream} is not an event stream; event streams: {event_ids[:16]}"})
                return 3
            sid = stream
        elif event_ids:
            sid = event_ids[0]
        else:
            _send({"error": f"no event stream in the file; streams: {_describe(streams)}"})
            return 3
        parts, total = [], 0
        for packet in decoder:
            if packet.get("stream_id") != sid or "events" not in packet:
                continue
            ev = packet["events"]
            total += len(ev)
            if total > max_events:
                _send({"error": f"{total} events exceed the limit max_events={max_events}"})
                return 3
            parts.append(ev)
        dtype = [("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")]
        arr = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
    except BaseException as exc:  # noqa: BLE001 - pyo3 panics derive from BaseException
        text = str(exc).lower()
        if isinstance(exc, MemoryError) or "alloc" in text or "out of memory" in text:
            _send({"error": f"decoding needs more than the memory limit of {memory_bytes} bytes for this file "
                        "(a decompression bomb or a corrupt packet size)", "kind": "memory"})
            return 3
        # the decoder's message may quote the file's XML: name the kind of failure only
        _send({"error": f"the aedat decoder failed ({type(exc).__name__}): corrupt data"})
        return 3
    _send({"streams": {str(k): v for k, v in streams.items()}, "stream_id": sid}, arr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                          int(sys.argv[4]) if len(sys.argv) > 4 else 0))
