"""Time one training step of the sequential-image network (neuron spec §6) per neuron type; issue 3's last target.

A step is ``zero_grad; loss = cross_entropy(model(x), y, label_smoothing=0.1); loss.backward(); AdamW.step()``
on :class:`mfpsn.models.SeqImageNet` built through :func:`mfpsn.models.build_model`, with random input
``x: [T, B, in_channels, length]`` (``rand``) and random labels ``y: [B]``, float32, no AMP. The timing is the upper
median of ``runs`` timed steps after ``warmup`` untimed ones (:func:`mfpsn.timer.elapsed_ms`: CUDA events on CUDA,
``perf_counter`` elsewhere, the latter only for smoke runs). Device-agnostic: the CPU tests run it on tiny widths through the Triton interpreter.

Target (issue 3): MFPSN step time ≤ PSN step time at T = 32. The paper's own implementation was 1.25–2.4× slower
than PSN (a published reference, not measured here).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch.nn import functional as F

from mfpsn.timer import median_ms

__all__ = ["StepRow", "STEP_CONFIGS", "PAPER_RATIO", "train_step_fn", "time_train_steps", "step_verdicts"]

PAPER_RATIO = (1.25, 2.4)
# (row name, neuron kind, MFPSN backend or None)
STEP_CONFIGS = (("MFPSN triton", "mfpsn", "triton"), ("MFPSN auto", "mfpsn", "auto"), ("PSN", "psn", None))


@dataclass
class StepRow:
    """One training-step measurement: ms per step (None when not measured), error text when failed or skipped."""

    impl: str
    neuron: str
    T: int
    batch: int
    width: int
    order: int
    step_ms: float | None = None
    error: str | None = None
    note: str = ""


def train_step_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    """A closure doing one full AdamW training step of ``model`` on ``x: [T, B, C, L]``, ``y: [B]`` (int64).

    AdamW with lr 1e-3 and weight decay 0, cross-entropy with label smoothing 0.1 (spec §6, sequential CIFAR).
    """
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
    return step


def time_train_steps(device: torch.device, *, T: int = 32,
                     batch: int = 128, in_channels: int = 3, length: int = 32, width: int = 128,
                     fc_width: int = 256, order: int = 16, num_classes: int = 10, warmup: int = 3, runs: int = 5,
                     configs=STEP_CONFIGS, deadline: float | None = None, log=print) -> list[StepRow]:
    """Time a training step of ``SeqImageNet`` for every ``(name, neuron, impl)`` in ``configs``.

    Each step is timed by :func:`mfpsn.timer.elapsed_ms` (CUDA events on CUDA). ``deadline`` (``time.monotonic()`` value): a
    config not started before it, or whose warm-up (which includes kernel compilation and ``backend="auto"``'s
    selection) ends after it, is recorded as skipped with the reason; a failing config is recorded with its
    error. No time is ever filled in. The paper's setting is T = 32, batch 128, width 128, fc 256, k = 16.
    """
    from mfpsn.models import build_model

    gen = torch.Generator().manual_seed(T)
    x = torch.rand(T, batch, in_channels, length, generator=gen).to(device)
    y = torch.randint(0, num_classes, (batch,), generator=gen).to(device)
    rows = []
    for name, neuron, impl in configs:
        row = StepRow(name, neuron, T, batch, width, order if neuron == "mfpsn" else 0)
        rows.append(row)
        if deadline is not None and time.monotonic() > deadline:
            row.error = "skipped: time budget spent before this row"
            log(f"train step T = {T} {name:14s} {row.error}")
            continue
        config = {"arch": "seq_image_net", "num_classes": num_classes, "T": T, "in_channels": in_channels,
                  "length": length, "width": width, "fc_width": fc_width, "neuron": neuron, "order": order,
                  "neuron_options": {"backend": impl} if impl is not None else {}}
        row.note = f"build_model({config})"
        try:
            torch.manual_seed(0)
            step = train_step_fn(build_model(config).to(device), x, y)
            for _ in range(warmup):
                step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if deadline is not None and time.monotonic() > deadline:
                row.error = "skipped: time budget spent during warm-up (compilation / auto selection)"
                log(f"train step T = {T} {name:14s} {row.error}")
                continue
            row.step_ms = median_ms(step, runs, warmup=0, device=device)
            log(f"train step T = {T} {name:14s} {row.step_ms:9.3f} ms")
        except Exception as err:  # one failing config must not stop the others; recorded, never filled in
            row.step_ms = None
            row.error = f"{type(err).__name__}: {err}".splitlines()[0][:300]
            log(f"train step T = {T} {name:14s} FAILED {row.error}")
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def step_verdicts(rows: list[StepRow]) -> list[str]:
    """One line per MFPSN row: its step time over PSN's, judged against the target ≤ 1.0 (from measured rows only)."""
    psn = next((r for r in rows if r.neuron == "psn" and r.step_ms is not None), None)
    paper = f"the paper's implementation: {PAPER_RATIO[0]}–{PAPER_RATIO[1]}× PSN (published, not measured here)"
    out = []
    for r in rows:
        if r.neuron != "mfpsn":
            continue
        if r.step_ms is None or psn is None:
            why = r.error if r.step_ms is None else "PSN row not measured"
            out.append(f"train step T = {r.T}: {r.impl} / PSN not measured ({why})")
            continue
        ratio = r.step_ms / psn.step_ms
        out.append(f"train step T = {r.T}: {r.impl} {r.step_ms:.2f} ms / PSN {psn.step_ms:.2f} ms = {ratio:.2f}× "
                   f"(target ≤ 1.0: {'met' if ratio <= 1.0 else 'MISSED'}; {paper})")
    return out
