"""Round-robin timing of several subjects (on the package's one timer, :func:`mfpsn.timer.elapsed_ms`) and the
machine facts written next to every result."""
from __future__ import annotations

import datetime as _dt
import os
import platform
from typing import Callable

import torch

from mfpsn.timer import elapsed_ms

__all__ = ["interleaved_ms", "machine_facts"]


def interleaved_ms(fns: dict[str, Callable[[], object]], device: torch.device, repeats: int, warmup: int = 2,
                   on_error: Callable[[str, Exception], None] | None = None, settle: int = 0,
                   on_call: Callable[[], None] | None = None) -> dict[str, list[float]]:
    """Wall times in ms of every ``fns[name]()``, ``repeats`` each, taken round-robin (one run of each subject per
    round) after ``warmup`` untimed runs of each, so that all subjects see the same background load.

    ``settle``: untimed calls of a subject right before each of its timed calls, so the timed call does not pay for
    the state the previous subject left (caches filled with its data, torch's OpenMP workers put to sleep by a
    long serial loop: measured, a 1 MiB copy ran 3× slower right after the LIF loop than after itself).

    ``on_call()`` runs after every call, timed or not (a progress bar's tick).

    A subject that raises is dropped from the rounds and reported through ``on_error(name, exc)`` (re-raised
    when ``on_error`` is None). Returns {name: [ms, ...]} for the subjects that completed.
    """
    if repeats < 1:
        raise ValueError(f"interleaved_ms: expected repeats >= 1, found {repeats}")
    live = dict(fns)
    times: dict[str, list[float]] = {name: [] for name in live}

    def run(name: str, timed: bool) -> None:
        try:
            ms = elapsed_ms(live[name], device)
            if timed:
                times[name].append(ms)
        except Exception as err:  # noqa: BLE001 - reported to the caller, who records it
            if on_error is None:
                raise
            on_error(name, err)
            del live[name], times[name]
        if on_call is not None:
            on_call()

    for _ in range(warmup):
        for name in list(live):
            run(name, timed=False)
    for _ in range(repeats):
        for name in list(live):
            for _ in range(settle):
                if name in live:
                    run(name, timed=False)
            if name in live:
                run(name, timed=True)
    return times


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_ENV_KEYS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS", "CXX", "MFPSN_CACHE_DIR",
             "MFPSN_CPU_CACHE_MB")


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return getattr(mod, "__version__", "unknown")


def machine_facts(device: torch.device) -> dict:
    """CPU/GPU name, core and thread counts, library versions, threading environment, load average, UTC date."""
    facts = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "loadavg_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": _version("numpy"),
        "triton": _version("triton"),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "env": {name: os.environ.get(name) for name in _ENV_KEYS},
    }
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled", encoding="utf-8") as fh:
            facts["transparent_hugepage"] = fh.read().strip()
    except OSError:
        facts["transparent_hugepage"] = None
    return facts
