"""Child process for the HDF5 part of the SHD reader (``python -I _shd_child.py MODE ...``).

The package is not imported: stub package modules point ``mfpsn``, ``mfpsn.events`` and
``mfpsn.events.formats`` at their folders, so only :mod:`._shd_h5`, :mod:`._h5safe` and
``mfpsn.events.errors`` (numpy, h5py) are loaded. After the imports the address space is capped at the
current size + MEMORY_BYTES. Modes: ``sample PATH SIZE INDEX|none MAX_EVENTS MEMORY_BYTES``,
``all PATH SIZE MAX_EVENTS MEMORY_BYTES`` and ``labels PATH SIZE MEMORY_BYTES``. Output on stdout: an 8-byte
little-endian length, a JSON object (``meta`` / ``n``, or ``error``), then without error the .npy arrays (times and
units; times, units, lengths and labels; or labels).
"""
from __future__ import annotations

import io
import json
import struct
import sys
import types
from pathlib import Path


def _stub_packages() -> None:
    formats = Path(__file__).resolve().parent
    for name, folder in (("mfpsn", formats.parents[1]), ("mfpsn.events", formats.parent),
                         ("mfpsn.events.formats", formats)):
        mod = types.ModuleType(name)
        mod.__path__ = [str(folder)]
        sys.modules[name] = mod


def _send(obj: dict, arrays=()) -> None:
    import numpy as np

    head = json.dumps(obj).encode()
    out = sys.stdout.buffer
    out.write(struct.pack("<Q", len(head)) + head)
    for arr in arrays:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
        out.write(buf.getvalue())
    out.flush()


def _limit_memory(extra: int) -> None:
    import resource

    with open("/proc/self/status") as fh:
        vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = vm + extra if hard == resource.RLIM_INFINITY else min(vm + extra, hard)
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def main(argv: list[str]) -> int:
    _stub_packages()
    import numpy  # noqa: F401 - imported before the cap
    import h5py  # noqa: F401

    from mfpsn.events.errors import EventFormatError
    from mfpsn.events.formats._shd_h5 import read_all, read_labels, read_sample

    mode, path, size = argv[0], argv[1], int(argv[2])
    try:
        if mode == "sample":
            _limit_memory(int(argv[5]))
            index = None if argv[3] == "none" else int(argv[3])
            times, units, meta = read_sample(path, "shd", size, index, int(argv[4]))
            _send({"meta": meta}, (times, units))
        elif mode == "all":
            _limit_memory(int(argv[4]))
            times, units, lengths, labels = read_all(path, "shd", size, int(argv[3]))
            _send({"n": int(lengths.size), "arrays": 4}, (times, units, lengths, labels))
        else:
            _limit_memory(int(argv[3]))
            n, labels = read_labels(path, "shd", size)
            _send({"n": n}, (labels,))
    except EventFormatError as exc:
        _send({"error": exc.problem})
        return 3
    except MemoryError:
        _send({"error": "reading needs more than the memory limit for this file", "kind": "memory"})
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
