"""The speed race: MFPSN implementations against the serial LIF on this machine, and recorded results.

Each contender runs on ``x: [T, B, C]`` float32 with ``N = B·C`` neurons (``C = min(N, 64)``) on the app's
compute device; the time is the median of ``repeats`` calls after one warm-up call (the GPU is synchronised
around every call). Contenders:

- ``MFPSN (<impl>)`` for every implementation of :func:`mfpsn.functional.temporal_filter` that can run here
  (the float64 ``reference`` is left out; ``triton`` only on a GPU), MFPSN in eval mode (one folded filter
  pass, threshold, spikes);
- ``LIF (Python loop)``: the serial baseline, a step loop over t;
- ``LIF (fused kernel)``: the fused Triton kernel with the time loop inside, on a GPU only;
- ``LIF (fused CPU)``: the time loop in one C++ pass (``LIF(backend="fused")``), on the CPU where a C++ compiler
  is on PATH: the strongest serial baseline there.

``mode="forward + backward"`` times a training step instead: the neuron in train mode (MFPSN: the two-pass
BatchNorm threshold), the forward and ``backward`` of ``spikes.sum()``.
"""
from __future__ import annotations

import json
import math
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import torch

from mfpsn.app.budget import check_budget, race_cost_s
from mfpsn.app.limits import LIMITS, Limits, check_choice, check_int
from mfpsn.app.plotstyle import BASE_LAYOUT, style
from mfpsn.app.serve import compute_device
from mfpsn.paths import data_dir

__all__ = ["MODES", "RESULTS_DIR", "contenders", "parse_T_list", "time_call", "race", "speed_race",
           "device_markdown", "load_recorded", "recorded_markdown", "recorded_figure", "recorded_view", "LIF_LOOP",
           "LIF_FUSED", "LIF_FUSED_CPU"]

MODES = ("forward (inference)", "forward + backward (training)")
RESULTS_DIR = data_dir("results")  # repository folder or $MFPSN_RESULTS (mfpsn.paths)
LIF_LOOP = "LIF (Python loop)"
LIF_FUSED = "LIF (fused kernel)"
LIF_FUSED_CPU = "LIF (fused CPU)"
_TOEPLITZ_MAX = 1 << 24  # C·T² entries of the toeplitz path's banded matrices (64 MiB in float32)


def contenders(device: torch.device) -> list[str]:
    """Names of the contenders that can run on ``device`` (MFPSN implementations first)."""
    from mfpsn.backends import IMPLS

    names = [f"MFPSN ({impl})" for impl in IMPLS if impl not in ("reference", "triton", "auto")]
    if device.type == "cuda" and _has_triton():
        names.append("MFPSN (triton)")
    names.append("MFPSN (auto)")
    names.append(LIF_LOOP)
    if device.type == "cpu" and _has_cxx():
        names.append(LIF_FUSED_CPU)
    if device.type == "cuda" and _has_triton():
        names.append(LIF_FUSED)
    return names


def _has_cxx() -> bool:
    import os
    import shutil

    return shutil.which(os.environ.get("CXX", "g++")) is not None


def _has_triton() -> bool:
    from importlib.util import find_spec

    return find_spec("triton") is not None


