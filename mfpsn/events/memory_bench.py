"""Memory a read takes, per reader, against the file size: ``python -m mfpsn.events.memory_bench [--mb 4]``.

For every format it writes the *densest* valid file this package can make of about ``--mb`` MB (most events per
byte: EVT 3.0 vector words of 12 events per 2 bytes, npz of zero-filled uint8 columns that deflate ~500x, ...),
reads it in a fresh child process and reports the peak resident memory above the child's idle state
(``VmHWM`` after the read, reset through ``/proc/self/clear_refs`` before it, minus ``VmRSS`` before) divided
by the file size. :func:`worst_inputs` makes the same files
(plus hostile ones) for the capped test in ``tests/test_events_memory_cap.py``.
"""
from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["worst_inputs", "measure", "main"]

_CHILD = """
import resource, sys, json
import numpy, h5py, zipfile
from mfpsn.events import read_events, EventFormatError
path, fmt, extra = sys.argv[1], sys.argv[2], int(sys.argv[3])
if extra > 0:
    vm = next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmSize:'))
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra, resource.getrlimit(resource.RLIMIT_AS)[1]))
def status(key):
    return next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith(key + ':'))
try:
    open('/proc/self/clear_refs', 'w').write('5')  # reset the high-water mark VmHWM to the current RSS
except OSError:
    pass
before = status('VmRSS')
try:
    n = len(read_events(path, format=None if fmt == 'auto' else fmt))
    result = {"events": n}
except EventFormatError as exc:
    result = {"error": str(exc)[-300:]}
after = status('VmHWM')
result["peak_bytes"] = after - before
print(json.dumps(result))
"""


def _header(evt: str, w: int, h: int) -> bytes:
    return (f"% evt {evt}\n% format EVT{evt[0]};width={w};height={h}\n% end\n").encode()


