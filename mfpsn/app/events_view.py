"""Event explorer callbacks: read a recording, summarise it and draw its first plots.

``load_events`` is the ``api_name="load_events"`` endpoint; ``show_frame`` redraws the frame viewer when its
slider moves. Spike trains (SHD-layout ``.h5``: ``height == 1``, ``x`` = unit) get a spike raster and per-bin
unit counts instead of camera frames and the x-y-t cloud.
"""
from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import numpy as np
import plotly.graph_objects as go

from mfpsn.app import figures_events as fe
from mfpsn.app.limits import LIMITS, Limits, check_choice, check_int, check_upload
from mfpsn.app.store import ReadCache
from mfpsn.events import EventFormatError, Events, detect_format, read_events, shd_info
from mfpsn.events.formats import FORMAT_REGISTRY
from mfpsn.events.io import FORMATS
from mfpsn.events.frames import events_to_frames
from mfpsn.paths import data_dir

__all__ = ["ASSETS_DIR", "DETECT", "FORMAT_CHOICES", "bundled_samples", "resolve_source", "parse_sensor",
           "read_recording", "summary_markdown",
           "subsample", "event_rate", "frame_at", "load_events", "frame_slider", "show_frame", "rebin", "forget_choice",
           "cleared_recording",
           "EXTENSIONS", "NOTHING_LOADED"]

ASSETS_DIR = data_dir("assets")  # repository folder or $MFPSN_ASSETS (mfpsn.paths)
# the file extensions of every registered event format (one record per format: mfpsn.events.formats)
EXTENSIONS = list(dict.fromkeys(ext for name in FORMAT_REGISTRY for ext in FORMAT_REGISTRY[name].extensions))
_RATE_BINS = 200
NOTHING_LOADED = "Upload a file or pick a sample."
DETECT = "detect"
FORMAT_CHOICES = (DETECT, *FORMATS)


def bundled_samples(assets: Path = ASSETS_DIR) -> list[str]:
    """File names in ``assets/`` that a reader recognises (sorted); label files and READMEs are left out."""
    if not assets.is_dir():
        return []
    names = []
    for path in sorted(assets.iterdir()):
        if path.is_file() and path.suffix.lower() in EXTENSIONS:
            try:
                detect_format(path)
            except EventFormatError:
                continue
            names.append(path.name)
    return names


def resolve_source(upload: str | None, sample: str | None, assets: Path = ASSETS_DIR,
                   limits: Limits = LIMITS) -> str:
    """The file to read: the upload when there is one, else the bundled sample; ``gr.Error`` when neither."""
    if upload:
        return check_upload("upload", upload, limits)
    if sample:
        if sample not in bundled_samples(assets):
            raise gr.Error(f"sample: expected one of the bundled files {bundled_samples(assets)}, found {sample!r}")
        return str(assets / sample)
    raise gr.Error("No recording: upload a file or pick a bundled sample")


def parse_sensor(text: str | None) -> tuple[int, int] | None:
    """``"34 x 34"`` (or ``34×34``, ``34, 34``) → ``(34, 34)``; empty → None; ``gr.Error`` otherwise."""
    text = str(text or "").strip()
    if not text:
        return None
    parts = re.split(r"\s*[x×,*]\s*|\s+", text.lower())
    try:
        w, h = (int(v) for v in parts)
    except ValueError:
        raise gr.Error(f"sensor size: expected width × height, e.g. 34 x 34, found {text!r}") from None
    if not (1 <= w <= 65536 and 1 <= h <= 65536):
        raise gr.Error(f"sensor size: expected width and height in [1, 65536], found {text!r}")
    return w, h


