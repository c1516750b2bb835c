"""The package's one timer: the wall time of a call in milliseconds, with queued GPU work waited for.

Every measurement goes through :func:`elapsed_ms`: the benchmarks (:mod:`mfpsn.bench`, round-robin in
:func:`mfpsn.bench.timing.interleaved_ms`), ``"auto"``'s per-key selection (:mod:`mfpsn.backends.autoselect`),
the first-call and GPU checks, the app's speed race and the tools (:mod:`mfpsn.tools`). The clock:

- CUDA: two CUDA events recorded around the call on the current stream, read after a synchronisation (the
  stream's elapsed time from the call's first queued work to its last, without the host's wake-up jitter);
- elsewhere: ``time.perf_counter`` around the call.

Queued work of earlier calls is waited for before the clock starts, so a call never pays for its predecessor.
It imports only torch (the backends, below the benchmarks, use it too).
"""
from __future__ import annotations

import time
from typing import Callable

import torch

__all__ = ["sync", "elapsed_ms", "times_ms", "upper_median", "median_ms"]


def sync(device: torch.device | str | None) -> None:
    """Wait for the queued CUDA work of ``device`` (no-op for the CPU and for None)."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def elapsed_ms(fn: Callable[[], object], device: torch.device | str | None = None) -> float:
    """Milliseconds one ``fn()`` takes on ``device`` (None or a CPU: the host's clock)."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(device)
        return float(start.elapsed_time(end))
    t0 = time.perf_counter()
    fn()
    return 1e3 * (time.perf_counter() - t0)


def times_ms(fn: Callable[[], object], repeats: int, *, warmup: int = 0,
             device: torch.device | str | None = None) -> list[float]:
    """``repeats`` timings of ``fn()`` in ms (:func:`elapsed_ms`), in call order, after ``warmup`` untimed calls.

    Raises:
        ValueError: ``repeats`` < 1 or ``warmup`` < 0.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"times_ms: expected repeats >= 1, found {repeats!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"times_ms: expected warmup >= 0, found {warmup!r}")
    for _ in range(warmup):
        fn()
    return [elapsed_ms(fn, device) for _ in range(repeats)]


def upper_median(times: list[float]) -> float:
    """Element ``len // 2`` of the sorted times (the upper median for an even count, as in the GPU anchors'
    protocol)."""
    if not times:
        raise ValueError("upper_median: expected at least one time, found none")
    return sorted(times)[len(times) // 2]


def median_ms(fn: Callable[[], object], repeats: int, *, warmup: int = 2,
              device: torch.device | str | None = None) -> float:
    """Upper median in ms of ``repeats`` timings of ``fn()`` after ``warmup`` untimed calls."""
    return upper_median(times_ms(fn, repeats, warmup=warmup, device=device))
