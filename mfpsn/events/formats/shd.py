"""Spiking Heidelberg Digits / Spiking Speech Commands ``.h5`` (Cramer et al. 2020).

Layout (HDF5): ``spikes/times`` (variable-length float16 arrays, seconds), ``spikes/units``
(variable-length uint16, 0-699), ``labels`` (uint16), ``extra/speaker``, ``extra/keys``
(class names indexed by label), ``extra/meta_info/*``.

Mapping onto ``mfpsn.events.core``: one sample per Events: x = unit, y = 0, p = 1,
t = round(times · 1e6) computed in float64 (µs), width 700, height 1. ``index`` picks the sample
(default 0); ``meta`` holds ``label``, ``key`` (the class name, when ``extra/keys`` exists),
``speaker`` (when ``extra/speaker`` exists), ``index`` and ``n_samples``.
Note float16 seconds are coarse (0.49 ms spacing in [0.5, 1) s, 0.98 ms in [1, 2) s).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from mfpsn.events._context import ReadContext, open_regular
from mfpsn.events.core import Events
from mfpsn.events.errors import EventFormatError
from mfpsn.events.formats._h5safe import check_storage, file_budget, resolve_dataset, vlen_length

__all__ = ["read", "write_shd_h5", "shd_info", "MAGIC", "N_UNITS"]

MAGIC = b"\x89HDF\r\n\x1a\n"
N_UNITS = 700
BOMB_RATIO = 64  # a dataset may decompress to at most 64x the file size (+ 1 MiB)
_H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError)


def _open(path: str, fmt: str = "shd"):
    """Open an SHD-layout file and check every dataset it may read (see :mod:`._h5safe`): ``(file, n, dsets)``."""
    import h5py
    fd, size = open_regular(path, fmt)  # FIFOs and devices refused before HDF5 sees the path
    os.close(fd)
    try:
        f = h5py.File(path, "r", driver="sec2", locking=False)
    except _H5_ERRORS as exc:
        raise EventFormatError(path, fmt, f"cannot open as HDF5 ({type(exc).__name__})") from exc
    try:
        budget = file_budget(size, BOMB_RATIO)
        dsets = {}
        for name in ("spikes/times", "spikes/units", "labels", "extra/speaker", "extra/keys"):
            d = resolve_dataset(f, name, path, fmt, required=not name.startswith("extra/"))
            if d is not None:
                check_storage(d, name, path, fmt, size, budget)
            dsets[name] = d
        times, units, labels = dsets["spikes/times"], dsets["spikes/units"], dsets["labels"]
        n = times.shape[0] if times.ndim == 1 else -1
        if n < 0 or units.shape != (n,) or labels.shape != (n,):
            raise EventFormatError(path, fmt, f"expected 1-D spikes/times, spikes/units and labels of one length, "
                                              f"found {times.shape}, {units.shape}, {labels.shape}")
        for name in ("spikes/times", "spikes/units"):
            if h5py.check_vlen_dtype(dsets[name].dtype) is None:
                raise EventFormatError(path, fmt, f"'{name}': expected variable-length arrays, found dtype "
                                                  f"{dsets[name].dtype}")
        if labels.dtype.kind not in "iu":
            raise EventFormatError(path, fmt, f"'labels': expected integers, found dtype {labels.dtype}")
    except EventFormatError:
        f.close()
        raise
    except _H5_ERRORS as exc:
        f.close()
        raise EventFormatError(path, fmt, f"corrupt HDF5 structure ({type(exc).__name__})") from exc
    return f, n, dsets, size


def _decode(v) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def shd_info(path: str | Path) -> tuple[int, np.ndarray]:
    """Number of samples and their labels ([n] int64) of an SHD-layout ``.h5`` file."""
    f, n, dsets, _ = _open(str(path))
    with f:
        try:
            labels = np.asarray(dsets["labels"][()]).astype(np.int64)
        except _H5_ERRORS as exc:
            raise EventFormatError(path, "shd", f"cannot read labels ({type(exc).__name__})") from exc
    return n, labels


def read(ctx: ReadContext) -> Events:
    ctx.file_size()
    f, n, dsets, size = _open(ctx.path, ctx.fmt)
    with f:
        index = 0 if ctx.index is None else int(ctx.index)
        if n == 0:
            raise ctx.error("the file holds no samples")
        if not -n <= index < n:
            raise ctx.error(f"index={index} is out of range for {n} samples")
        index %= n
        lengths = {}
        for name, item in (("spikes/times", 2), ("spikes/units", 2)):
            k = vlen_length(f, dsets[name], index, name, ctx.path, ctx.fmt, size)
            ctx.check_count(k, f"spikes in sample {index} ('{name}')")
            base = h5py_base_itemsize(dsets[name].dtype)
            if k * base > size:
                raise ctx.error(f"sample {index}: '{name}' declares {k} values of {base} bytes, more than the "
                                f"{size}-byte file holds")
            lengths[name] = k
        if lengths["spikes/times"] != lengths["spikes/units"]:
            raise ctx.error(f"sample {index}: times ({lengths['spikes/times']}) and units "
                            f"({lengths['spikes/units']}) differ in length")
        try:
            times = np.asarray(dsets["spikes/times"][index])
            units = np.asarray(dsets["spikes/units"][index])
            label = int(dsets["labels"][index])
            meta = {"label": label, "index": index, "n_samples": n}
            speaker, keys = dsets["extra/speaker"], dsets["extra/keys"]
            if speaker is not None and speaker.shape == (n,) and speaker.dtype.kind in "iu":
                meta["speaker"] = int(speaker[index])
            if keys is not None and keys.ndim == 1 and 0 <= label < keys.shape[0] and keys.dtype.kind in "OSU":
                meta["key"] = _decode(keys[label])[:200]
        except _H5_ERRORS as exc:
            raise ctx.error(f"cannot read sample {index} ({type(exc).__name__})") from exc
    if times.ndim != 1 or units.shape != times.shape:
        raise ctx.error(f"sample {index}: times {times.shape} and units {units.shape} differ in shape")
    if times.dtype.kind != "f" or units.dtype.kind not in "iu":
        raise ctx.error(f"sample {index}: expected float times and integer units, found {times.dtype}, {units.dtype}")
    ctx.check_count(times.size)
    tf = times.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(tf) | (tf < 0) | (tf > 1e9))
    if bad.size:
        raise ctx.error(f"sample {index}: spike {int(bad[0])} has time {tf[bad[0]]} s, expected finite, >= 0")
    t = np.round(tf * 1e6).astype(np.int64)
    x = units.astype(np.int64)
    y = np.zeros_like(x)
    p = np.ones(x.shape, np.uint8)
    return ctx.finish(t, x, y, p, N_UNITS, 1, meta)


def h5py_base_itemsize(dtype) -> int:
    """Bytes per value of a variable-length dtype's base type (1 when unknown)."""
    import h5py
    base = h5py.check_vlen_dtype(dtype)
    return max(int(np.dtype(base).itemsize), 1) if base is not None and base not in (str, bytes) else 1


