"""``read_events`` / ``write_events``: one entry point for every supported file format.

Detection (``format=None``): magic bytes first, the extension second.

- ``#!AER-DAT2.0`` / ``#!AER-DAT3.1`` / ``#!AER-DAT4.0`` -> aedat2 / aedat31 / aedat4;
- ``\\x89HDF\\r\\n\\x1a\\n`` -> shd (the file must hold ``spikes/times`` and ``spikes/units``);
- ``\\x93NUMPY`` -> npy; ``PK\\x03\\x04`` -> npz;
- ``% `` header: ``evt 2.0`` / ``format EVT2`` -> evt2, ``evt 3.0`` / ``format EVT3`` -> evt3,
  ``Version``/``Width``/``Height`` keys or a ``.dat`` name -> dat;
- no magic: ``.bin`` with a size divisible by 5 -> nmnist; ``.dat`` -> dat (headerless, DAT 1).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mfpsn.events._context import (DEFAULT_MAX_BYTES, DEFAULT_MAX_EVENTS, UNSORTED_POLICIES, ReadContext,
                                   read_regular)
from mfpsn.events.core import Events
from mfpsn.events.errors import EventFormatError
from mfpsn.events.formats import aedat2, aedat31, aedat4, dat, evt2, evt3, nmnist, npy, shd
from mfpsn.events.formats._headers import percent_header
from mfpsn.events.orientation import PRESETS, reorient

__all__ = ["FORMATS", "WRITABLE", "detect_format", "read_events", "write_events"]

READERS = {
    "nmnist": nmnist.read, "aedat2": aedat2.read, "aedat31": aedat31.read, "aedat4": aedat4.read,
    "evt2": evt2.read, "evt3": evt3.read, "dat": dat.read, "shd": shd.read, "npy": npy.read, "npz": npy.read,
}
OPTIONS = {"aedat2": aedat2.OPTIONS, "aedat4": aedat4.OPTIONS, "npy": npy.OPTIONS, "npz": npy.OPTIONS,
           "shd": shd.OPTIONS}
FORMATS = tuple(READERS)
WRITERS = {
    "nmnist": nmnist.write, "aedat2": aedat2.write, "aedat31": aedat31.write, "evt2": evt2.write,
    "evt3": evt3.write, "dat": dat.write, "shd": shd.write, "npy": npy.write_npy, "npz": npy.write_npz,
}
WRITABLE = tuple(WRITERS)
EXTENSIONS = {".bin": "nmnist", ".dat": "dat", ".h5": "shd", ".hdf5": "shd", ".npy": "npy", ".npz": "npz",
              ".aedat4": "aedat4"}


def detect_format(path: str | Path) -> str:
    """The format name of ``path`` (see module docstring); raises EventFormatError when unknown."""
    path = str(path)
    head, size = read_regular(path, None, 1 << 62, head=1 << 20)  # FIFOs, devices: refused, never block
    if size == 0:
        raise EventFormatError(path, None, "the file is empty (0 bytes)")
    ext = Path(path).suffix.lower()
    if head.startswith(aedat2.MAGIC):
        return "aedat2"
    if head.startswith(aedat31.MAGIC):
        return "aedat31"
    if head.startswith(aedat4.MAGIC):
        return "aedat4"
    if head.startswith(b"#!AER-DAT"):
        version = head[:20].split(b"\r")[0][:16]
        raise EventFormatError(path, None, f"unsupported AEDAT version line {version!r}; "
                                           "supported: 2.0, 3.1, 4.0")
    if head.startswith(shd.MAGIC):
        return "shd"
    if head.startswith(npy.MAGIC_NPY):
        return "npy"
    if head.startswith(npy.MAGIC_ZIP):
        return "npz"
    if head.startswith(b"% "):
        ctx = ReadContext(path, "prophesee-header")
        hdr = percent_header(head, ctx)
        if hdr.evt is not None:
            if hdr.evt.startswith("2"):
                return "evt2"
            if hdr.evt.startswith("3"):
                return "evt3"
            raise EventFormatError(path, None, f"unsupported Prophesee encoding 'evt {hdr.evt}'; supported: 2.0, 3.0")
        keys = {ln.split(" ", 1)[0] for ln in hdr.lines}
        if keys & {"Version", "Width", "Height"} or ext == ".dat":
            return "dat"
        raise EventFormatError(path, None, "a Prophesee '% ' header without 'evt', 'format' or DAT keys; "
                                           "pass format='evt2', 'evt3' or 'dat'")
    if ext == ".bin":
        if size % 5:
            raise EventFormatError(path, "nmnist", f"size {size} bytes is not a multiple of 5 (truncated record)")
        return "nmnist"
    if ext == ".dat":
        return "dat"
    if ext == ".raw":
        raise EventFormatError(path, None, "a .raw file without a '% ' header: cannot tell EVT 2.0 from 3.0; "
                                           "pass format='evt2' or 'evt3'")
    raise EventFormatError(path, None, f"unknown format (first bytes {head[:8]!r}, extension {ext!r}); "
                                       f"pass format= one of {FORMATS}")


def read_events(path: str | Path, *, format: str | None = None, index: int | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES, max_events: int = DEFAULT_MAX_EVENTS,
                relative: bool = False, on_unsorted: str = "sort", sensor_size: tuple[int, int] | None = None,
                orientation: str | None = None, allow_empty: bool = False, **options: Any) -> Events:
    """Read an event or spike-train file into :class:`Events`.

    Args:
        path: the file.
        format: one of ``FORMATS``; None detects it (magic bytes first, extension second).
        index: sample index for multi-sample files: SHD/SSC ``.h5`` (default 0) and AEDAT 3.1 with a
            DVS128 Gesture ``_labels.csv`` next to it (default: the whole recording).
        max_bytes: largest accepted file size in bytes.
        max_events: largest accepted number of events.
        relative: shift times so the first event is at t = 0 (``meta["t0"]`` keeps the offset).
        on_unsorted: ``"sort"`` (stable sort by time, the default) or ``"reject"`` for files whose
            timestamps go backwards.
        sensor_size: ``(width, height)`` for files that do not store it (N-MNIST, npy, ...), or to
            override the stored one.
        orientation: None (stored fields) or a preset of :mod:`mfpsn.events.orientation`.
        allow_empty: return an empty Events instead of raising for a file without events.
        **options: format-specific: ``layout`` (aedat2), ``stream`` (aedat4), ``columns``, ``t_unit``
            (npy/npz).
    Returns:
        Events with ``meta["format"]``, ``meta["source"]`` and format-specific entries.
    Raises:
        EventFormatError: the file is not valid in the format (names file, format, problem).
        ValueError: an argument is invalid.
    """
    path = str(path)
    if format is None:
        format = detect_format(path)
    if format not in READERS:
        raise ValueError(f"format: expected one of {FORMATS}, found {format!r}")
    if on_unsorted not in UNSORTED_POLICIES:
        raise ValueError(f"on_unsorted: expected one of {UNSORTED_POLICIES}, found {on_unsorted!r}")
    if orientation is not None and orientation not in PRESETS:
        raise ValueError(f"orientation: expected None or one of {PRESETS}, found {orientation!r}")
    unknown = set(options) - set(OPTIONS.get(format, ()))
    if unknown:
        raise ValueError(f"options {sorted(unknown)} are not understood by format {format!r} "
                         f"(it takes {list(OPTIONS.get(format, ())) or 'none'})")
    for name, v in (("max_bytes", max_bytes), ("max_events", max_events)):
        if int(v) < 0:
            raise ValueError(f"{name}: expected >= 0, found {v}")
    ctx = ReadContext(path, format, int(max_bytes), int(max_events), on_unsorted,
                      None if sensor_size is None else tuple(sensor_size), index, allow_empty, dict(options))
    events = READERS[format](ctx)
    if orientation is not None:
        events = reorient(events, orientation)
    if relative:
        events = events.relative()
    return events


def write_events(path: str | Path, events: Events, *, format: str | None = None, **options: Any) -> None:
    """Write ``events`` in ``format`` (one of ``WRITABLE``; AEDAT 4 has no writer).

    ``format=None`` takes it from the extension: .bin nmnist, .dat dat, .h5 shd, .npy, .npz;
    ``.raw`` and ``.aedat`` are ambiguous and need ``format``. ``options`` go to the format's
    writer (e.g. ``layout`` for aedat2, ``packet_events`` for aedat31).
    """
    if not isinstance(events, Events):
        raise TypeError(f"write_events: expected Events, found {type(events).__name__}")
    if format is None:
        format = EXTENSIONS.get(Path(path).suffix.lower())
        if format is None or format == "aedat4":
            raise ValueError(f"write_events {path}: cannot tell the format from the extension; "
                             f"pass format= one of {WRITABLE}")
    if format not in WRITERS:
        raise ValueError(f"write_events: format must be one of {WRITABLE}, found {format!r}")
    WRITERS[format](path, events, **options)