def read_recording(path: str, shd_index: int | float | None = 0, limits: Limits = LIMITS, fmt: str = DETECT,
                   sensor: str | None = "", reads: ReadCache | None = None) -> Events:
    """Read ``path`` within the app's limits; ``shd_index`` picks the sample of an SHD ``.h5``, ``fmt`` names the
    format (``DETECT``: from the file's header and extension), ``sensor`` the size ``"W x H"`` of a file that does
    not store one (empty: the largest coordinates + 1).

    Camera recordings are shifted to start at t = 0; spike trains keep their times (0 = stimulus onset).

    Reader errors become ``gr.Error`` with the reader's message (file, format, problem); a hint to pass
    ``format=`` points to the app's format list instead. With ``reads`` (the app's :class:`ReadCache`) a file
    read before with the same options is not read again.
    """
    name = Path(path).name
    fmt = check_choice("file format", fmt or DETECT, FORMAT_CHOICES)
    size = parse_sensor(sensor)
    if reads is not None:
        index = check_int("SHD sample index", shd_index or 0, 0, 10**9)
        return reads.read(path, (fmt, index, size, limits.max_upload_bytes, limits.max_events),
                          lambda: read_recording(path, shd_index, limits, fmt, sensor))
    try:
        fmt = detect_format(path) if fmt == DETECT else fmt
        index = check_int("SHD sample index", shd_index or 0, 0, 10**9) if fmt == "shd" else None
        events = read_events(path, format=fmt, index=index, max_bytes=limits.max_upload_bytes,
                             max_events=limits.max_events, relative=fmt != "shd", sensor_size=size)
    except EventFormatError as exc:
        problem = re.sub(r"pass format=.*$", "pick it under 'file format'", exc.problem)
        raise gr.Error(f"{name}: {problem} (format tried: {exc.format or 'none detected'})") from None
    except ValueError as exc:
        raise gr.Error(f"{name}: {exc}") from None
    return events


def summary_markdown(events: Events, name: str, labels: np.ndarray | None = None) -> str:
    """A short Markdown table: file, format, events, duration, rate, sensor, ON share; for spike trains the sample
    index, its label, key and speaker, and ``labels`` (index: label of every sample in the file) when given."""
    n = len(events)
    dur_ms = events.duration_us / 1000
    rate = (f"{n / (events.duration_us / 1e6):,.0f} events/s" if events.duration_us else
            "– (all events at one instant)")
    rows = [("file", name), ("format", events.meta.get("format", "?")), ("events", f"{n:,}"),
            ("duration", f"{dur_ms:,.1f} ms"), ("mean rate", rate)]
    if events.height == 1:
        rows.append(("channels", f"{events.width} (spike train, SHD layout)"))
        m = events.meta
        if "n_samples" in m:
            rows.append(("sample", f"{m.get('index', 0)} of {m['n_samples']} (0-based)"))
            if labels is not None:
                shown = ", ".join(f"{i}: {int(v)}" for i, v in enumerate(labels[:24]))
                rows.append(("labels in the file", shown + (" …" if len(labels) > 24 else "")))
        for key in ("label", "key", "speaker"):
            if key in m:
                rows.append((key, str(m[key])))
    else:
        how = {"given": " (as set under 'sensor size')",
               "largest coordinate + 1": " (the file stores no size: guessed from the largest coordinates; set "
                                         "it under 'sensor size')"}.get(events.meta.get("sensor_from"), "")
        rows.append(("sensor", f"{events.width} × {events.height} pixels{how}"))
        rows.append(("ON share", f"{events.p.mean() * 100:.1f} %" if n else "–"))
    return "| recording | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def subsample(events: Events, max_points: int) -> Events:
    """At most ``max_points`` events, taken evenly spaced in stream order (keeps the time structure)."""
    n = len(events)
    if n <= max_points:
        return events
    return events[np.linspace(0, n - 1, max_points).astype(np.int64)]


