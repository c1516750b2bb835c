"""``python -m mfpsn.bench.net_step``: one training step of a whole network for every neuron, on the CPU (or any
device), subjects interleaved; issue 14's network benchmark.

A step is ``zero_grad; loss = cross_entropy(model(x), y, label_smoothing=0.1); loss.backward(); AdamW.step()`` on
the feed-forward sequence net of the sMNIST experiments (:class:`mfpsn.models.SeqFCNet`: ``{FC(128) - BN -
neuron} × 4 - FC(10)``, logits the readout's mean over T), float32, with random input and labels (seeded). Shapes:

- ``smnist``: ``x: [784, 64, 1]`` (one pixel per step, batch 64);
- ``rows``: ``x: [32, 64, 28]`` (row-sequential: one 28-pixel row per step; the short-T case).

Subjects: every neuron of :data:`mfpsn.neurons.registry.NEURONS` with its defaults (``mfpsn``: order 8, sawtooth
dilations, ``backend="auto"``; ``lif``/``plif``: ``backend="loop"``), the fused C++ LIF (``backend="fused"``, where a
C++ compiler is on PATH) and, with ``--peers`` where installed, SpikingJelly's ``LIFNode`` and ``PSN`` (torch
backend) in the same network (Linear - BatchNorm1d - neuron; state reset after every step). A subject that
cannot run here is reported as skipped with the reason, never estimated.

Protocol: ``--warmup`` untimed steps of each subject, then ``--repeats`` rounds, one timed step of every subject
per round (round-robin, so all see the same background load), each right after ``--settle`` untimed ones; min, upper median and max per subject; machine
facts and load with the results. The verdict line checks issue 14's short-T target (the MFPSN step no slower than
PSN's at T = 32) from the measured rows only.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from mfpsn.bench.timing import interleaved_ms, machine_facts
from mfpsn.functional import native

__all__ = ["SHAPES", "MFPSN_ROW", "NetSubject", "NetRow", "subjects", "run", "verdicts", "main"]

SHAPES = {"smnist": (784, 64, 1), "rows": (32, 64, 28)}  # (T, B, in_features)
HIDDEN, LAYERS, CLASSES = 128, 4, 10
MFPSN_ROW = "MFPSN k=8 (auto)"


@dataclass(frozen=True)
class NetSubject:
    """name: the row's label; build(T, in_features) -> the model (raises on 'cannot run here'); reset: called
    after every step (stateful peers)."""

    name: str
    build: Callable[[int, int], nn.Module]
    reset: Callable[[nn.Module], None] | None = None


@dataclass
class NetRow:
    name: str
    shape: str
    T: int
    batch: int
    in_features: int
    times_ms: list[float] = field(default_factory=list)
    median_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    params: int | None = None
    error: str | None = None


def _ours(neuron: str, options: dict | None = None, order: int = 8) -> Callable[[int, int], nn.Module]:
    def build(T: int, in_features: int) -> nn.Module:
        from mfpsn.models import build_model

        return build_model({"arch": "seq_fc_net", "in_features": in_features, "num_classes": CLASSES, "T": T,
                            "hidden": HIDDEN, "n_layers": LAYERS, "neuron": neuron, "order": order,
                            "neuron_options": dict(options or {})})
    return build


class _PeerNet(nn.Module):
    """The SeqFCNet layout around a peer library's multi-step neuron: x [T, B, F] → logits [B, classes]."""

    def __init__(self, in_features: int, make_neuron: Callable[[], nn.Module]) -> None:
        super().__init__()
        widths = [in_features] + [HIDDEN] * LAYERS
        self.fcs = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(HIDDEN) for _ in range(LAYERS))
        self.neurons = nn.ModuleList(make_neuron() for _ in range(LAYERS))
        self.readout = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B = x.shape[:2]
        y = x.flatten(0, 1)
        for fc, norm, neuron in zip(self.fcs, self.norms, self.neurons):
            y = neuron(norm(fc(y)).unflatten(0, (T, B))).flatten(0, 1)
        return self.readout(y).unflatten(0, (T, B)).mean(0)


def _spikingjelly(kind: str) -> Callable[[int, int], nn.Module]:
    def build(T: int, in_features: int) -> nn.Module:
        try:
            from spikingjelly.activation_based import neuron, surrogate
        except ImportError as err:
            raise RuntimeError(f"spikingjelly is not installed ({err})") from err
        if kind == "lif":
            return _PeerNet(in_features, lambda: neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(),
                                                                detach_reset=True, step_mode="m"))
        return _PeerNet(in_features, lambda: neuron.PSN(T=T, surrogate_function=surrogate.ATan()))
    return build


def _sj_reset(model: nn.Module) -> None:
    from spikingjelly.activation_based import functional

    functional.reset_net(model)


def _fused_lif(T: int, in_features: int) -> nn.Module:
    native.compiler("LIF backend='fused'")   # RuntimeError naming $CXX when there is none
    return _ours("lif", {"backend": "fused"})(T, in_features)


def subjects(peers: bool) -> list[NetSubject]:
    """Every registry neuron with its defaults, the fused C++ LIF, and the peers when asked."""
    out = [NetSubject(MFPSN_ROW, _ours("mfpsn")), NetSubject("LIF loop", _ours("lif")),
           NetSubject("LIF fused CPU", _fused_lif), NetSubject("PLIF loop", _ours("plif")),
           NetSubject("PSN", _ours("psn")), NetSubject("MaskedPSN k=8", _ours("masked_psn")),
           NetSubject("SlidingPSN k=8", _ours("sliding_psn"))]
    if peers:
        out += [NetSubject("SpikingJelly LIFNode", _spikingjelly("lif"), _sj_reset),
                NetSubject("SpikingJelly PSN", _spikingjelly("psn"), _sj_reset)]
    return out


