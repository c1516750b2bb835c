"""The speed race: MFPSN implementations against the serial LIF on this machine, and recorded results.

Each contender runs on ``x: [T, B, C]`` float32 with ``N = B·C`` neurons (``C = min(N, 64)``) on the app's
compute device; at each T the contenders run round-robin, ``repeats`` timed rounds after two warm-up rounds (the
GPU is synchronised around every call), and each gives its median with quartiles, min and max
(:mod:`mfpsn.app.race_stats`). Speed-ups are taken over the fastest serial LIF raced. Contenders:

- ``MFPSN (<backend>)`` for every backend of :func:`mfpsn.functional.temporal_filter` that can run here
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
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Callable

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import torch

from mfpsn.app import figures_race
from mfpsn.app.budget import check_budget, race_cost_s
from mfpsn.app.limits import LIMITS, Limits, check_choice, check_int
from mfpsn.app.plotstyle import BASE_LAYOUT, log_axis, style
from mfpsn.app.race_stats import Timing, fastest, headline, result_rows, spread_warning, summarise
from mfpsn.app.serve import compute_device
from mfpsn.paths import data_dir

__all__ = ["MODES", "RESULTS_DIR", "contenders", "default_contenders", "parse_T_list", "race", "export", "WARMUP", "speed_race",
           "device_markdown", "load_recorded", "recorded_markdown", "recorded_figure", "recorded_view",
           "recorded_scaling", "LIF_LOOP",
           "LIF_FUSED", "LIF_FUSED_CPU"]

MODES = ("forward (inference)", "forward + backward (training)")
RESULTS_DIR = data_dir("results")  # repository folder or $MFPSN_RESULTS (mfpsn.paths)
LIF_LOOP = "LIF (Python loop)"
LIF_FUSED = "LIF (fused kernel)"
LIF_FUSED_CPU = "LIF (fused CPU)"
WARMUP = 2  # untimed rounds before the timed ones (first calls build kernels, caches and allocator pools)


def contenders(device: torch.device) -> list[str]:
    """Names of the contenders that can run on ``device`` (MFPSN implementations first)."""
    from mfpsn.backends import FILTER_BACKENDS

    names = [f"MFPSN ({backend})" for backend in FILTER_BACKENDS if backend not in ("reference", "triton", "auto")]
    if device.type == "cuda" and _has_triton():
        names.append("MFPSN (triton)")
    names.append("MFPSN (auto)")
    names.append(LIF_LOOP)
    if device.type == "cpu" and _has_cxx():
        names.append(LIF_FUSED_CPU)
    if device.type == "cuda" and _has_triton():
        names.append(LIF_FUSED)
    names += [p.name for p in _peers() if find_spec(p.package) is not None]
    return names


def _peers():
    """The benchmark's optional peer LIFs (:data:`mfpsn.bench.subjects.PEERS`: name, closure builder, package)."""
    from mfpsn.bench.subjects import PEERS

    return PEERS


def default_contenders(device: torch.device) -> list[str]:
    """The contenders ticked when the app opens: this package's (the optional peers are there to tick)."""
    from mfpsn.bench.subjects import PEER_NAMES

    return [n for n in contenders(device) if n not in PEER_NAMES]


def _has_cxx() -> bool:
    """Whether the fused C++ LIF can be built here (:func:`mfpsn.functional.native.compiler` finds $CXX)."""
    from mfpsn.functional import native

    try:
        native.compiler("LIF backend='fused'")
    except RuntimeError:
        return False
    return True


def _backend_reason(name: str, x: torch.Tensor) -> str | None:
    """Why the MFPSN contender ``name`` (``"MFPSN (<backend>)"``) cannot run on ``x``: its backend record's
    answer (``available`` and memory bound; ``"auto"`` always runs)."""
    from mfpsn.backends import BACKENDS

    backend = name[len("MFPSN ("):-1]
    return None if backend == "auto" else BACKENDS[backend].reason(x)


