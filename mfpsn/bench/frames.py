"""Throughput of events -> frames, spike-train binning and denoise (a benchmark, not a test).

``python -m mfpsn.bench.frames [--events 1000000] [--repeats 5]`` prints events per
second for each case; :func:`measure_frames_throughput` returns the same numbers for
``python -m mfpsn.bench``. The stream is synthetic: uniform pixels on a DAVIS346 sensor
(346x260), uniform sorted times over 10 s, random polarity, fixed seed.
"""
from __future__ import annotations

import argparse
from typing import Callable, Sequence

import numpy as np

from mfpsn.events.core import Events
from mfpsn.events.denoise import denoise_mask
from mfpsn.events.frames import events_to_frames, spike_train_to_bins
from mfpsn.timer import times_ms

__all__ = ["synthetic_stream", "measure_frames_throughput", "main"]


def synthetic_stream(n_events: int, width: int = 346, height: int = 260, span_us: int = 10_000_000,
                     seed: int = 0) -> Events:
    """A reproducible random stream of ``n_events`` events."""
    rng = np.random.default_rng(seed)
    return Events(np.sort(rng.integers(0, span_us, n_events)), rng.integers(0, width, n_events),
                  rng.integers(0, height, n_events), rng.integers(0, 2, n_events), width, height)


def _best_of(fn: Callable[[], object], repeats: int) -> float:
    """Best seconds of ``repeats`` calls of ``fn`` after one warm-up call."""
    return min(times_ms(fn, repeats, warmup=1)) / 1e3


def measure_frames_throughput(n_events: int = 1_000_000, repeats: int = 5, seed: int = 0) -> list[dict]:
    """Best-of-``repeats`` wall time (after one warm-up) of each case on one stream.

    Returns:
        One dict per case: ``case``, ``seconds``, ``events_per_s``, ``output_shape``.
    """
    ev = synthetic_stream(n_events, seed=seed)
    rng = np.random.default_rng(seed + 1)
    shd = Events(np.sort(rng.integers(0, 1_000_000, n_events)), rng.integers(0, 700, n_events),
                 np.zeros(n_events), np.ones(n_events), 700, 1)
    cases: list[tuple[str, Callable[[], np.ndarray]]] = [
        ("frames n_bins=16", lambda: events_to_frames(ev, n_bins=16)),
        ("frames n_bins=16 -> 64x64", lambda: events_to_frames(ev, n_bins=16, downsample_to=64)),
        ("frames duration_us=50_000 (200 frames)", lambda: events_to_frames(ev, duration_us=50_000)),
        ("frames event_count=50_000, overlap 25_000", lambda: events_to_frames(ev, event_count=50_000,
                                                                               overlap=25_000)),
        ("spike train 10 ms bins, 700 units", lambda: spike_train_to_bins(shd)),
        ("denoise 10 ms, 8 neighbours", lambda: denoise_mask(ev, 10_000)),
    ]
    rows = []
    for name, fn in cases:
        seconds = _best_of(fn, repeats)
        rows.append({"case": name, "seconds": seconds, "events_per_s": n_events / seconds,
                     "output_shape": tuple(np.shape(fn()))})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mfpsn.bench.frames", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"{args.events} events, DAVIS346 sensor, best of {args.repeats}")
    for row in measure_frames_throughput(args.events, args.repeats, args.seed):
        print(f"{row['case']:<44} {row['seconds'] * 1e3:8.1f} ms  {row['events_per_s'] / 1e6:8.1f} M events/s  "
              f"-> {row['output_shape']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
