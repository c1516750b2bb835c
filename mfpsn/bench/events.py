"""Reading benchmark: ``python -m mfpsn.bench.events [--events N] [--repeats R]``.

Writes an N-event (default 1,000,000) EVT 3.0 file (640x480 sensor, 10 s) and an AEDAT 3.1
file (DVS128 128x128, polarity packets of 1,024 events) to a temporary folder with this
package's writers, then reads each ``R`` times with :func:`mfpsn.events.read_events` and reports
the best time as events per second (``--all``: every other writable format too); also read + binning to ``[10, 2, H, W]`` frames with
:func:`mfpsn.events.frames.events_to_frames`. :func:`run_events_benchmark` returns the rows for
the project's main benchmark.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from mfpsn.events.core import Events
from mfpsn.events.formats import aedat2, aedat31, dat, evt2, evt3, nmnist, npy, shd
from mfpsn.events.io import read_events
from mfpsn.timer import times_ms

__all__ = ["run_events_benchmark", "main"]

CASES = (  # name, writer, options, sensor (w, h), span µs, suffix
    ("evt3", evt3.write, {}, (640, 480), 10_000_000, ".raw"),
    ("aedat31", aedat31.write, {"packet_events": 1024}, (128, 128), 10_000_000, ".aedat"),
)
MORE_CASES = (  # with --all
    ("evt2", evt2.write, {}, (640, 480), 10_000_000, ".raw"),
    ("dat", dat.write, {}, (304, 240), 10_000_000, ".dat"),
    ("aedat2", aedat2.write, {}, (128, 128), 10_000_000, ".aedat"),
    ("nmnist", nmnist.write, {}, (34, 34), 8_000_000, ".bin"),
    ("npz", npy.write_npz, {}, (128, 128), 10_000_000, ".npz"),
    ("shd", shd.write, {}, (700, 1), 10_000_000, ".h5"),
)


def _synthetic(n: int, width: int, height: int, span_us: int, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, span_us, n))
    return Events(t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n), width, height)


def _best(fn, repeats: int) -> tuple[float, object]:
    """(best seconds of ``repeats`` calls of ``fn``, the last call's result)."""
    out = []
    seconds = min(times_ms(lambda: out.append(fn()), repeats)) / 1e3
    return seconds, out[-1]


def run_events_benchmark(n_events: int = 1_000_000, repeats: int = 3, n_bins: int = 10,
                         all_formats: bool = False) -> list[dict]:
    """Measure write, read and read+bin for EVT3 and AEDAT 3.1 (and the other formats with ``all_formats``).

    Returns:
        one dict per format: ``format``, ``events``, ``file_mb``, ``write_s``, ``read_s``,
        ``read_events_per_s``, ``read_bin_s``, ``read_bin_events_per_s``, ``frames_shape``.
    """
    from mfpsn.events.frames import events_to_frames

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, writer, opts, (w, h), span, suffix in CASES + (MORE_CASES if all_formats else ()):
            ev = _synthetic(n_events, w, h, span)
            if name == "shd":  # float16 seconds: compare against what the file can hold
                ev = Events(ev.t, ev.x, np.zeros(n_events, np.int64), np.ones(n_events, np.int64), w, h)
            path = Path(tmp) / f"bench_{name}{suffix}"
            write_s, _ = _best(lambda: writer(path, ev, **opts), 1)
            read_s, out = _best(lambda: read_events(path), repeats)
            if len(out) != n_events or (name != "shd" and not np.array_equal(out.t, ev.t)):
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
    parser.add_argument("--all", action="store_true", help="also EVT2, DAT, AEDAT 2.0, N-MNIST, npz and SHD")
    args = parser.parse_args(argv)
    rows = run_events_benchmark(args.events, args.repeats, all_formats=args.all)
    print(f"{'format':8} {'events':>9} {'file MB':>8} {'write s':>8} {'read s':>7} {'read ev/s':>11} "
          f"{'read+bin s':>10} {'read+bin ev/s':>13}  frames")
    for r in rows:
        print(f"{r['format']:8} {r['events']:>9} {r['file_mb']:>8.2f} {r['write_s']:>8.3f} {r['read_s']:>7.3f} "
              f"{r['read_events_per_s']:>11.3g} {r['read_bin_s']:>10.3f} {r['read_bin_events_per_s']:>13.3g}  "
              f"{list(r['frames_shape'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