def write_shd_h5(path: str | Path, times: Sequence[np.ndarray], units: Sequence[np.ndarray], labels,
                 *, keys: Sequence[str] | None = None, speakers=None) -> None:
    """Write spike trains in the SHD layout.

    Args:
        path: output ``.h5``.
        times: one [n_i] array of spike times per sample, seconds (stored as float16).
        units: one [n_i] array of units per sample, integers in [0, 700) (stored as uint16).
        labels: [S] class indices (uint16).
        keys: class names, ``keys[label]`` (stored in ``extra/keys``).
        speakers: [S] speaker ids (``extra/speaker``).
    """
    import h5py
    times, units = list(times), list(units)
    labels = np.asarray(labels)
    s = len(times)
    if len(units) != s or labels.shape != (s,):
        raise ValueError(f"write_shd_h5 {path}: expected {s} unit arrays and labels of shape ({s},), "
                         f"found {len(units)} and {labels.shape}")
    for i, (tt, uu) in enumerate(zip(times, units)):
        tt, uu = np.asarray(tt), np.asarray(uu)
        if tt.ndim != 1 or tt.shape != uu.shape:
            raise ValueError(f"write_shd_h5 {path}: sample {i}: times {tt.shape} and units {uu.shape} must be "
                             "1-D of one length")
        if uu.size and (uu.min() < 0 or uu.max() >= N_UNITS):
            raise ValueError(f"write_shd_h5 {path}: sample {i}: units must lie in [0, {N_UNITS})")
        if tt.size and (not np.all(np.isfinite(tt)) or tt.min() < 0):
            raise ValueError(f"write_shd_h5 {path}: sample {i}: times must be finite and >= 0 seconds")
    if labels.size and (labels.min() < 0 or labels.max() > 65535):
        raise ValueError(f"write_shd_h5 {path}: labels must lie in [0, 65535]")
    with h5py.File(path, "w") as f:
        dt_t = f.create_dataset("spikes/times", (s,), dtype=h5py.vlen_dtype(np.float16))
        dt_u = f.create_dataset("spikes/units", (s,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(s):
            dt_t[i] = np.asarray(times[i], np.float16)
            dt_u[i] = np.asarray(units[i], np.uint16)
        f.create_dataset("labels", data=labels.astype(np.uint16))
        if speakers is not None:
            speakers = np.asarray(speakers)
            if speakers.shape != (s,):
                raise ValueError(f"write_shd_h5 {path}: speakers must have shape ({s},), found {speakers.shape}")
            f.create_dataset("extra/speaker", data=speakers.astype(np.uint16))
        if keys is not None:
            f.create_dataset("extra/keys", data=[str(k) for k in keys],
                             dtype=h5py.string_dtype("utf-8"))


def write(path: str | Path, events: Events, *, label: int = 0, key: str | None = None,
          speaker: int | None = None) -> None:
    """Write one spike train (``events`` with height 1, x = unit < 700) as a 1-sample SHD file."""
    if events.height != 1 or events.width > N_UNITS:
        raise ValueError(f"write shd {path}: expected a spike train with height 1 and width <= {N_UNITS}, "
                         f"found {events.width}x{events.height}")
    keys = None if key is None else [key if i == label else str(i) for i in range(label + 1)]
    write_shd_h5(path, [events.t / 1e6], [events.x], [label], keys=keys,
                 speakers=None if speaker is None else [speaker])
