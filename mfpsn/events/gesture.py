"""DVS128 Gesture labels: ``userNN_<lighting>_labels.csv`` next to each AEDAT 3.1 recording.

CSV header ``class,startTime_usec,endTime_usec``, one row per sample, classes 1-11; a sample
is the events with ``start <= t < end`` (absolute µs, same clock as the recording).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mfpsn.events.core import Events
from mfpsn.events.errors import EventFormatError

__all__ = ["LABEL_DTYPE", "read_labels", "write_labels", "cut_samples"]

LABEL_DTYPE = np.dtype([("class", "<i8"), ("start", "<i8"), ("end", "<i8")])
HEADER = "class,startTime_usec,endTime_usec"
MAX_ROWS = 100_000


def read_labels(path: str | Path) -> np.ndarray:
    """Read a labels CSV; returns a structured array [n] with fields class, start, end (int64)."""
    path = Path(path)
    try:
        with open(path, encoding="ascii") as f:
            text = f.read(16 * MAX_ROWS * 8)
    except (OSError, UnicodeDecodeError) as exc:
        raise EventFormatError(path, "gesture-labels", f"cannot read labels: {exc}") from exc
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0].replace(" ", "") != HEADER:
        found = lines[0] if lines else "an empty file"
        raise EventFormatError(path, "gesture-labels", f"expected header '{HEADER}', found {found!r}")
    if len(lines) - 1 > MAX_ROWS:
        raise EventFormatError(path, "gesture-labels", f"more than {MAX_ROWS} rows")
    out = np.empty(len(lines) - 1, LABEL_DTYPE)
    for i, line in enumerate(lines[1:]):
        parts = line.split(",")
        try:
            if len(parts) != 3:
                raise ValueError(f"{len(parts)} fields")
            out[i] = tuple(int(v) for v in parts)
        except (ValueError, OverflowError) as exc:
            raise EventFormatError(path, "gesture-labels",
                                   f"row {i + 2} {line!r}: expected three integers ({exc})") from exc
        if out[i]["end"] < out[i]["start"]:
            raise EventFormatError(path, "gesture-labels", f"row {i + 2}: end {out[i]['end']} < start {out[i]['start']}")
    return out


def write_labels(path: str | Path, classes, starts, ends) -> None:
    """Write a labels CSV in the DVS128 Gesture layout (classes 1-11 by convention)."""
    rows = [HEADER] + [f"{int(c)},{int(s)},{int(e)}" for c, s, e in zip(classes, starts, ends, strict=True)]
    Path(path).write_text("\n".join(rows) + "\n", encoding="ascii")


def cut_samples(events: Events, labels: np.ndarray | None = None) -> list[Events]:
    """Cut a recording into its labelled samples.

    Args:
        events: a recording, usually from ``read_events`` on an AEDAT 3.1 file (its
            ``meta["labels"]`` is used when ``labels`` is None).
        labels: structured array from :func:`read_labels`.
    Returns:
        one Events per label row (start <= t < end), with ``meta["label"]`` (class) and
        ``meta["index"]`` (row number).
    """
    if labels is None:
        labels = events.meta.get("labels")
        if labels is None:
            raise ValueError("cut_samples: expected labels (argument or events.meta['labels']), found none")
    out = []
    for i, row in enumerate(labels):
        part = events.time_slice(int(row["start"]), int(row["end"]))
        meta = {k: v for k, v in part.meta.items() if k != "labels"}
        meta.update(label=int(row["class"]), index=i, sample_start=int(row["start"]), sample_end=int(row["end"]))
        out.append(Events(part.t, part.x, part.y, part.p, part.width, part.height, meta))
    return out
