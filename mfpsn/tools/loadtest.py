"""Bounded load test of the web app on loopback: concurrent ``gradio_client`` clients mixing the endpoints.

``python -m mfpsn.tools.loadtest [--clients 8] [--requests 25] [--url URL] [--json PATH]``

Without ``--url`` the app (``app.demo``) is launched in this process on a free loopback port with the same
queue and launch options as ``python app.py``. Each client runs its requests one after another; the clients
run in parallel threads. The mix (request ``i`` of client ``c`` takes entry ``(c + i) % len(MIX)``) covers
``neuron_lab`` with several settings, ``load_events`` with bundled samples and an upload, a small ``speed_race``,
``run_model`` when checkpoints are shipped, deliberately bad settings and hostile uploads (:func:`hostile_files`:
HDF5 external storage pointing at a secret file, an npz decompression bomb, a header ``t0`` of 30 digits, an
over-budget speed race) that must come back as an app error (``gr.Error``) naming the problem, and never carrying
a byte of the secret: those count as successes when such an error arrives, as failures otherwise. A 4096 x 4096
EVT 3.0 header is loaded and run through a model (must succeed). Reports failures, p50/p95 latency per endpoint
and overall, and the peak resident memory of this process (``peak_rss_mb``; the app's too when it was launched
here).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mfpsn.timer import elapsed_ms

# this module starts gradio_client clients (and may launch the app): no telemetry thread, ever
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

__all__ = ["free_port", "launch_app", "hostile_files", "request_mix", "LoadResult", "run_load", "percentile", "main",
           "SECRET_MARK"]

SECRET_MARK = "TOPSECRET-LOADTEST-MARKER"


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


def hostile_files(folder: Path) -> dict[str, Path]:
    """Small hostile uploads written into ``folder``: ``external`` (SHD whose labels use HDF5 external storage
    in a secret file), ``bomb`` (npz of 4 x 30 MB of zeros in ~120 kB), ``t0`` (EVT 3.0 header t0 of 30 digits)
    and ``wide`` (a valid EVT 3.0 file whose header declares a 4096 x 4096 sensor)."""
    import io
    import zipfile

    import numpy as np

    from mfpsn.events import Events, write_events

    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "secret.txt"
    secret.write_text((SECRET_MARK + "\n") * 8)
    out = {}
    try:
        import h5py

        ext = folder / "external.h5"
        with h5py.File(ext, "w") as f:
            t = f.create_dataset("spikes/times", (1,), dtype=h5py.vlen_dtype(np.float16))
            u = f.create_dataset("spikes/units", (1,), dtype=h5py.vlen_dtype(np.uint16))
            t[0] = np.array([0.1], np.float16)
            u[0] = np.array([1], np.uint16)
            f.create_dataset("labels", (1,), dtype="u2", external=[(str(secret), 0, 2)])
        out["external"] = ext
    except ImportError:
        pass
    bomb = folder / "bomb.npz"
    member = io.BytesIO()
    np.save(member, np.zeros(30_000_000, np.uint8))
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for key in "txyp":
            z.writestr(f"{key}.npy", member.getvalue())
    out["bomb"] = bomb
    t0 = folder / "t0.raw"
    t0.write_bytes(b"% evt 3.0\n% t0 " + b"9" * 30 + b"\n% end\n" + bytes(8))
    out["t0"] = t0
    wide = folder / "wide.raw"
    write_events(wide, Events(np.array([0, 5, 9]), np.array([2000, 2001, 2040]), np.array([2000, 2040, 2047]),
                              np.array([1, 0, 1]), 4096, 4096), format="evt3")
    out["wide"] = wide
    return out


def request_mix(folder: Path | None = None) -> list[tuple[str, list, bool]]:
    """``(endpoint, arguments, error expected)`` entries; uploads are given as local paths (hostile ones are
    written into ``folder``, a temporary folder when None)."""
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
    left_cam = None
    for name in samples:
        names, left, right = compatible_checkpoints(read_recording(str(ASSETS_DIR / name)))
        if names:
            mix.append(("/run_model", [None, name, 0, left, right, 0], False))
            break
    for name in samples:
        ev = read_recording(str(ASSETS_DIR / name))
        if ev.height > 1:
            left_cam = compatible_checkpoints(ev)[1]
            break
    hostile = hostile_files(Path(tempfile.mkdtemp(prefix="mfpsn-loadtest-")) if folder is None else folder)
    for key in ("external", "bomb", "t0"):
        if key in hostile:
            mix.append(("/load_events", [str(hostile[key]), None, 0, 10], True))
    mix.append(("/load_events", [str(hostile["wide"]), None, 0, 10], False))
    if left_cam:
        mix.append(("/run_model", [str(hostile["wide"]), None, 0, left_cam, None, 0], False))
    mix.append(("/speed_race", [", ".join(str(512 * i) for i in range(1, 9)), 1024, 16, 1, ["MFPSN (shift_add)"],
                                "forward + backward (training)", 20], True))
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
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
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
        if endpoint in ("/load_events", "/run_model") and args[0]:
            args = [handle_file(args[0]), *args[1:]]
        outcome: dict[str, Any] = {}

        def request() -> None:
            try:
                client.predict(*args, api_name=endpoint)
                outcome.update(ok=not expect_error, why="expected an app error, got a result")
            except Exception as exc:  # noqa: BLE001 - gradio_client raises AppError or transport errors
                outcome.update(ok=(expect_error and type(exc).__name__ == "AppError" and bool(str(exc))
                                   and SECRET_MARK not in str(exc)), why=f"{type(exc).__name__}: {exc}")
        dt = elapsed_ms(request) / 1e3
        with lock:
            result.latencies.setdefault(endpoint, []).append(dt)
            if not outcome["ok"]:
                result.failures.append(f"client {c} request {i} {endpoint}: {outcome['why']}")


def run_load(url: str, clients: int = 8, requests: int = 25) -> LoadResult:
    """Run ``clients`` threads × ``requests`` requests each against ``url``; returns the result."""
    mix = request_mix()
    result = LoadResult(clients, requests)
    lock = threading.Lock()
    threads = [threading.Thread(target=_client_loop, args=(url, c, requests, mix, result, lock), daemon=True)
               for c in range(clients)]
    def run_all() -> None:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    result.wall_s = elapsed_ms(run_all) / 1e3
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mfpsn.tools.loadtest", description=__doc__.splitlines()[0])
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