def _has_triton() -> bool:
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


def _make_neuron(name: str, C: int, order: int, dilation: int) -> torch.nn.Module:
    from mfpsn.neurons import LIF, MFPSN

    if name == LIF_LOOP:
        return LIF(backend="loop")
    if name == LIF_FUSED:
        return LIF(backend="triton")
    if name == LIF_FUSED_CPU:
        return LIF(backend="fused")
    return MFPSN(C, order=order, dilation=dilation, backend=name[len("MFPSN ("):-1])


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
         device: torch.device, progress: Callable[[float, str], None] | None = None
         ) -> dict[str, list[Timing | None]]:
    """Timings per contender and T: ``{name: [Timing for T in T_values]}``. At each T the contenders run
    round-robin (:func:`mfpsn.bench.timing.interleaved_ms`: :data:`WARMUP` untimed rounds, then ``repeats`` timed
    ones), so all of them see the same background load. None where an MFPSN implementation's backend record refuses
    the input (:meth:`mfpsn.backends.registry.BackendRecord.reason`: e.g. the ``toeplitz`` path's C banded T×T
    matrices beyond its ``memory_bound``; not run)."""
    from mfpsn.bench.timing import interleaved_ms

    C = min(N, 64)
    B = math.ceil(N / C)
    train = mode == MODES[1]
    out: dict[str, list[Timing | None]] = {name: [] for name in names}
    gen = torch.Generator().manual_seed(0)
    for i, T in enumerate(T_values):
        if progress is not None:
            progress(i / len(T_values), f"T = {T}: {len(names)} contenders, {repeats} rounds")
        x = torch.randn(T, B, C, generator=gen).to(device)
        peers = {p.name: p.build for p in _peers()}
        runs = {}
        for name in names:
            if name.startswith("MFPSN (") and _backend_reason(name, x) is not None:
                continue   # the backend record says it cannot run this input (e.g. toeplitz's C·T² bound)
            if name in peers:   # the benchmark's closures: forward under no_grad, or forward + backward(ones)
                fwd, fwdbwd = peers[name](x, torch.ones_like(x), None, dilation)
                runs[name] = fwdbwd if train else fwd
            else:
                runs[name] = _runner(_make_neuron(name, C, order, dilation).to(device), x, train)
        ms = interleaved_ms(runs, device, repeats, warmup=WARMUP)
        for name in names:
            out[name].append(summarise(ms[name]) if name in ms else None)
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


def _cell(t: Timing | None) -> str:
    return "not run (T×T too large)" if t is None else f"{t.median:.3f} ms ({t.low:.3f}–{t.high:.3f})"


def _table(T_values: list[int], times: dict[str, list[Timing | None]]) -> str:
    head = "| contender: median (min–max) | " + " | ".join(f"T = {t}" for t in T_values) + " |\n"
    head += "|---|" + "---|" * len(T_values) + "\n"
    return head + "\n".join(f"| {name} | " + " | ".join(_cell(c) for c in cells) + " |"
                            for name, cells in times.items())


def _load() -> str:
    import os

    return "load average {:.1f} / {:.1f} / {:.1f} over 1 / 5 / 15 min".format(*os.getloadavg())


def _machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    from mfpsn.bench.timing import machine_facts

    facts = machine_facts(device)
    return f"{facts['cpu']}, {facts['cpu_count']} cores, {torch.get_num_threads()} torch threads"


