"""``read_events`` / ``write_events``: one entry point for every supported file format.

The tables (names, writers, options, extensions) and the detection are built from the format records
(:data:`mfpsn.events.formats.FORMAT_REGISTRY`; each format module exports its record as ``FORMAT``). Every
function takes ``formats=FORMAT_REGISTRY`` as a keyword, so a copy extended with a record reads and writes a
new format without any change here.

Detection (``format=None``): each record's ``sniff`` in registry order, magic bytes first, the extension
second. With the package's records:

- ``#!AER-DAT2.0`` / ``#!AER-DAT3.1`` / ``#!AER-DAT4.0`` -> aedat2 / aedat31 / aedat4;
- ``\\x89HDF\\r\\n\\x1a\\n`` -> shd (the file must hold ``spikes/times`` and ``spikes/units``);
- ``\\x93NUMPY`` -> npy; ``PK\\x03\\x04`` -> npz;
- ``% `` header: ``evt 2.0`` / ``format EVT2`` -> evt2, ``evt 3.0`` / ``format EVT3`` -> evt3,
  ``Version``/``Width``/``Height`` keys or a ``.dat`` name -> dat;
- no magic: ``.dat`` -> dat (headerless, DAT 1); ``.bin`` with a size divisible by 5 -> nmnist.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mfpsn.events._context import (DEFAULT_MAX_BYTES, DEFAULT_MAX_EVENTS, UNSORTED_POLICIES, ReadContext,
                                   read_regular)
from mfpsn.events.core import Events
from mfpsn.events.errors import EventFormatError
from mfpsn.events.formats import FORMAT_REGISTRY
from mfpsn.events.formats.record import FormatRegistry
from mfpsn.events.orientation import PRESETS, reorient

__all__ = ["FORMATS", "WRITABLE", "EXTENSIONS", "detect_format", "read_events", "write_events"]

#: The package's format names, writable format names and file suffixes (the app lists these).
FORMATS = FORMAT_REGISTRY.names
WRITABLE = FORMAT_REGISTRY.writable
EXTENSIONS = FORMAT_REGISTRY.extensions


def detect_format(path: str | Path, *, formats: FormatRegistry = FORMAT_REGISTRY) -> str:
    """The format name of ``path`` (the first record whose ``sniff`` claims it); raises EventFormatError when
    none does, or with a record's own message for a file of its family it cannot read."""
    path = str(path)
    head, size = read_regular(path, None, 1 << 62, head=1 << 20)  # FIFOs, devices: refused, never block
    if size == 0:
        raise EventFormatError(path, None, "the file is empty (0 bytes)")
    ext = Path(path).suffix.lower()
    for record in formats.values():
        if record.sniff(head, path, ext, size):
            return record.name
    raise EventFormatError(path, None, f"unknown format (first bytes {head[:8]!r}, extension {ext!r}); "
                                       f"pass format= one of {formats.names}")


def read_events(path: str | Path, *, format: str | None = None, index: int | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES, max_events: int = DEFAULT_MAX_EVENTS,
                relative: bool = False, on_unsorted: str = "sort", sensor_size: tuple[int, int] | None = None,
                orientation: str | None = None, allow_empty: bool = False,
                formats: FormatRegistry = FORMAT_REGISTRY, **options: Any) -> Events:
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
        formats: the format records to choose from (:data:`mfpsn.events.formats.FORMAT_REGISTRY`).
        **options: format-specific (each record's ``options``): ``layout`` (aedat2), ``stream`` (aedat4),
            ``columns``, ``t_unit`` (npy/npz).
    Returns:
        Events with ``meta["format"]``, ``meta["source"]`` and format-specific entries.
    Raises:
        EventFormatError: the file is not valid in the format (names file, format, problem).
        ValueError: an argument is invalid.
    """
    path = str(path)
    if format is None:
        format = detect_format(path, formats=formats)
    if format not in formats:
        raise ValueError(f"format: expected one of {formats.names}, found {format!r}")
    record = formats[format]
    if on_unsorted not in UNSORTED_POLICIES:
        raise ValueError(f"on_unsorted: expected one of {UNSORTED_POLICIES}, found {on_unsorted!r}")
    if orientation is not None and orientation not in PRESETS:
        raise ValueError(f"orientation: expected None or one of {PRESETS}, found {orientation!r}")
    unknown = set(options) - set(record.options)
    if unknown:
        raise ValueError(f"options {sorted(unknown)} are not understood by format {format!r} "
                         f"(it takes {list(record.options) or 'none'})")
    for name, v in (("max_bytes", max_bytes), ("max_events", max_events)):
        if int(v) < 0:
            raise ValueError(f"{name}: expected >= 0, found {v}")
    ctx = ReadContext(path, format, int(max_bytes), int(max_events), on_unsorted,
                      None if sensor_size is None else tuple(sensor_size), index, allow_empty, dict(options))
    events = record.read(ctx)
    if orientation is not None:
        events = reorient(events, orientation)
    if relative:
        events = events.relative()
    return events


def write_events(path: str | Path, events: Events, *, format: str | None = None,
                 formats: FormatRegistry = FORMAT_REGISTRY, **options: Any) -> None:
    """Write ``events`` in ``format`` (one of ``WRITABLE``; AEDAT 4 has no writer).

    ``format=None`` takes it from the extension when exactly one writable format claims it: .bin nmnist, .dat
    dat, .h5 shd, .npy, .npz; ``.raw`` and ``.aedat`` are ambiguous and need ``format``. ``options`` go to
    the format's writer (e.g. ``layout`` for aedat2, ``packet_events`` for aedat31).
    """
    if not isinstance(events, Events):
        raise TypeError(f"write_events: expected Events, found {type(events).__name__}")
    if format is None:
        format = formats.writer_for_extension(Path(path).suffix.lower())
        if format is None:
            raise ValueError(f"write_events {path}: cannot tell the format from the extension; "
                             f"pass format= one of {formats.writable}")
    if format not in formats.writable:
        raise ValueError(f"write_events: format must be one of {formats.writable}, found {format!r}")
    formats[format].write(path, events, **options)
