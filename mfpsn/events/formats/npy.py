"""NumPy ``.npy`` / ``.npz`` event arrays (tonic, SpikingJelly, scripts). Pickle stays off.

Accepted content:

- ``.npy``: one structured array with fields t, x, y, p in any order (aliases: ``timestamp`` for
  t, ``polarity``/``on`` for p), integer or bool dtypes; without ``y`` (SHD-style t, x, p) y = 0.
- ``.npz``: such a structured array under any key, or separate 1-D arrays ``t``, ``x``, ``y``,
  ``p`` (SpikingJelly's layout), optionally ``width``/``height`` or ``sensor_size`` (W, H).
- a plain 2-D [N, 4] (or [N, 3]) array only when the caller names its columns
  (option ``columns``, e.g. ``("x", "y", "p", "t")``) and, for float data, the time unit.
- Floating-point t needs option ``t_unit`` (``"s"``, ``"ms"`` or ``"us"``); integer t is µs
  unless ``t_unit`` says otherwise.

Mapping onto ``mfpsn.events.core``: x, y as stored; p > 0 -> 1 (accepts bool, 0/1, -1/+1);
t in µs. Sensor size from the npz keys, else max coordinate + 1 (height 1 without y).

Safety: the array header is parsed first and its declared size is checked against the bytes
actually present (and ``max_bytes``) before anything is allocated; object dtypes are refused.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from mfpsn.events._context import ReadContext
from mfpsn.events.core import Events
from mfpsn.events.formats.record import FormatRecord

__all__ = ["FORMAT", "read", "write_npy", "write_npz", "MAGIC_NPY", "MAGIC_ZIP"]

MAGIC_NPY = b"\x93NUMPY"
MAGIC_ZIP = b"PK\x03\x04"
OPTIONS = ("columns", "t_unit")
ALIASES = {"t": ("t", "timestamp", "ts"), "x": ("x",), "y": ("y",), "p": ("p", "polarity", "on", "pol")}
UNITS = {"s": 1e6, "ms": 1e3, "us": 1.0}
MAX_MEMBERS = 64
BOMB_RATIO = 64  # npz members may decompress to at most 64x the archive size (+ 1 MiB) in total
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def npz_budget(archive_bytes: int, ctx: ReadContext) -> int:
    """Total uncompressed bytes the members of an npz of ``archive_bytes`` may hold."""
    return min(ctx.max_bytes, archive_bytes * BOMB_RATIO + (1 << 20))


def _read_array(fp, available: int, ctx: ReadContext, name: str) -> np.ndarray:
    """Parse one .npy stream without trusting its header. ``available``: bytes left in the stream."""
    try:
        version = npformat.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npformat.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as exc:  # noqa: BLE001 - numpy's header parser (tokenize, literal_eval) raises many kinds
        # the parser's message quotes the header text: name the problem only
        raise ctx.error(f"{name}: bad .npy header ({type(exc).__name__})") from None
    if dtype.hasobject:
        raise ctx.error(f"{name}: object arrays are refused (allow_pickle=False)")
    if any(int(s) < 0 for s in shape):
        raise ctx.error(f"{name}: negative dimension in shape {shape}")
    count = 1
    for s in shape:
        count *= int(s)
    nbytes = count * dtype.itemsize
    header_len = fp.tell()
    if shape and int(shape[0]) > ctx.max_events:  # every accepted layout has one row per event
        raise ctx.error(f"{name}: {int(shape[0])} rows exceed the limit max_events={ctx.max_events}")
    if nbytes > ctx.max_bytes:
        raise ctx.error(f"{name}: array of {nbytes} bytes exceeds the limit max_bytes={ctx.max_bytes}")
    if nbytes > available - header_len:
        raise ctx.error(f"{name}: truncated: header declares {shape} {dtype} ({nbytes} bytes), "
                        f"only {available - header_len} bytes follow")
    data = bytearray(nbytes)  # filled block by block: a lying stream cannot make it grow
    view = memoryview(data)
    got = 0
    while got < nbytes:
        block = fp.read(min(nbytes - got, 1 << 22))
        if not block:
            break
        view[got:got + len(block)] = block
        got += len(block)
    if got != nbytes:
        raise ctx.error(f"{name}: truncated: expected {nbytes} data bytes, found {got}")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape, order="F" if fortran else "C")


def _field(names, key):
    for alias in ALIASES[key]:
        if alias in names:
            return alias
    return None


def _columns_from(arr: np.ndarray, ctx: ReadContext, name: str) -> dict[str, np.ndarray]:
    if arr.dtype.names:
        if arr.ndim != 1:
            raise ctx.error(f"{name}: expected a 1-D structured array, found shape {arr.shape}")
        cols = {}
        for key in "txyp":
            f = _field(arr.dtype.names, key)
            if f is not None:
                cols[key] = arr[f]
        return cols
    columns = ctx.options.get("columns")
    if columns is None:
        raise ctx.error(f"{name}: a plain {arr.shape} {arr.dtype} array has no field names; pass "
                        "columns=('x', 'y', 'p', 't') (and t_unit) to say what its columns are")
    columns = tuple(columns)
    if arr.ndim != 2 or arr.shape[1] != len(columns):
        raise ctx.error(f"{name}: expected an [N, {len(columns)}] array for columns={columns}, found {arr.shape}")
    return {c: arr[:, i] for i, c in enumerate(columns)}


def _to_events(cols: dict[str, np.ndarray], width, height, ctx: ReadContext, meta) -> Events:
    for key in "txp":
        if key not in cols:
            raise ctx.error(f"missing field '{key}' (expected fields t, x, y, p; y may be absent)")
    n = cols["t"].shape[0]
    for key, v in cols.items():
        if v.ndim != 1 or v.shape[0] != n:
            raise ctx.error(f"field '{key}': expected 1-D length {n}, found shape {v.shape}")
        if v.dtype.kind not in "biuf":
            raise ctx.error(f"field '{key}': expected numbers, found dtype {v.dtype}")
    ctx.check_count(n)
    unit = ctx.options.get("t_unit")
    if unit is not None and unit not in UNITS:
        raise ValueError(f"t_unit: expected one of {tuple(UNITS)}, found {unit!r}")
    t = cols["t"]
    if t.dtype.kind == "f":
        if unit is None:
            raise ctx.error(f"t has floating-point dtype {t.dtype}; pass t_unit='s', 'ms' or 'us'")
        tf = t.astype(np.float64) * UNITS[unit]
        if not np.all(np.isfinite(tf)) or (tf.size and np.abs(tf).max() > 2.0**62):
            raise ctx.error("t holds non-finite or out-of-range values")
        t = np.round(tf).astype(np.int64)
    else:
        if t.dtype == np.uint64 and t.size and int(t.max()) >= 1 << 63:
            raise ctx.error(f"t value {int(t.max())} does not fit int64")
        t = t.astype(np.int64)
        if unit is not None and unit != "us":
            scale = int(UNITS[unit])
            if t.size and np.abs(t).max() > (1 << 62) // scale:
                raise ctx.error("t overflows int64 microseconds")
            t = t * scale
    coords = {}
    for key in "xy":
        v = cols.get(key)
        if v is None:
            coords[key] = np.zeros(n, np.int64)
            continue
        if v.dtype.kind == "f":
            if not np.all(np.isfinite(v)) or np.any(v != np.round(v)):
                raise ctx.error(f"field '{key}' holds non-integer coordinates")
            if v.size and np.abs(v).max() > 2.0**40:
                raise ctx.error(f"field '{key}' holds out-of-range coordinates")
        if v.dtype == np.uint64 and v.size and int(v.max()) >= 1 << 63:
            raise ctx.error(f"field '{key}' holds out-of-range coordinates")
        coords[key] = v.astype(np.int64)
    p = (cols["p"] > 0).astype(np.uint8)
    if "y" not in cols and height is None:
        height = 1
    return ctx.finish(t, coords["x"], coords["y"], p, width, height, meta)


def _size_value(arr: np.ndarray, ctx: ReadContext, name: str) -> int:
    if arr.size != 1 or arr.dtype.kind not in "iu":
        raise ctx.error(f"'{name}' must be one integer, found {arr.shape} {arr.dtype}")
    v = int(arr.reshape(-1)[0])
    if not 1 <= v <= 65536:
        raise ctx.error(f"'{name}'={v} is not a valid sensor size")
    return v


def read(ctx: ReadContext) -> Events:
    ctx.no_index()
    buf = ctx.read_bytes()
    if buf.startswith(MAGIC_NPY):
        arr = _read_array(io.BytesIO(buf), len(buf), ctx, Path(ctx.path).name)
        return _to_events(_columns_from(arr, ctx, "array"), None, None, ctx, {})
    if not buf.startswith(MAGIC_ZIP):
        raise ctx.error(f"expected {MAGIC_NPY!r} or {MAGIC_ZIP!r} magic, found {buf[:6]!r}")
    arrays: dict[str, np.ndarray] = {}
    budget = npz_budget(len(buf), ctx)
    try:
        with zipfile.ZipFile(io.BytesIO(buf)) as z:
            infos = z.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ctx.error(f"{len(infos)} members; at most {MAX_MEMBERS} are read")
            total = sum(int(i.file_size) for i in infos)
            if total > budget:
                raise ctx.error(f"members declare {total} uncompressed bytes; at most {budget} are read from a "
                                f"{len(buf)}-byte archive (limit {BOMB_RATIO}x its size + 1 MiB, and max_bytes)")
            for info in infos:
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                shown = name if len(name) <= 64 else name[:64] + "..."
                if info.compress_type not in ZIP_METHODS:
                    raise ctx.error(f"member '{shown}': compression method {info.compress_type}; expected stored "
                                    "or deflate")
                if info.flag_bits & 0x1:
                    raise ctx.error(f"member '{shown}' is encrypted")
                if info.file_size > ctx.max_bytes:
                    raise ctx.error(f"member '{shown}' of {info.file_size} bytes exceeds max_bytes={ctx.max_bytes}")
                # ZipExtFile decompresses incrementally and never returns more than the declared file_size,
                # so each member costs at most its declared size, and all of them at most `budget`
                with z.open(info) as fp:
                    arrays[name] = _read_array(fp, info.file_size, ctx, f"member '{shown}'")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
            RuntimeError, OverflowError) as exc:
        if isinstance(exc, type(ctx.error(""))):
            raise
        raise ctx.error(f"corrupt .npz archive ({type(exc).__name__})") from exc
    width = height = None
    if "sensor_size" in arrays:
        ss = arrays.pop("sensor_size").reshape(-1)
        if ss.size < 2 or ss.dtype.kind not in "iu":
            raise ctx.error(f"'sensor_size' must hold (width, height), found {ss}")
        width = _size_value(ss[:1], ctx, "sensor_size[0]")
        height = _size_value(ss[1:2], ctx, "sensor_size[1]")
    if "width" in arrays:
        width = _size_value(arrays.pop("width"), ctx, "width")
    if "height" in arrays:
        height = _size_value(arrays.pop("height"), ctx, "height")
    if all(k in arrays for k in ("t", "x", "p")):
        cols = {k: arrays[k] for k in "txyp" if k in arrays}
        return _to_events(cols, width, height, ctx, {"keys": sorted(arrays)})
    structured = [k for k, v in arrays.items() if v.dtype.names]
    if len(structured) == 1:
        return _to_events(_columns_from(arrays[structured[0]], ctx, structured[0]), width, height, ctx,
                          {"key": structured[0]})
    if len(arrays) == 1 and ctx.options.get("columns") is not None:
        key = next(iter(arrays))
        return _to_events(_columns_from(arrays[key], ctx, key), width, height, ctx, {"key": key})
    raise ctx.error(f"expected arrays t, x, (y,) p or one structured array; found members {sorted(arrays)}")


def write_npy(path: str | Path, events: Events) -> None:
    """Write a structured array (t i8, x u2, y u2, p u1). The sensor size is not stored."""
    np.save(path, events.to_structured("compact"), allow_pickle=False)


def write_npz(path: str | Path, events: Events) -> None:
    """Write arrays t, x, y, p, width, height (compressed)."""
    with open(path, "wb") as f:
        np.savez_compressed(f, t=events.t, x=events.x, y=events.y, p=events.p,
                            width=np.int64(events.width), height=np.int64(events.height))


FORMAT = FormatRecord("npy", read, write_npy, extensions=(".npy",), options=OPTIONS,
                      sniff=lambda head, path, ext, size: head.startswith(MAGIC_NPY))
