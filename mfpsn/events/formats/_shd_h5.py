"""The HDF5 part of the SHD reader: open, check every dataset (:mod:`._h5safe`), read one sample or the labels.

Imports only numpy, h5py and the two small modules it needs, so :mod:`._shd_child` can run it in an isolated
child process without importing the package (a corrupt HDF5 file can make libhdf5 loop for ever: found by
fuzzing; the child is killed at its timeout). Every error is an EventFormatError naming the problem.
"""
from __future__ import annotations

import numpy as np

from mfpsn.events.errors import EventFormatError
from mfpsn.events.formats._h5safe import check_storage, file_budget, resolve_dataset, vlen_length

__all__ = ["BOMB_RATIO", "read_sample", "read_labels", "read_all"]

BOMB_RATIO = 64  # a dataset may decompress to at most 64x the file size (+ 1 MiB)
_H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError)


def _open(path: str, fmt: str, size: int):
    """Open an SHD-layout file and check every dataset it may read (see :mod:`._h5safe`): ``(file, n, dsets)``."""
    import h5py
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


def _decode(v) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def read_labels(path: str, fmt: str, size: int) -> tuple[int, np.ndarray]:
    """Number of samples and their labels ([n] int64)."""
    f, n, dsets, _ = _open(path, fmt, size)
    with f:
        try:
            labels = np.asarray(dsets["labels"][()]).astype(np.int64)
        except _H5_ERRORS as exc:
            raise EventFormatError(path, fmt, f"cannot read labels ({type(exc).__name__})") from exc
    return n, labels


def read_all(path: str, fmt: str, size: int, max_events: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                       np.ndarray]:
    """Every sample at once: ``(times, units, lengths, labels)`` with the samples' spikes concatenated in order
    (``lengths [n]`` int64 splits them). Each sample's declared length is checked as :func:`read_sample` checks
    it, and their total against ``max_events`` and the file size, before its values are read."""
    f, n, dsets, size = _open(path, fmt, size)

    def error(problem: str) -> EventFormatError:
        return EventFormatError(path, fmt, problem)

    times, units, lengths = [], [], np.zeros(n, np.int64)
    total = 0
    with f:
        try:
            labels = np.asarray(dsets["labels"][()]).astype(np.int64)
            for i in range(n):
                ks = [vlen_length(f, dsets[name], i, name, path, fmt, size) for name in ("spikes/times",
                                                                                       "spikes/units")]
                if ks[0] != ks[1]:
                    raise error(f"sample {i}: times ({ks[0]}) and units ({ks[1]}) differ in length")
                total += ks[0]
                if total > max_events:
                    raise error(f"{total} spikes up to sample {i} exceed the limit max_events={max_events}")
                if total * h5py_base_itemsize(dsets["spikes/times"].dtype) > size * BOMB_RATIO:
                    raise error(f"the samples declare {total} spike times, more than {BOMB_RATIO}x the "
                                f"{size}-byte file holds")
                times.append(np.asarray(dsets["spikes/times"][i]))
                units.append(np.asarray(dsets["spikes/units"][i]))
                lengths[i] = ks[0]
        except EventFormatError:
            raise
        except _H5_ERRORS as exc:
            raise error(f"cannot read the samples ({type(exc).__name__})") from exc
    cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))
    return cat(times, np.float32), cat(units, np.uint16), lengths, labels


def read_sample(path: str, fmt: str, size: int, index: int | None, max_events: int
                ) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(times, units, meta)`` of sample ``index`` (default 0), lengths checked before anything is read."""
    f, n, dsets, size = _open(path, fmt, size)

    def error(problem: str) -> EventFormatError:
        return EventFormatError(path, fmt, problem)

    with f:
        index = 0 if index is None else int(index)
        if n == 0:
            raise error("the file holds no samples")
        if not -n <= index < n:
            raise error(f"index={index} is out of range for {n} samples")
        index %= n
        lengths = {}
        for name in ("spikes/times", "spikes/units"):
            k = vlen_length(f, dsets[name], index, name, path, fmt, size)
            if k > max_events:
                raise error(f"{k} spikes in sample {index} ('{name}') exceed the limit max_events={max_events}")
            base = h5py_base_itemsize(dsets[name].dtype)
            if k * base > size:
                raise error(f"sample {index}: '{name}' declares {k} values of {base} bytes, more than the "
                            f"{size}-byte file holds")
            lengths[name] = k
        if lengths["spikes/times"] != lengths["spikes/units"]:
            raise error(f"sample {index}: times ({lengths['spikes/times']}) and units "
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
            raise error(f"cannot read sample {index} ({type(exc).__name__})") from exc
    return times, units, meta


def h5py_base_itemsize(dtype) -> int:
    """Bytes per value of a variable-length dtype's base type (1 when unknown)."""
    import h5py
    base = h5py.check_vlen_dtype(dtype)
    return max(int(np.dtype(base).itemsize), 1) if base is not None and base not in (str, bytes) else 1