def worst_inputs(folder: Path, mb: float = 4.0) -> dict[str, tuple[str, Path]]:
    """``name -> (format, path)`` of the densest valid files of about ``mb`` MB and of hostile ones."""
    folder.mkdir(parents=True, exist_ok=True)
    n_bytes = int(mb * 1e6)
    rng = np.random.default_rng(0)
    out: dict[str, tuple[str, Path]] = {}

    def put(name: str, fmt: str, data: bytes, suffix: str) -> None:
        p = folder / f"{name}{suffix}"
        p.write_bytes(data)
        out[name] = (fmt, p)

    n = n_bytes // 5
    rec = np.zeros((n, 5), np.uint8)
    rec[:, 0] = rng.integers(0, 34, n)
    rec[:, 1] = rng.integers(0, 34, n)
    t = np.sort(rng.integers(0, 1 << 23, n))
    rec[:, 2] = (t >> 16) & 0x7F
    rec[:, 3] = (t >> 8) & 0xFF
    rec[:, 4] = t & 0xFF
    put("nmnist_dense", "nmnist", rec.tobytes(), ".bin")
    n = n_bytes // 8
    a = np.empty(n, [("a", ">u4"), ("t", ">u4")])
    a["a"] = rng.integers(0, 1 << 15, n) & 0x7FFF
    a["t"] = np.sort(rng.integers(0, 1 << 31, n))
    put("aedat2_dense", "aedat2", b"#!AER-DAT2.0\r\n" + a.tobytes(), ".aedat")
    head = b"#!AER-DAT3.1\r\n#Source 0: DVS128\r\n#!END-HEADER\r\n"
    k = n_bytes // 36  # one event per packet: the most packets
    pk = np.zeros(k, [("h", "<i2", 2), ("f", "<i4", 6), ("d", "<u4"), ("ts", "<i4")])
    pk["h"][:, 0] = 1
    pk["f"] = [8, 4, 0, 1, 1, 1]
    pk["d"] = (rng.integers(0, 128, k) << 17) | (rng.integers(0, 128, k) << 2) | 1
    pk["ts"] = np.sort(rng.integers(0, 1 << 30, k))
    put("aedat31_small_packets", "aedat31", head + pk.tobytes(), ".aedat")
    n = n_bytes // 4
    w = ((rng.integers(0, 2, n).astype(np.uint32) << 28) | (rng.integers(0, 640, n).astype(np.uint32) << 11)
         | rng.integers(0, 480, n).astype(np.uint32))
    w[0] = 0x8 << 28
    put("evt2_dense", "evt2", _header("2.0", 640, 480) + w.astype("<u4").tobytes(), ".raw")
    n = n_bytes // 2
    words = np.full(n, (0x4 << 12) | 0xFFF, np.uint16)  # VECT_12 with every bit set: 12 events per word
    words[:3] = [(0x8 << 12), (0x0 << 12) | 5, (0x3 << 12) | 0]
    put("evt3_vectors", "evt3", _header("3.0", 4096, 4096) + words.astype("<u2").tobytes(), ".raw")
    n = n_bytes // 8
    r = np.empty(n, [("t", "<u4"), ("w", "<u4")])
    r["t"] = np.sort(rng.integers(0, 1 << 31, n))
    r["w"] = rng.integers(0, 128, n) | (rng.integers(0, 128, n) << 14)
    put("dat_dense", "dat", b"% Version 2\n% Width 128\n% Height 128\n" + bytes([0x0C, 8]) + r.tobytes(), ".dat")
    n = n_bytes // 4
    s = np.zeros(n, [("t", "u1"), ("x", "u1"), ("y", "u1"), ("p", "?")])
    buf = io.BytesIO()
    np.save(buf, s, allow_pickle=False)
    put("npy_narrow", "npy", buf.getvalue(), ".npy")
    # npz of zero-filled uint8 columns: deflate packs ~500x, the reader's budget stops at 64x
    cols = max(n_bytes * 64 // 4 - 200, 1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for key in "txyp":
            m = io.BytesIO()
            np.save(m, np.zeros(cols, np.uint8), allow_pickle=False)
            z.writestr(f"{key}.npy", m.getvalue())
    put("npz_bomb", "npz", buf.getvalue(), ".npz")
    m = io.BytesIO()
    np.save(m, np.zeros(max(n_bytes // 16, 1), np.uint8), allow_pickle=False)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for key in "txyp":
            z.writestr(f"{key}.npy", m.getvalue())
    put("npz_within_budget", "npz", buf.getvalue(), ".npz")
    try:
        import h5py
    except ImportError:
        return out
    p = folder / "shd_dense.h5"
    n = n_bytes // 4
    with h5py.File(p, "w") as f:
        tt = f.create_dataset("spikes/times", (1,), dtype=h5py.vlen_dtype(np.float16))
        uu = f.create_dataset("spikes/units", (1,), dtype=h5py.vlen_dtype(np.uint16))
        tt[0] = np.sort(rng.uniform(0, 1, n)).astype(np.float16)
        uu[0] = rng.integers(0, 700, n).astype(np.uint16)
        f.create_dataset("labels", data=np.array([0], np.uint16))
    out["shd_dense"] = ("shd", p)
    p = folder / "shd_label_bomb.h5"
    with h5py.File(p, "w") as f:
        tt = f.create_dataset("spikes/times", (2,), dtype=h5py.vlen_dtype(np.float16))
        uu = f.create_dataset("spikes/units", (2,), dtype=h5py.vlen_dtype(np.uint16))
        f.create_dataset("labels", (2,), dtype="u2")
        f.create_dataset("extra/speaker", (2,), dtype="u2", chunks=(1 << 28,), maxshape=(None,), compression="gzip")
    out["shd_chunk_bomb"] = ("shd", p)
    asset = Path(__file__).resolve().parents[2] / "assets" / "aedat4_digit3_2000.aedat4"
    if asset.is_file():
        out["aedat4_asset"] = ("aedat4", asset)
    return out


def measure(path: Path, fmt: str, cap_extra: int = 0, timeout: float = 300) -> dict:
    """Read ``path`` in a fresh child (optionally under RLIMIT_AS = VmSize + ``cap_extra``); the child's answer
    (``events`` or ``error``, ``peak_bytes``) plus ``file_bytes`` and ``returncode``/``stderr`` on a crash."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), fmt, str(cap_extra)], cwd=root,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"returncode": proc.returncode, "stderr": proc.stderr[-2000:], "file_bytes": path.stat().st_size}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["file_bytes"] = path.stat().st_size
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mfpsn.events.memory_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=4.0, help="size of each dense file (default 4 MB)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (fmt, path) in worst_inputs(Path(tmp), args.mb).items():
            r = measure(path, fmt)
            ratio = r.get("peak_bytes", 0) / max(r["file_bytes"], 1)
            what = f"{r['events']:,} events" if "events" in r else (r.get("error") or f"crash {r.get('returncode')}")
            print(f"{name:24s} {r['file_bytes'] / 1e6:8.2f} MB  peak +{r.get('peak_bytes', 0) / 1e6:8.1f} MB  "
                  f"({ratio:6.1f} x file)  {what[:90]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