def parse_T_list(text: str, limits: Limits = LIMITS) -> list[int]:
    """``"64, 256, 1024"`` → ``[64, 256, 1024]`` (sorted, unique); ``gr.Error`` when malformed or out of range."""
    parts = [p for p in str(text).replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        values = sorted({int(p) for p in parts})
    except ValueError:
        raise gr.Error(f"T values: expected integers separated by commas, found {text!r}") from None
    if not values:
        raise gr.Error("T values: expected at least one integer, found none")
    if len(values) > limits.race_max_points:
        raise gr.Error(f"T values: at most {limits.race_max_points} values, found {len(values)}")
    bad = [v for v in values if not 1 <= v <= limits.race_max_T]
    if bad:
        raise gr.Error(f"T values: expected integers in [1, {limits.race_max_T}], found {bad}")
    return values


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` calls after one warm-up call."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _make_neuron(name: str, C: int, order: int, dilation: int) -> torch.nn.Module:
    from mfpsn.neurons import LIF, MFPSN

    if name == LIF_LOOP:
        return LIF(backend="loop")
    if name == LIF_FUSED:
        return LIF(backend="triton")
    if name == LIF_FUSED_CPU:
        return LIF(backend="fused")
    impl = name[len("MFPSN ("):-1]
    return MFPSN(C, order=order, dilation=dilation, impl=impl)


def _runner(neuron: torch.nn.Module, x: torch.Tensor, train: bool) -> Callable[[], object]:
    if train:
        neuron.train()
        xg = x.clone().requires_grad_(True)

        def step():
            neuron(xg).sum().backward()
        return step
    neuron.eval()

    def forward():
        with torch.inference_mode():
            return neuron(x)
    return forward


def race(T_values: list[int], N: int, order: int, dilation: int, names: list[str], mode: str, repeats: int,
         device: torch.device, progress: Callable[[float, str], None] | None = None) -> dict[str, list[float]]:
    """Median ms per contender and T: ``{name: [ms for T in T_values]}``; NaN where the ``toeplitz`` path's C
    banded T×T matrices would exceed ``_TOEPLITZ_MAX`` entries (not run)."""
    C = min(N, 64)
    B = math.ceil(N / C)
    train = mode == MODES[1]
    out: dict[str, list[float]] = {name: [] for name in names}
    total = len(T_values) * len(names)
    gen = torch.Generator().manual_seed(0)
    done = 0
    for T in T_values:
        x = torch.randn(T, B, C, generator=gen).to(device)
        for name in names:
            if progress is not None:
                progress(done / total, f"{name}, T = {T}")
            done += 1
            if name == "MFPSN (toeplitz)" and C * T * T > _TOEPLITZ_MAX:
                out[name].append(float("nan"))  # C banded T×T matrices would not fit in memory
                continue
            neuron = _make_neuron(name, C, order, dilation).to(device)
            out[name].append(time_call(_runner(neuron, x, train), device, repeats))
    return out


def _versions() -> dict[str, str]:
    vers = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
    try:
        import triton
        vers["triton"] = triton.__version__
    except ImportError:
        vers["triton"] = "not installed"
    vers["gradio"] = gr.__version__
    return vers


def device_markdown(device: torch.device) -> str:
    """Device name, CPU threads and library versions, as Markdown."""
    if device.type == "cuda":
        name = f"GPU: {torch.cuda.get_device_name(device)}"
    else:
        from mfpsn.bench.timing import machine_facts

        facts = machine_facts(device)
        name = f"CPU: {facts['cpu']}, {facts['cpu_count']} cores, {torch.get_num_threads()} torch threads"
    vers = ", ".join(f"{k} {v}" for k, v in _versions().items())
    return f"**Device:** {name}  \n**Versions:** {vers}"


def _race_figures(T_values: list[int], times: dict[str, list[float]], N: int, mode: str) -> tuple[go.Figure, go.Figure]:
    fig_t = go.Figure()
    for name, ms in times.items():
        fig_t.add_trace(go.Scatter(x=T_values, y=ms, mode="lines+markers", name=name,
                                   line=dict(dash="dot" if name.startswith("LIF") else "solid")))
    fig_t.update_xaxes(type="log", title="time steps T")
    fig_t.update_yaxes(type="log", title="median time (ms)", dtick=1)
    fig_t.update_layout(title=f"time per call, N = {N} neurons, {mode}", height=380, **BASE_LAYOUT)
    fig_s = go.Figure()
    base = np.asarray(times[LIF_LOOP]) if LIF_LOOP in times else None
    if base is not None:
        for name, ms in times.items():
            if name != LIF_LOOP:
                fig_s.add_trace(go.Bar(x=[str(t) for t in T_values], y=base / np.asarray(ms), name=name))
        fig_s.add_hline(y=1, line=dict(color="#555", dash="dash"))
        fig_s.update_layout(title="speed-up over the LIF Python loop (× faster; above the dashed line = faster)",
                            xaxis_title="time steps T", yaxis_title="speed-up (×)", yaxis_type="log", yaxis_dtick=1,
                            barmode="group", height=380, **BASE_LAYOUT)
    else:
        fig_s.update_layout(title="speed-up: include the LIF Python loop to compare against it", height=380,
                            **BASE_LAYOUT)
    return style(fig_t), style(fig_s)


def _table(T_values: list[int], times: dict[str, list[float]]) -> str:
    head = "| contender | " + " | ".join(f"T = {t}" for t in T_values) + " |\n"
    head += "|---|" + "---|" * len(T_values) + "\n"
    return head + "\n".join(f"| {name} | " + " | ".join("not run (T×T too large)" if math.isnan(v) else f"{v:.3f} ms"
                                                     for v in ms) + " |" for name, ms in times.items())


def speed_race(T_text: str, N: float, order: float, dilation: float, names: list[str], mode: str, repeats: float,
               progress: gr.Progress = gr.Progress(), limits: Limits = LIMITS) -> tuple[go.Figure, go.Figure, str, str]:
    """The ``speed_race`` endpoint: time the chosen contenders over the T values; figures, table, device."""
    device = compute_device()
    T_values = parse_T_list(T_text, limits)
    N = check_int("N (neurons)", N, 1, limits.race_max_elements)
    order = check_int("order k", order, 1, 64)
    dilation = check_int("dilation d", dilation, 1, 64)
    repeats = check_int("repeats", repeats, 1, 50)
    mode = check_choice("mode", mode, MODES)
    available = contenders(device)
    names = [n for n in (names or [])]
    if not names:
        raise gr.Error("contenders: pick at least one")
    for n in names:
        check_choice("contender", n, available)
    too_big = [t for t in T_values if t * N > limits.race_max_elements]
    if too_big:
        raise gr.Error(f"T·N: at most {limits.race_max_elements:,} elements per call; T = {too_big} with N = {N} "
                       "is over it: lower N or T")
    check_budget("speed race", race_cost_s(T_values, N, order, names, mode == MODES[1], repeats),
                 limits.race_max_seconds, "s", "lower the T values, N, the repeats or the contenders")
    times = race(T_values, N, order, dilation, names, mode, repeats, device,
                 progress=lambda f, d: progress(f, desc=d))
    fig_t, fig_s = _race_figures(T_values, times, N, mode)
    n_real = math.ceil(N / min(N, 64)) * min(N, 64)
    note = f"N rounded up to {n_real} (B × C with C = {min(N, 64)}). " if n_real != N else ""
    md = (f"{note}k = {order}, d = {dilation}, {repeats} repeats (median), float32.\n\n" + _table(T_values, times))
    return fig_t, fig_s, md, device_markdown(device)


# ------------------------------------------------------------------------------------------ recorded results
def load_recorded(root: Path = RESULTS_DIR) -> list[dict]:
    """Every JSON result file under ``results/gpu`` and ``results/cpu`` as ``{"path", "kind", "machine", "date",
    "rows"}``; rows are the benchmark's ``{impl, device, T, N, k, d, fwd_ms, fwdbwd_ms}`` records. The machine
    label is the GPU name, else the CPU name and core count, from ``python -m mfpsn.bench``'s ``machine`` record
    (or top-level ``card``/``gpu``/``machine`` keys); the date from ``date_utc`` or ``date``. Files that are not
    such results are skipped."""
    found = []
    for sub in ("gpu", "cpu"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            rows = data.get("rows") if isinstance(data, dict) else data
            if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
                continue
            rows = [r for r in rows if "impl" in r and "T" in r and ("fwd_ms" in r or "fwdbwd_ms" in r)]
            if not rows:
                continue
            meta = dict(data) if isinstance(data, dict) else {}
            if isinstance(meta.get("machine"), dict):       # python -m mfpsn.bench writes {"machine": {...}}
                meta.update(meta.pop("machine"))
            machine = next((str(meta[k]) for k in ("gpu", "card", "device_name", "machine") if meta.get(k)), None)
            if machine is None and meta.get("cpu"):
                machine = f"{meta['cpu']}" + (f", {meta['cpu_count']} cores" if meta.get("cpu_count") else "")
            machine = machine or str(rows[0].get("device", "unknown machine"))
            date = next((str(meta[k]) for k in ("date_utc", "date", "timestamp", "created") if meta.get(k)),
                        "date not recorded")
            found.append({"path": str(path.relative_to(root.parent)), "kind": sub, "machine": machine,
                          "date": date, "rows": rows})
    return found


def recorded_markdown(records: list[dict]) -> str:
    """One line per recorded file (machine, date, file), or an honest 'none recorded'."""
    if not records:
        return ("**Recorded results:** none recorded. Results appear here once a benchmark run is committed "
                "under `results/gpu/` or `results/cpu/` (`python -m mfpsn.bench --json ...`).")
    lines = [f"- **{r['kind'].upper()}** {r['machine']}, {r['date']}: `{r['path']}` ({len(r['rows'])} rows)"
             for r in records]
    return "**Recorded results:**\n" + "\n".join(lines)


def _recorded_colour(impl: str) -> str:
    """Bar colour of a recorded row: the memory floor grey, the serial LIF blue, MFPSN rows red, others teal."""
    if impl.startswith("copy"):
        return "#9e9e9e"
    if impl.startswith("LIF"):
        return "#1f77b4"
    if "MFPSN" in impl or impl.startswith("filter") or impl.startswith("triton"):
        return "#d62728"
    return "#17becf"


def recorded_figure(records: list[dict]) -> go.Figure:
    """One panel per recorded file (at most 4, stacked): forward time against T per implementation (log-log);
    a file measured at a single T is drawn as horizontal bars (ms, log scale) instead."""
    from plotly.subplots import make_subplots

    if not records:
        fig = go.Figure()
        fig.add_annotation(text="none recorded", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                           font=dict(size=16, color="#666"))
        fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=260, **BASE_LAYOUT)
        return fig
    shown = records[:4]
    titles = []
    for rec in shown:
        ns = sorted({int(r["N"]) for r in rec["rows"] if "N" in r})
        n_text = f", N = {', '.join(f'{n:,}' for n in ns)}" if ns else ""
        titles.append(f"{rec['kind'].upper()} {rec['machine']}{n_text} ({rec['date'][:10]}, "
                      f"{Path(rec['path']).name})")
    fig = make_subplots(rows=len(shown), cols=1, subplot_titles=titles, vertical_spacing=0.3 / len(shown))
    for j, rec in enumerate(shown, start=1):
        key = "fwd_ms" if any("fwd_ms" in r for r in rec["rows"]) else "fwdbwd_ms"
        by_impl: dict[str, list[tuple[int, float]]] = {}
        for r in rec["rows"]:
            if r.get(key) is not None:
                by_impl.setdefault(str(r["impl"]), []).append((int(r["T"]), float(r[key])))
        single_t = len({t for pts in by_impl.values() for t, _ in pts}) == 1
        if single_t:
            labels = sorted(by_impl, key=lambda name: by_impl[name][0][1])
            t = by_impl[labels[0]][0][0]
            fig.add_trace(go.Bar(y=labels, x=[by_impl[name][0][1] for name in labels], orientation="h",
                                 name=f"T = {t}", showlegend=False,
                                 marker_color=[_recorded_colour(name) for name in labels],
                                 text=[f"{by_impl[name][0][1]:.3g} ms" for name in labels],
                                 textposition="outside"), row=j, col=1)
            what = "forward" if key == "fwd_ms" else "forward + backward"
            fig.update_xaxes(type="log", title_text=f"{what} time (ms) at T = {t}", row=j, col=1)
            continue
        for label, pts in by_impl.items():
            pts.sort()
            fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                                     name=label, legendgroup=label, showlegend=j == 1), row=j, col=1)
        fig.update_xaxes(type="log", title_text="T", row=j, col=1)
        fig.update_yaxes(type="log", title_text=f"{key} (ms)", row=j, col=1)
    fig.update_layout(title="recorded benchmark results (from results/)", height=120 + 360 * len(shown),
                      **BASE_LAYOUT)
    return style(fig)


def recorded_view(root: Path = RESULTS_DIR) -> tuple[str, go.Figure]:
    """(list of recorded result files, their figure) for the speed-race tab."""
    records = load_recorded(root)
    return recorded_markdown(records), recorded_figure(records)
