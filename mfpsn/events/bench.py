"""Reading benchmark: ``python -m mfpsn.events.bench [--events N] [--repeats R]``.

Writes an N-event (default 1,000,000) EVT 3.0 file (640x480 sensor, 10 s) and an AEDAT 3.1
file (DVS128 128x128, polarity packets of 1,024 events) to a temporary folder with this
package's writers, then reads each ``R`` times with :func:`mfpsn.events.read_events` and reports
the best time as events per second; also read + binning to ``[10, 2, H, W]`` frames with
:func:`mfpsn.events.frames.events_to_frames`. :func:`run_events_benchmark` returns the rows for
the project's main benchmark.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from mfpsn.events.core import Events
from mfpsn.events.formats import aedat31, evt3
from mfpsn.events.io import read_events

__all__ = ["run_events_benchmark", "main"]

CASES = (  # name, writer, options, sensor (w, h), span µs
    ("evt3", evt3.write, {}, (640, 480), 10_000_000),
    ("aedat31", aedat31.write, {"packet_events": 1024}, (128, 128), 10_000_000),
)


def _synthetic(n: int, width: int, height: int, span_us: int, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, span_us, n))
    return Events(t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n), width, height)


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run_events_benchmark(n_events: int = 1_000_000, repeats: int = 3, n_bins: int = 10) -> list[dict]:
    """Measure write, read and read+bin for each case.

    Returns:
        one dict per format: ``format``, ``events``, ``file_mb``, ``write_s``, ``read_s``,
        ``read_events_per_s``, ``read_bin_s``, ``read_bin_events_per_s``, ``frames_shape``.
    """
    from mfpsn.events.frames import events_to_frames

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, writer, opts, (w, h), span in CASES:
            ev = _synthetic(n_events, w, h, span)
            path = Path(tmp) / f"bench_{name}.{'raw' if name == 'evt3' else 'aedat'}"
            write_s, _ = _best(lambda: writer(path, ev, **opts), 1)
            read_s, out = _best(lambda: read_events(path), repeats)
            if len(out) != n_events or not np.array_equal(out.t, ev.t):
                raise RuntimeError(f"bench {name}: read back {len(out)} events, expected the {n_events} written")
            bin_s, frames = _best(lambda: events_to_frames(read_events(path), n_bins=n_bins), repeats)
            rows.append({
                "format": name, "events": n_events, "file_mb": path.stat().st_size / 1e6, "write_s": write_s,
                "read_s": read_s, "read_events_per_s": n_events / read_s, "read_bin_s": bin_s,
                "read_bin_events_per_s": n_events / bin_s, "frames_shape": tuple(frames.shape),
            })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Event-file reading benchmark")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = run_events_benchmark(args.events, args.repeats)
    print(f"{'format':8} {'events':>9} {'file MB':>8} {'write s':>8} {'read s':>7} {'read ev/s':>11} "
          f"{'read+bin s':>10} {'read+bin ev/s':>13}  frames")
    for r in rows:
        print(f"{r['format']:8} {r['events']:>9} {r['file_mb']:>8.2f} {r['write_s']:>8.3f} {r['read_s']:>7.3f} "
              f"{r['read_events_per_s']:>11.3g} {r['read_bin_s']:>10.3f} {r['read_bin_events_per_s']:>13.3g}  "
              f"{list(r['frames_shape'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
