"""Speed of the web app's heavy requests (a benchmark script, not a test).

``python -m mfpsn.tools.app_bench [--repeats 20] [--events 1000000] [--json PATH]``

1. **Neuron lab update** at T = 256 with every plot: server time of ``neuron_lab`` (simulation, six figures,
   summary) plus the JSON encoding Gradio does before sending (``Figure.to_json``), for the default setting and for
   a heavier one (4 channels, k = 8, sawtooth layer 3, PSN as third neuron). Target: under 300 ms.
2. **A 1,000,000-event upload to its first plots**: a synthetic 640×480 recording (random-walk blobs, ON/OFF) is
   written as EVT 3.0 ``.raw`` and as ``.npy`` into a temporary folder (removed afterwards); the time is
   ``load_events`` (read, summary, first frame, x-y-t cloud, event rate) plus the JSON encoding of its figures,
   directly and end to end through ``gradio_client`` (upload over loopback included) against an in-process
   launch. Target: under 3 s.

3. **Neurons on a 1,000,000-event recording** (``/event_neurons``, default settings: the most active 32×32
   region, the whole second in 500 bins): read, both layers, statistics and the JSON of both figures, directly
   and end to end through ``gradio_client``. Target: under 3 s.

Medians over ``--repeats`` runs after one warm-up; ``torch`` uses one thread.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from mfpsn.timer import times_ms

__all__ = ["synthetic_recording", "time_median", "bench_lab", "bench_upload", "bench_event_neurons", "main"]


def synthetic_recording(n: int, width: int = 640, height: int = 480, seed: int = 0):
    """``n`` events over 1 s from 8 moving blobs on a ``width × height`` sensor, half ON, half OFF (Events)."""
    from mfpsn.events import Events

    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 1_000_000, n))
    blob = rng.integers(0, 8, n)
    centres = rng.uniform([0, 0], [width, height], (8, 2))
    speed = rng.uniform(-200, 200, (8, 2))                            # pixels per second
    pos = centres[blob] + speed[blob] * (t[:, None] / 1e6) + rng.normal(0, 12, (n, 2))
    x = np.mod(pos[:, 0], width).astype(np.int64)
    y = np.mod(pos[:, 1], height).astype(np.int64)
    p = (rng.random(n) < 0.5).astype(np.uint8)
    return Events(t, x, y, p, width, height)


def time_median(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median, max) wall seconds of ``fn()`` over ``repeats`` calls after one warm-up call."""
    times = [ms / 1e3 for ms in times_ms(fn, repeats, warmup=1)]
    return statistics.median(times), max(times)


def _encode(outputs) -> None:
    import plotly.graph_objects as go

    for o in outputs:
        if isinstance(o, go.Figure):
            o.to_json()


def bench_lab(repeats: int, end_to_end: bool = True) -> dict[str, dict[str, float]]:
    """Median and max ms of one lab update (T = 256, all plots, JSON-encoded) for two settings; with
    ``end_to_end`` also the ``gradio_client`` round trip (queue, pre/post-processing, loopback HTTP)."""
    from mfpsn.app.lab import LabSettings, neuron_lab

    settings = {"default (1 channel, k = 3)": LabSettings(T=256),
                "heavy (4 channels, k = 8, sawtooth layer 3, PSN)": replace(
                    LabSettings(), T=256, channels=4, order=8, dilation_mode="sawtooth layer", layer=3,
                    signal="Poisson spikes", extra="PSN", signs="+ + + + + + + +",
                    exponents="-7 -6 -5 -4 -3 -2 -1 0")}
    out = {}
    for name, s in settings.items():
        args = [getattr(s, f) for f in LabSettings.__dataclass_fields__]
        med, worst = time_median(lambda: _encode(neuron_lab(*args)), repeats)
        out[f"server function, {name}"] = {"median_ms": round(med * 1e3, 1), "max_ms": round(worst * 1e3, 1)}
    if end_to_end:
        from gradio_client import Client

        from mfpsn.tools.loadtest import launch_app

        demo = launch_app()
        try:
            client = Client(demo.local_url, verbose=False)
            for name, s in settings.items():
                args = [getattr(s, f) for f in LabSettings.__dataclass_fields__]
                med, worst = time_median(lambda: client.predict(*args, api_name="/neuron_lab"), repeats)
                out[f"gradio_client round trip, {name}"] = {"median_ms": round(med * 1e3, 1),
                                                            "max_ms": round(worst * 1e3, 1)}
        finally:
            demo.close()
    return out


