"""A bounded on-disk cache of numpy arrays, keyed by a JSON-able parameter dict (no pickle).

Each entry is one ``<key>.npz`` in the cache folder: the arrays plus ``params`` (the canonical JSON of
the parameters that produced them); ``key`` is the first 24 hex digits of its sha256. :func:`load`
returns the arrays only when the stored ``params`` equal the requested ones (a missing, corrupt or
colliding file is a miss) and marks the entry as used (mtime). :func:`store` writes atomically
(temporary file + ``os.replace``, so concurrent writers never leave a half-written entry), then
deletes the least recently used entries until the folder's ``*.npz`` files total at most ``max_bytes``;
an entry larger than ``max_bytes`` on its own is not kept.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["canonical", "entry_path", "load", "store", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 1 << 30


def canonical(params: dict[str, Any]) -> str:
    """The JSON text that identifies ``params`` (sorted keys, no spaces)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def entry_path(folder: str | os.PathLike, params: dict[str, Any]) -> Path:
    """``folder/<key>.npz`` of ``params``."""
    return Path(folder) / f"{hashlib.sha256(canonical(params).encode()).hexdigest()[:24]}.npz"


def load(folder: str | os.PathLike, params: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The arrays stored for ``params``, or ``None`` when there is no usable entry."""
    path = entry_path(folder, params)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if str(archive["params"]) != canonical(params):
                return None
            arrays = {name: archive[name] for name in archive.files if name != "params"}
        os.utime(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None
    return arrays


def store(folder: str | os.PathLike, params: dict[str, Any], arrays: dict[str, np.ndarray], *,
          max_bytes: int = DEFAULT_MAX_BYTES) -> Path | None:
    """Write ``arrays`` for ``params`` (compressed), then trim the folder to ``max_bytes``.

    Returns:
        The entry's path, or ``None`` when it alone exceeds ``max_bytes`` (then nothing is kept).
    """
    if "params" in arrays:
        raise ValueError("store: 'params' is reserved for the parameter record; rename that array")
    if int(max_bytes) != max_bytes or max_bytes < 1:
        raise ValueError(f"max_bytes: expected a positive integer, found {max_bytes!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = entry_path(folder, params)
    fd, tmp = tempfile.mkstemp(prefix=".entry-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, params=np.array(canonical(params)), **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _trim(folder, int(max_bytes))
    return path if path.exists() else None


def _trim(folder: Path, max_bytes: int) -> None:
    """Delete the least recently used entries until the rest total at most ``max_bytes``."""
    entries = []
    for path in folder.glob("*.npz"):
        try:
            st = path.stat()
        except FileNotFoundError:  # removed by another process meanwhile
            continue
        entries.append((st.st_mtime_ns, st.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
