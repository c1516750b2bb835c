"""Spiking Heidelberg Digits / Spiking Speech Commands ``.h5`` (Cramer et al. 2020).

Layout (HDF5): ``spikes/times`` (variable-length float16 arrays, seconds), ``spikes/units``
(variable-length uint16, 0-699), ``labels`` (uint16), ``extra/speaker``, ``extra/keys``
(class names indexed by label), ``extra/meta_info/*``.

Mapping onto ``mfpsn.events.core``: one sample per Events: x = unit, y = 0, p = 1,
t = round(times · 1e6) computed in float64 (µs), width 700, height 1. ``index`` picks the sample
(default 0); ``meta`` holds ``label``, ``key`` (the class name, when ``extra/keys`` exists),
``speaker`` (when ``extra/speaker`` exists), ``index`` and ``n_samples``.
Safety (see :mod:`._h5safe`): no byte from outside the file, declared sizes bounded before reading. The HDF5
work runs in an isolated child process by default (option ``isolate``, default True; ``timeout_s``, default
20): a corrupt file can make libhdf5 loop for ever (found by fuzzing), and the child also runs under an
address-space cap (256 MiB + 64 x the file size).
Note float16 seconds are coarse (0.49 ms spacing in [0.5, 1) s, 0.98 ms in [1, 2) s).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from mfpsn.events._context import ReadContext, open_regular
from mfpsn.events.core import Events
from mfpsn.events.formats.record import FormatRecord
from mfpsn.events.formats._shd_child_runner import TIMEOUT_S, run_shd_child
from mfpsn.events.formats._shd_h5 import BOMB_RATIO, read_sample  # noqa: F401 - BOMB_RATIO re-exported

__all__ = ["FORMAT", "read", "read_shd_samples", "write_shd_h5", "shd_info", "MAGIC", "N_UNITS"]

MAGIC = b"\x89HDF\r\n\x1a\n"
N_UNITS = 700
OPTIONS = ("isolate", "timeout_s")


def shd_info(path: str | Path) -> tuple[int, np.ndarray]:
    """Number of samples and their labels ([n] int64) of an SHD-layout ``.h5`` file (read in the isolated child)."""
    path = str(path)
    fd, size = open_regular(path, "shd")  # FIFOs and devices refused before HDF5 sees the path
    os.close(fd)
    info, arrays = run_shd_child(path, "shd", ["labels", path, str(size)], size, TIMEOUT_S)
    return int(info["n"]), arrays[0].astype(np.int64)


def read_shd_samples(path: str | Path, *, max_events: int | None = None, timeout_s: float = 600.0
                     ) -> tuple[list[Events], np.ndarray]:
    """Every sample of an SHD-layout ``.h5`` file as :class:`Events` (each checked and built as :func:`read`
    builds one) and the labels ``[n]`` int64, in one pass of the isolated child (how training reads a split).

    Raises:
        EventFormatError: as :func:`read`, naming the file and the sample.
    """
    ctx = ReadContext(str(path), "shd", **({} if max_events is None else {"max_events": int(max_events)}))
    fd, size = open_regular(ctx.path, "shd")
    os.close(fd)
    info, arrays = run_shd_child(ctx.path, "shd", ["all", ctx.path, str(size), str(ctx.max_events)], size,
                                 float(timeout_s))
    times, units, lengths, labels = arrays
    if lengths.ndim != 1 or labels.shape != lengths.shape or int(lengths.sum()) != times.size or \
            units.shape != times.shape:
        raise ctx.error(f"inconsistent answer: {lengths.shape} lengths summing to {int(lengths.sum())}, "
                        f"{times.shape} times, {units.shape} units, {labels.shape} labels")
    out = []
    stops = np.cumsum(lengths)
    for i, (lo, hi) in enumerate(zip(stops - lengths, stops)):
        sample = ReadContext(ctx.path, "shd", max_events=ctx.max_events, allow_empty=True)
        out.append(_events(sample, times[lo:hi], units[lo:hi],
                           {"label": int(labels[i]), "index": i, "n_samples": int(lengths.size)}))
    return out, labels.astype(np.int64)


def _events(ctx: ReadContext, times: np.ndarray, units: np.ndarray, meta: dict) -> Events:
    """One sample's Events from its float times (s) and units, checked (every reader of this format uses it)."""
    index = meta["index"]
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
    return ctx.finish(t, x, np.zeros_like(x), np.ones(x.shape, np.uint8), N_UNITS, 1, meta)


def read(ctx: ReadContext) -> Events:
    size = ctx.file_size()
    if ctx.options.get("isolate", True):
        info, arrays = run_shd_child(ctx.path, ctx.fmt, ["sample", ctx.path, str(size),
                                                         "none" if ctx.index is None else str(int(ctx.index)),
                                                         str(ctx.max_events)],
                                     size, float(ctx.options.get("timeout_s", TIMEOUT_S)))
        times, units, meta = arrays[0], arrays[1], info["meta"]
    else:
        times, units, meta = read_sample(ctx.path, ctx.fmt, size, ctx.index, ctx.max_events)
    return _events(ctx, times, units, meta)


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


FORMAT = FormatRecord("shd", read, write, extensions=(".h5", ".hdf5"), options=OPTIONS,
                      sniff=lambda head, path, ext, size: head.startswith(MAGIC))