def export(rows: list[dict], meta: dict) -> list[str]:
    """The race's table written as ``speed_race.json`` (``meta`` and the rows) and ``speed_race.csv`` in a new
    temporary folder (Gradio serves and later sweeps them); their paths."""
    import csv
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="mfpsn-race-"))
    (folder / "speed_race.json").write_text(json.dumps({**meta, "rows": rows}, indent=1) + "\n")
    with open(folder / "speed_race.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return [str(folder / "speed_race.json"), str(folder / "speed_race.csv")]


def speed_race(T_text: str, N: float, order: float, dilation: float, names: list[str], mode: str, repeats: float,
               progress: gr.Progress = gr.Progress(), limits: Limits = LIMITS
               ) -> tuple[go.Figure, go.Figure, str, str, list[str], go.Figure]:
    """The ``speed_race`` endpoint: time the chosen contenders over the T values.

    Returns the time-against-T figure, the speed-up figure (over the fastest serial LIF raced), a Markdown
    summary (headline sentence, spread warning, table of medians with min–max), the device description and the
    table as JSON and CSV files (:func:`mfpsn.app.race_stats.result_rows`), and the log–log throughput figure with
    each contender's fitted slope over T."""
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
    check_budget("speed race", race_cost_s(T_values, N, order, names, mode == MODES[1], repeats, WARMUP),
                 limits.race_max_seconds, "s", "lower the T values, N, the repeats or the contenders")
    load_before = _load()
    times = race(T_values, N, order, dilation, names, mode, repeats, device,
                 progress=lambda f, d: progress(f, desc=d))
    load_after = _load()
    n_real = math.ceil(N / min(N, 64)) * min(N, 64)
    note = f"N rounded up to {n_real} (B × C with C = {min(N, 64)}). " if n_real != N else ""
    warning = spread_warning(T_values, times, load_after)
    md = (headline(T_values, times, n_real, _machine(device)) + "\n\n" + (warning + "\n\n" if warning else "")
          + f"{note}k = {order}, d = {dilation}, {repeats} repeats per contender taken round-robin after "
          f"{WARMUP} warm-up rounds, float32. Machine load: {load_before} before, {load_after} after.\n\n"
          + _table(T_values, times))
    meta = {"machine": _machine(device), "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "mode": mode, "k": order, "d": dilation, "warmup_rounds": WARMUP, "load_before": load_before,
            "load_after": load_after, "versions": _versions()}
    return (figures_race.time_figure(T_values, times, n_real, mode, repeats),
            figures_race.speedup_figure(T_values, times, fastest(times, "LIF")), md, device_markdown(device),
            export(result_rows(T_values, times, n_real), meta),
            figures_race.throughput_figure(T_values, times, n_real))


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
            fig.update_xaxes(log_axis(f"{what} time (ms) at T = {t}"), row=j, col=1)
            continue
        for label, pts in by_impl.items():
            pts.sort()
            fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                                     name=label, legendgroup=label, showlegend=j == 1), row=j, col=1)
        ts = sorted({t for pts in by_impl.values() for t, _ in pts})
        fig.update_xaxes(type="log", title_text="T", tickvals=ts, ticktext=[str(t) for t in ts], row=j, col=1)
        fig.update_yaxes(log_axis(f"{key} (ms)"), row=j, col=1)
    fig.update_layout(title="recorded benchmark results (from results/)", height=120 + 360 * len(shown),
                      **BASE_LAYOUT)
    return style(fig)


def recorded_view(root: Path = RESULTS_DIR) -> tuple[str, go.Figure]:
    """(list of recorded result files, their figure) for the speed-race tab."""
    records = load_recorded(root)
    return recorded_markdown(records), recorded_figure(records)


def recorded_scaling(root: Path = RESULTS_DIR) -> go.Figure:
    """The recorded scaling runs (``results/<kind>/scaling_*.json``, written by ``results/cpu/run_scaling.sh``, read
    by :func:`load_recorded`) as :func:`mfpsn.app.figures_race.scaling_figure`; GPU files are preferred to CPU ones
    when both exist."""
    records = [r for r in load_recorded(root) if Path(r["path"]).name.startswith("scaling_")]
    for kind in ("gpu", "cpu"):
        mine = [r for r in records if r["kind"] == kind]
        if mine:
            machine = f"{mine[0]['machine']}, {mine[0]['date'][:10]}"
            return figures_race.scaling_figure([row for r in mine for row in r["rows"]], machine)
    return figures_race.scaling_figure([], "")
