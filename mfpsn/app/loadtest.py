"""Bounded load test of the web app on loopback: concurrent ``gradio_client`` clients mixing the endpoints.

``python -m mfpsn.app.loadtest [--clients 8] [--requests 25] [--url URL] [--json PATH]``

Without ``--url`` the app (``app.demo``) is launched in this process on a free loopback port with the same
queue and launch options as ``python app.py``. Each client runs its requests one after another; the clients
run in parallel threads. The mix (request ``i`` of client ``c`` takes entry ``(c + i) % len(MIX)``) covers
``neuron_lab`` with several settings, ``load_events`` with bundled samples and an upload, a small ``speed_race``,
``run_model`` when checkpoints are shipped, and deliberately bad settings that must come back as an app error
(``gr.Error``) naming the problem: those count as successes when the error arrives, as failures otherwise.
Reports failures and p50/p95 latency per endpoint and overall.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# this module starts gradio_client clients (and may launch the app): no telemetry thread, ever
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

__all__ = ["free_port", "launch_app", "request_mix", "LoadResult", "run_load", "percentile", "main"]


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_app(port: int | None = None):
    """Launch ``app.demo`` in this process on loopback; returns the Blocks (call ``.close()`` when done)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import app
    from mfpsn.app.serve import configure_queue, launch_kwargs, warm_kernels

    warm_kernels()
    configure_queue(app.demo).launch(server_name="127.0.0.1", server_port=port or free_port(),
                                     prevent_thread_lock=True, quiet=True, **launch_kwargs())
    return app.demo


def _lab_args(**changes: Any) -> list:
    from mfpsn.app.lab import LabSettings

    s = replace(LabSettings(), **changes)
    return [getattr(s, f) for f in LabSettings.__dataclass_fields__]


def request_mix() -> list[tuple[str, list, bool]]:
    """``(endpoint, arguments, error expected)`` entries; uploads are given as local paths."""
    from mfpsn.app.events_view import ASSETS_DIR, bundled_samples, read_recording
    from mfpsn.app.models_view import compatible_checkpoints

    samples = bundled_samples()
    mix: list[tuple[str, list, bool]] = [
        ("/neuron_lab", _lab_args(), False),
        ("/neuron_lab", _lab_args(signal="Poisson spikes", channels=4, order=5, extra="SlidingPSN",
                                  signs="+ + - + +", exponents="-3 -2 -2 -1 0"), False),
        ("/neuron_lab", _lab_args(signal="sine", dilation_mode="sawtooth layer", layer=3, extra="PSN",
                                  taps_from="LIF kernel"), False),
        ("/neuron_lab", _lab_args(T=0), True),
        ("/speed_race", ["16, 32", 64, 2, 1, ["MFPSN (shift_add)", "LIF (Python loop)"], "forward (inference)", 1],
         False),
        ("/load_events", [None, "no_such_file.bin", 0, 10], True),
    ]
    for name in samples[:4]:
        mix.append(("/load_events", [None, name, 0, 10], False))
    if samples:
        mix.append(("/load_events", [str(ASSETS_DIR / samples[-1]), None, 0, 10], False))
    for name in samples:
        names, left, right = compatible_checkpoints(read_recording(str(ASSETS_DIR / name)))
        if names:
            mix.append(("/run_model", [None, name, 0, left, right, 0], False))
            break
    return mix


@dataclass
class LoadResult:
    """Latencies (s) per endpoint, failure messages, and the totals."""

    clients: int
    requests_per_client: int
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        every = [v for vs in self.latencies.values() for v in vs]
        out = {"clients": self.clients, "requests": self.clients * self.requests_per_client,
               "failures": len(self.failures), "wall_s": round(self.wall_s, 2),
               "p50_s": round(percentile(every, 50), 3), "p95_s": round(percentile(every, 95), 3),
               "per_endpoint": {k: {"n": len(v), "p50_s": round(percentile(v, 50), 3),
                                    "p95_s": round(percentile(v, 95), 3)} for k, v in sorted(self.latencies.items())}}
        if self.failures:
            out["first_failures"] = self.failures[:5]
        return out


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank on the sorted values); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def _client_loop(url: str, c: int, n: int, mix: list, result: LoadResult, lock: threading.Lock) -> None:
    from gradio_client import Client, handle_file

    try:
        client = Client(url, verbose=False, analytics_enabled=False)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is a failure of the run
        with lock:
            result.failures.append(f"client {c}: cannot connect: {exc}")
        return
    for i in range(n):
        endpoint, args, expect_error = mix[(c + i) % len(mix)]
        if endpoint == "/load_events" and args[0]:
            args = [handle_file(args[0]), *args[1:]]
        t0 = time.perf_counter()
        try:
            client.predict(*args, api_name=endpoint)
            ok = not expect_error
            why = "expected an app error, got a result"
        except Exception as exc:  # noqa: BLE001 - gradio_client raises AppError or transport errors
            ok = expect_error and type(exc).__name__ == "AppError" and bool(str(exc))
            why = f"{type(exc).__name__}: {exc}"
        dt = time.perf_counter() - t0
        with lock:
            result.latencies.setdefault(endpoint, []).append(dt)
            if not ok:
                result.failures.append(f"client {c} request {i} {endpoint}: {why}")


def run_load(url: str, clients: int = 8, requests: int = 25) -> LoadResult:
    """Run ``clients`` threads × ``requests`` requests each against ``url``; returns the result."""
    mix = request_mix()
    result = LoadResult(clients, requests)
    lock = threading.Lock()
    threads = [threading.Thread(target=_client_loop, args=(url, c, requests, mix, result, lock), daemon=True)
               for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.wall_s = time.perf_counter() - t0
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mfpsn.app.loadtest", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=25, help="requests per client")
    parser.add_argument("--url", default=None, help="a running app (default: launch one in this process)")
    parser.add_argument("--json", type=Path, default=None, help="write the summary here")
    args = parser.parse_args(argv)
    demo = None
    url = args.url
    if url is None:
        demo = launch_app()
        url = demo.local_url
    try:
        result = run_load(url, args.clients, args.requests)
    finally:
        if demo is not None:
            demo.close()
    summary = result.summary()
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 1 if result.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