def bench_upload(n_events: int, repeats: int, end_to_end: bool = True) -> dict[str, dict[str, float]]:
    """Median and max s from a ``n_events`` upload to its first plots (direct and through the client)."""
    from mfpsn.app.events_view import load_events
    from mfpsn.events import write_events, write_npy

    ev = synthetic_recording(n_events)
    out = {}
    with tempfile.TemporaryDirectory(prefix="mfpsn-bench-") as tmp:
        files = {"EVT 3.0 .raw": Path(tmp) / "big.raw", "NumPy .npy": Path(tmp) / "big.npy"}
        write_events(files["EVT 3.0 .raw"], ev, format="evt3")
        write_npy(files["NumPy .npy"], ev)
        for label, path in files.items():
            med, worst = time_median(lambda: _encode(load_events(str(path), None, 0, 20)), repeats)
            out[f"direct, {label} ({path.stat().st_size / 2**20:.1f} MB)"] = {"median_s": round(med, 3),
                                                                               "max_s": round(worst, 3)}
        if end_to_end:
            from gradio_client import Client, handle_file

            from mfpsn.tools.loadtest import launch_app

            demo = launch_app()
            try:
                client = Client(demo.local_url, verbose=False)
                for label, path in files.items():
                    med, worst = time_median(
                        lambda: client.predict(handle_file(str(path)), None, 0, 20, api_name="/load_events"),
                        max(1, repeats // 2))
                    out[f"gradio_client upload, {label}"] = {"median_s": round(med, 3), "max_s": round(worst, 3)}
            finally:
                demo.close()
    return out


def bench_event_neurons(n_events: int, repeats: int, end_to_end: bool = True) -> dict[str, dict[str, float]]:
    """Median and max s of ``/event_neurons`` on a ``n_events`` EVT 3.0 recording (direct and through the client)."""
    from mfpsn.app.event_neurons import event_neurons_ui
    from mfpsn.events import write_events

    out = {}
    with tempfile.TemporaryDirectory(prefix="mfpsn-bench-") as tmp:
        path = Path(tmp) / "big.raw"
        write_events(path, synthetic_recording(n_events), format="evt3")
        med, worst = time_median(lambda: _encode(event_neurons_ui(str(path), None)), repeats)
        out["direct, EVT 3.0 .raw"] = {"median_s": round(med, 3), "max_s": round(worst, 3)}
        if end_to_end:
            from gradio_client import Client, handle_file

            from mfpsn.tools.loadtest import launch_app

            demo = launch_app()
            try:
                client = Client(demo.local_url, verbose=False)
                med, worst = time_median(lambda: client.predict(handle_file(str(path)), None, 32, -1, -1, 0, 0, 0,
                                                                "both", 0, 4, 1, 0, 2.0, 2.0, 1.0,
                                                                api_name="/event_neurons"), max(1, repeats // 2))
                out["gradio_client upload, EVT 3.0 .raw"] = {"median_s": round(med, 3), "max_s": round(worst, 3)}
            finally:
                demo.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mfpsn.tools.app_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-client", action="store_true", help="skip the end-to-end gradio_client timing")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from mfpsn.bench.timing import machine_facts

    facts = machine_facts(torch.device("cpu"))
    result = {"machine": f"{facts['cpu']}, {facts['cpu_count']} cores, load average {facts['loadavg_1_5_15']}",
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "torch": torch.__version__,
              "lab_update_T256_ms": bench_lab(args.repeats, end_to_end=not args.no_client),
              f"upload_{args.events}_events_s": bench_upload(args.events, max(1, args.repeats // 4),
                                                             end_to_end=not args.no_client),
              f"event_neurons_{args.events}_events_s": bench_event_neurons(args.events, max(1, args.repeats // 4),
                                                                           end_to_end=not args.no_client)}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