def _step_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor, reset) -> Callable[[], None]:
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y, label_smoothing=0.1).backward()
        opt.step()
        if reset is not None:
            reset(model)
    return step


def _error_text(err: Exception) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0][:300]


def run(shape: str, subject_list: list[NetSubject], warmup: int = 2, repeats: int = 5,
        device: torch.device = torch.device("cpu"), progress: bool = True, settle: int = 1) -> list[NetRow]:
    """Time every subject's training step on ``SHAPES[shape]``, interleaved (``settle`` untimed steps of a subject
    right before each of its timed ones; :func:`mfpsn.bench.timing.interleaved_ms`). Rows keep every time."""
    T, B, Fin = SHAPES[shape]
    gen = torch.Generator().manual_seed(T)
    x = torch.rand(T, B, Fin, generator=gen).to(device)
    y = torch.randint(0, CLASSES, (B,), generator=gen).to(device)
    rows, steps = [], {}
    for s in subject_list:
        row = NetRow(s.name, shape, T, B, Fin)
        rows.append(row)
        try:
            torch.manual_seed(0)
            model = s.build(T, Fin).to(device)
            row.params = sum(p.numel() for p in model.parameters())
            steps[s.name] = _step_fn(model, x, y, s.reset)
        except Exception as err:  # noqa: BLE001 - this subject cannot run here: say why, time the others
            row.error = _error_text(err)
    by_name = {r.name: r for r in rows}

    def on_error(name: str, err: Exception) -> None:   # recorded, never filled in
        by_name[name].error = _error_text(err)

    total = (warmup + repeats * (1 + settle)) * len(steps)
    with tqdm(total=total, desc=f"net step {shape} T={T}", unit="step", disable=not progress) as bar:
        times = interleaved_ms(steps, device, repeats, warmup=warmup, on_error=on_error, settle=settle,
                               on_call=lambda: bar.update(1))
    for name, ts in times.items():
        by_name[name].times_ms = [round(t, 3) for t in ts]
    for r in rows:
        if r.times_ms and r.error is None:
            ts = sorted(r.times_ms)
            r.median_ms, r.min_ms, r.max_ms = ts[len(ts) // 2], ts[0], ts[-1]
        else:
            r.times_ms = []
    return rows


def verdicts(rows: list[NetRow]) -> list[str]:
    """Issue 14's short-T target (MFPSN step ≤ PSN step at T = 32) and MFPSN against every other row, measured."""
    out = []
    for shape in dict.fromkeys(r.shape for r in rows):
        cell = {r.name: r for r in rows if r.shape == shape}
        m = cell.get(MFPSN_ROW)
        if m is None or m.median_ms is None:
            out.append(f"{shape}: MFPSN not measured ({m.error if m else 'no row'})")
            continue
        for name, r in cell.items():
            if name == m.name or r.median_ms is None:
                continue
            out.append(f"{shape} (T={r.T}): {name} / MFPSN = {r.median_ms / m.median_ms:.2f} ({r.median_ms:.1f} / "
                       f"{m.median_ms:.1f} ms; above 1: MFPSN's step is faster)")
        psn = cell.get("PSN")
        if m.T == 32 and psn is not None and psn.median_ms is not None:
            ratio = m.median_ms / psn.median_ms
            out.append(f"{shape} (T=32): MFPSN / PSN step = {ratio:.2f} (issue 14 target ≤ 1.0: "
                       f"{'met' if ratio <= 1.0 else 'MISSED'}; the paper's implementation 1.25–2.4×, published)")
    return out


def markdown(rows: list[NetRow], facts: dict) -> str:
    lines = [f"Network training step (SeqFCNet 4×{HIDDEN}, AdamW), {facts['date_utc']}, {facts['cpu']}, "
             f"{facts['torch_threads']} threads, torch {facts['torch']}, load {facts['loadavg_1_5_15']}", "",
             "| shape | subject | median ms (min–max) | params |", "|---|---|---|---|"]
    for r in rows:
        cell = (f"{r.median_ms:.1f} ({r.min_ms:.1f}–{r.max_ms:.1f})" if r.median_ms is not None
                else f"skipped: {r.error}")
        lines.append(f"| {r.shape} [{r.T}, {r.batch}, {r.in_features}] | {r.name} | {cell} | {r.params or '—'} |")
    return "\n".join(lines + [""] + [f"- {v}" for v in verdicts(rows)]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mfpsn.bench.net_step", description=__doc__.split("\n")[0])
    p.add_argument("--shape", nargs="+", choices=sorted(SHAPES), default=["smnist", "rows"])
    p.add_argument("--peers", action="store_true", help="also SpikingJelly's LIFNode and PSN where installed")
    p.add_argument("--skip", nargs="*", default=[], metavar="NAME", help="leave out subjects with these names")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--settle", type=int, default=1, help="untimed steps of a subject right before each timed one")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--markdown", type=Path, default=None)
    a = p.parse_args(argv)
    if a.threads is not None:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    chosen = [s for s in subjects(a.peers) if s.name not in set(a.skip)]
    facts_before = machine_facts(device)
    rows = [r for shape in a.shape for r in run(shape, chosen, a.warmup, a.repeats, device, settle=a.settle)]
    facts = {**facts_before, "loadavg_after": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    text = markdown(rows, facts)
    print(text)
    if a.json:
        a.json.write_text(json.dumps({"machine": facts, "rows": [asdict(r) for r in rows],
                                      "verdicts": verdicts(rows)}, indent=1) + "\n")
    if a.markdown:
        a.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
