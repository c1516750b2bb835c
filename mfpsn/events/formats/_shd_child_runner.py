"""Run :mod:`._shd_child` and turn its answer, crash or timeout into arrays or an EventFormatError."""
from __future__ import annotations

import io
import json
import signal
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

from mfpsn.events._context import ReadContext
from mfpsn.events.errors import EventFormatError

__all__ = ["TIMEOUT_S", "child_memory_budget", "run_shd_child"]

CHILD = Path(__file__).with_name("_shd_child.py")
TIMEOUT_S = 20.0


def child_memory_budget(file_bytes: int) -> int:
    """Bytes the child may allocate beyond its start-up size: 256 MiB + 64 x the file."""
    return (256 << 20) + 64 * int(file_bytes)


def run_shd_child(path: str, fmt: str, args: list[str], size: int, timeout_s: float
                  ) -> tuple[dict, list[np.ndarray]]:
    """``(info, arrays)`` from the child for ``args`` (mode and its arguments, without the memory budget)."""
    from mfpsn.events.formats.npy import _read_array

    budget = child_memory_budget(size)
    cmd = [sys.executable, "-I", str(CHILD), *args, str(budget)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EventFormatError(path, fmt, f"the HDF5 reader took longer than timeout_s={timeout_s} s "
                                          "(a corrupt file can make libhdf5 loop)") from exc
    out = proc.stdout
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = str(-proc.returncode)
        raise EventFormatError(path, fmt, f"the HDF5 reader crashed on this file ({name}): corrupt data")
    if len(out) < 8:
        memory = b"MemoryError" in proc.stderr or b"memory" in proc.stderr.lower()
        raise EventFormatError(path, fmt, f"the HDF5 reader failed (exit {proc.returncode})"
                               + (f": it needs more than its memory limit of {budget} bytes" if memory else ""))
    (n,) = struct.unpack_from("<Q", out)
    if n > len(out) - 8:
        raise EventFormatError(path, fmt, "truncated answer from the HDF5 reader")
    try:
        info = json.loads(out[8:8 + n].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventFormatError(path, fmt, f"unreadable answer from the HDF5 reader ({type(exc).__name__})") from exc
    if "error" in info:
        raise EventFormatError(path, fmt, str(info["error"]))
    ctx = ReadContext(path, fmt)
    fp = io.BytesIO(out[8 + n:])
    arrays = []
    for i in range(min(4, int(info.get("arrays", 2 if "meta" in info else 1)))):
        arrays.append(_read_array(fp, len(out) - 8 - n, ctx, f"answer array {i}"))  # tell() is absolute
    return info, arrays