def event_rate(events: Events, n_bins: int = _RATE_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_ms [n_bins], on_per_ms [n_bins], off_per_ms [n_bins])`` over the span of the stream."""
    t0 = int(events.t[0]) if len(events) else 0
    span = max(events.duration_us + 1, 1)
    b = ((events.t - t0) * n_bins // span).astype(np.int64)
    on = np.bincount(b[events.p == 1], minlength=n_bins)[:n_bins]
    off = np.bincount(b[events.p == 0], minlength=n_bins)[:n_bins]
    width_ms = span / n_bins / 1000
    centres = (t0 + (np.arange(n_bins) + 0.5) * span / n_bins) / 1000
    return centres, on / width_ms, off / width_ms


def _display_size(events: Events, limits: Limits) -> tuple[int, int] | None:
    side = max(events.width, events.height)
    if side <= limits.frame_max_side:
        return None
    s = limits.frame_max_side / side
    return max(1, round(events.height * s)), max(1, round(events.width * s))


def frame_at(events: Events, n_bins: int, index: int, limits: Limits = LIMITS) -> go.Figure:
    """The frame-viewer figure for time bin ``index`` of ``n_bins`` equal bins over the stream."""
    n_bins = check_int("time bins", n_bins, 1, limits.max_frames)
    index = check_int("frame", index, 0, n_bins - 1)
    if not len(events):
        return fe.empty_figure("no events")
    t0, t1 = int(events.t[0]), int(events.t[-1]) + 1
    lo = t0 + (t1 - t0) * index // n_bins
    hi = t0 + (t1 - t0) * (index + 1) // n_bins
    part = events.time_slice(lo, hi)
    title = f"bin {index + 1} of {n_bins}: {lo / 1000:.1f}–{hi / 1000:.1f} ms, {len(part):,} events"
    if events.height == 1:
        counts = np.bincount(part.x.astype(np.int64), minlength=events.width)
        return fe.spike_bin_figure(counts, title)
    frame = events_to_frames(part, n_bins=1, time_range=(lo, max(hi, lo + 1)),
                             downsample_to=_display_size(events, limits), max_bytes=limits.frame_max_bytes)[0]
    return fe.frame_figure(frame, title, (events.width, events.height))


def _cloud(events: Events, limits: Limits) -> go.Figure:
    pts = subsample(events, limits.scatter_points)
    shown = f"{len(pts):,} of {len(events):,} events" if len(pts) < len(events) else f"{len(events):,} events"
    if events.height == 1:
        return fe.raster_figure(pts.t / 1000, pts.x, f"{events.width}-channel spike raster ({shown})")
    return fe.scatter3d_figure(pts.t / 1000, pts.x, pts.y, pts.p, f"x-y-t point cloud ({shown})", events.width,
                               events.height)


def load_events(upload: str | None, sample: str | None, shd_index: float = 0, n_bins: float = 20,
                fmt: str = DETECT, sensor: str | None = "", limits: Limits = LIMITS
                ) -> tuple[str, go.Figure, go.Figure, go.Figure, Events, dict]:
    """Read a recording and draw its first plots (the ``load_events`` endpoint).

    Args:
        upload: path of an uploaded file (takes precedence) or None.
        sample: name of a bundled file in ``assets/`` or None.
        shd_index: sample index inside an SHD ``.h5`` (ignored for other formats).
        n_bins: number of equal time bins of the frame viewer.
        fmt, sensor: the file format and the sensor size ``"W x H"`` (see :func:`read_recording`).
    Returns:
        summary Markdown, first frame, x-y-t cloud (raster for spike trains), event rate, the Events
        (kept in the session for the frame slider and the model run) and an update for the frame slider.
    """
    n_bins = check_int("time bins", n_bins, 1, limits.max_frames)
    path = resolve_source(upload, sample, limits=limits)
    events = read_recording(path, shd_index, limits, fmt, sensor)
    if not len(events):
        raise gr.Error(f"{Path(path).name}: the recording holds no events")
    name = Path(sample).name if not upload and sample else Path(path).name
    centres, on, off = event_rate(events)
    if events.height == 1:
        rate = fe.rate_figure(centres, on + off, None, "spike rate over time")
    else:
        rate = fe.rate_figure(centres, on, off, "event rate over time")
    labels = shd_info(path)[1] if events.meta.get("format") == "shd" else None
    return (summary_markdown(events, name, labels), frame_at(events, n_bins, 0, limits), _cloud(events, limits), rate,
            events, frame_slider(n_bins))


def frame_slider(n_bins: int) -> dict:
    """The frame slider for ``n_bins`` bins, at the first: positions 1 … n_bins, as the frame titles count."""
    return gr.update(minimum=1, maximum=max(n_bins, 2), value=1)


def show_frame(events: Events | None, n_bins: float, position: float, limits: Limits = LIMITS) -> go.Figure:
    """Redraw the frame viewer for slider ``position`` (1-based, as the title "bin 1 of n"; the recording comes
    from the session)."""
    if events is None:
        return fe.empty_figure("load a recording first")
    n_bins = check_int("time bins", n_bins, 1, limits.max_frames)
    return frame_at(events, n_bins, min(max(int(position), 1), n_bins) - 1, limits)


def rebin(events: Events | None, n_bins: float, limits: Limits = LIMITS) -> tuple[go.Figure, dict]:
    """A new number of time bins: the first frame and the frame slider's new range."""
    n_bins = check_int("time bins", n_bins, 1, limits.max_frames)
    return show_frame(events, n_bins, 1, limits), frame_slider(n_bins)


def forget_choice() -> None:
    """Clear the other source when the user picks one (an upload clears the sample choice and vice versa)."""
    return None


def cleared_recording() -> tuple[str, go.Figure, go.Figure, go.Figure, None, dict]:
    """The outputs of :func:`load_events` with nothing loaded: a load clears the previous recording's plots first,
    so a failed load leaves none of them on screen."""
    blank = fe.empty_figure("load a recording to see this plot")
    return NOTHING_LOADED, blank, blank, blank, None, frame_slider(2)
