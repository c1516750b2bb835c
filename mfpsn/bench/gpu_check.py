"""One GPU check: the GPU kernel tests, then the speed sweep of the perf anchors, beside the copy floor.

``python -m mfpsn.bench.gpu_check`` (or ``python -m mfpsn.bench --gpu-check``) on a CUDA machine:

1. runs ``pytest -m cuda tests/test_kernels_cuda.py`` (the GPU-only tests: autotuned path, bfloat16,
   determinism, inductor) with a 90 s limit; the small-shape equivalence tests of ``tests/test_kernels.py``
   also run on CUDA, but compile many kernel variants, so run them separately (``pytest tests/test_kernels.py``);
2. times, at 2^26 float32 values (C = 128; T ∈ {16, 64, 256, 1024}, B = 2^26 / (T·C); k = 8, d = 2),
   forward and forward+backward of: tensor copy (the floor), MFPSN Triton (fused filter + threshold +
   spike), conv1d, shift_add and toeplitz (each + ATan spike, θ = 1), LIF Python loop, LIF fused kernel,
   PSN, SlidingPSN (gemm) and the MFPSN training layer (BatchNorm threshold from lagged moments), the last
   three via :mod:`mfpsn.neurons` when it imports;
3. times one full training step (forward, cross-entropy, backward, AdamW step; float32, no AMP) of the
   sequential-image network of neuron spec §6 (``seq_image_net``: T = 32, batch 128, width 128, k = 16) with
   MFPSN ``backend="triton"``, MFPSN ``backend="auto"`` and PSN (:mod:`mfpsn.bench.train_step`), against issue 3's
   target MFPSN / PSN ≤ 1.0 (the paper's implementation: 1.25–2.4×);
4. prints the target checks, then the table with ratios to the copy floor (last), and writes JSON with the
   card, versions and date under ``results/gpu/``.

Timing recipe (perf-anchors.md): inputs ``x = rand·1.5`` (requires grad) and ``gy = rand``, shared by every row
at one T; forward under ``no_grad``; forward+backward ``x.grad = None; f().backward(gy)``; two untimed warm-ups,
then 10 runs each between two CUDA events followed by a synchronize; the upper median (sorted element 5);
``empty_cache`` between rows. A row that fails (out of memory, missing module, ...) is printed and recorded with
its error; no number is ever filled in. Rows left when the time budget runs out are recorded as skipped. The
budget (``--budget``) covers the sweep and the training steps together, with ``--step-reserve`` seconds of it kept
for the training steps, and is cut so the whole check ends within ``TOTAL_S`` seconds of its start.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from mfpsn.bench.train_step import StepRow, step_verdicts, time_train_steps
from mfpsn.timer import median_ms

__all__ = ["main", "sweep", "Row", "format_table", "target_checks", "write_report", "run_tests"]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "results" / "gpu"
TEST_FILES = ("tests/test_kernels_cuda.py",)
TOTAL_S = 170.0          # the whole check, tests included, stays under 3 minutes; rows past it are skipped


@dataclass
class Row:
    """One cell of the sweep: times in ms (None when the row did not run), error text when it failed."""

    impl: str
    T: int
    N: int
    fwd_ms: float | None = None
    fwdbwd_ms: float | None = None
    fwd_GBs: float | None = None
    error: str | None = None
    note: str = ""


@dataclass
class _Case:
    """Inputs shared by every implementation at one T."""

    x: torch.Tensor                  # [T, B, C] float32, requires grad
    gy: torch.Tensor                 # [T, B, C]
    taps: torch.Tensor               # [C, k] ±2^e, requires grad
    theta: torch.Tensor              # [C] ones, requires grad
    dilation: int
    params: list[torch.Tensor] = field(default_factory=list)


def _pow2_taps(C: int, k: int, device: torch.device) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    exps = torch.randint(-4, 1, (C, k), generator=g)
    signs = torch.where(torch.rand(C, k, generator=g) < 0.5, -1.0, 1.0)
    return (signs * torch.exp2(exps.float())).to(device)


def _implementations(case: _Case) -> list[tuple[str, Callable[[], Callable[[], torch.Tensor]]]]:
    """(name, builder) pairs; a builder returns f() → y, or raises when the implementation is unavailable."""
    from mfpsn.functional.filter import filter_conv1d, filter_shift_add, filter_toeplitz
    from mfpsn.functional.surrogate import ATan

    x, d = case.x, case.dilation
    atan = ATan()

    def copy():
        return lambda: x * 1.0

    def mfpsn_triton():
        from mfpsn.kernels import fused_mfpsn_spikes

        return lambda: fused_mfpsn_spikes(x, case.taps, case.theta, d, atan)

    def with_filter(filt):
        def build():
            return lambda: atan(filt(x, case.taps, d) - 1.0)
        return build

    def toeplitz():
        T, C = x.shape[0], x.shape[2]
        need = 4 * (C * T * T + 3 * x.numel())          # banded matrices + input/output copies, float32
        free = torch.cuda.mem_get_info(x.device)[0] if x.is_cuda else math.inf
        if need > 0.8 * free:
            raise MemoryError(f"toeplitz needs about {need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free")
        return with_filter(filter_toeplitz)()

    def lif_loop():
        from mfpsn.neurons import LIF

        neuron = LIF(tau=2.0, v_th=1.0, v_reset=0.0, detach_reset=True, surrogate="atan", backend="loop").to(x.device)
        return lambda: neuron(x)

    def lif_fused():
        from mfpsn.kernels import fused_lif

        return lambda: fused_lif(x, 2.0, 1.0, 0.0, True, atan)

    def psn():
        from mfpsn.neurons import PSN

        neuron = PSN(x.shape[0]).to(x.device)
        case.params.extend(neuron.parameters())
        return lambda: neuron(x)

    def sliding():
        from mfpsn.neurons import SlidingPSN

        neuron = SlidingPSN(8, backend="gemm").to(x.device)
        case.params.extend(neuron.parameters())
        return lambda: neuron(x)

    def mfpsn_layer():
        from mfpsn.neurons import MFPSN

        neuron = MFPSN(x.shape[2], 8, d, backend="triton", stats="moments").to(x.device).train()
        case.params.extend(neuron.parameters())
        return lambda: neuron(x)

    return [("copy (floor)", copy), ("MFPSN triton", mfpsn_triton), ("conv1d", with_filter(filter_conv1d)),
            ("shift_add", with_filter(filter_shift_add)), ("toeplitz", toeplitz), ("LIF Python loop", lif_loop),
            ("LIF fused kernel", lif_fused), ("PSN", psn), ("SlidingPSN k8 (gemm)", sliding),
            ("MFPSN layer train (BN moments, triton)", mfpsn_layer)]


def _measure(name: str, build, case: _Case, warmup: int, runs: int, row: Row) -> None:
    f = build()
    x, gy = case.x, case.gy

    def forward() -> None:
        with torch.no_grad():
            f()

    def forward_backward() -> None:
        x.grad = None
        for p in case.params:
            p.grad = None
        f().backward(gy)

    row.fwd_ms = median_ms(forward, runs, warmup=warmup, device=x.device)
    row.fwd_GBs = 2 * x.element_size() * x.numel() / (row.fwd_ms * 1e-3) / 1e9
    row.fwdbwd_ms = median_ms(forward_backward, runs, warmup=warmup, device=x.device)


def sweep(device: torch.device, total: int = 1 << 26, channels: int = 128, timesteps=(16, 64, 256, 1024),
          order: int = 8, dilation: int = 2, warmup: int = 2, runs: int = 10, budget_s: float = 120.0,
          log=print) -> list[Row]:
    """Time every implementation at every T; returns the rows (failed and skipped rows carry ``error``)."""
    rows: list[Row] = []
    deadline = time.monotonic() + budget_s
    for T in timesteps:
        B = total // (T * channels)
        if B < 1:
            log(f"T = {T}: total {total} values is less than T·C = {T * channels}; skipped")
            continue
        gen = torch.Generator().manual_seed(T)
        x = (torch.rand(T, B, channels, generator=gen) * 1.5).to(device).requires_grad_()
        gy = torch.rand(T, B, channels, generator=gen).to(device)
        case = _Case(x, gy, _pow2_taps(channels, order, device).requires_grad_(),
                     torch.ones(channels, device=device, requires_grad=True), dilation)
        for name, build in _implementations(case):
            row = Row(name, T, B * channels)
            rows.append(row)
            case.params.clear()
            case.params.extend([case.taps, case.theta])
            if time.monotonic() > deadline:
                row.error = "skipped: time budget spent"
                continue
            try:
                _measure(name, build, case, warmup, runs, row)
                log(f"T = {T:5d}  {name:40s} {row.fwd_ms:9.3f} / {row.fwdbwd_ms:9.3f} ms")
            except Exception as err:  # one failing row must not stop the sweep; it is recorded, never filled in
                row.fwd_ms = row.fwdbwd_ms = row.fwd_GBs = None
                row.error = f"{type(err).__name__}: {err}".splitlines()[0][:300]
                log(f"T = {T:5d}  {name:40s} FAILED {row.error}")
            finally:
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        del x, gy, case
    return rows


def _floor(rows: list[Row], T: int) -> Row | None:
    return next((r for r in rows if r.T == T and r.impl == "copy (floor)" and r.fwd_ms is not None), None)


def _cell(row: Row | None, floor: Row | None) -> str:
    if row is None:
        return "-"
    if row.fwd_ms is None:
        return "skipped" if (row.error or "").startswith("skipped") else "FAILED"
    text = f"{row.fwd_ms:.3f} / {row.fwdbwd_ms:.3f}"
    if floor is not None:
        text += f" ({row.fwd_ms / floor.fwd_ms:.1f}× / {row.fwdbwd_ms / floor.fwdbwd_ms:.1f}×)"
    return text


def format_table(rows: list[Row]) -> str:
    """Markdown table: forward / forward+backward ms and (ratio to the copy floor)."""
    Ts = sorted({r.T for r in rows})
    names = list(dict.fromkeys(r.impl for r in rows))
    lines = ["| implementation | " + " | ".join(f"T = {T}" for T in Ts) + " |",
             "|---|" + "---|" * len(Ts)]
    for name in names:
        cells = [_cell(next((r for r in rows if r.T == T and r.impl == name), None), _floor(rows, T)) for T in Ts]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target_checks(rows: list[Row]) -> list[str]:
    """The issue's targets, judged only from measured rows (a missing row gives 'not measured')."""
    out = []

    def get(name, T):
        return next((r for r in rows if r.impl == name and r.T == T and r.fwd_ms is not None), None)

    for T in sorted({r.T for r in rows}):
        floor, mf, lif, loop = get("copy (floor)", T), get("MFPSN triton", T), get("LIF fused kernel", T), \
            get("LIF Python loop", T)
        if floor is None or mf is None:
            out.append(f"T = {T}: not measured (copy or MFPSN triton row missing)")
            continue
        fwd = mf.fwd_ms / floor.fwd_ms
        fb = mf.fwdbwd_ms / floor.fwd_ms
        line = (f"T = {T}: MFPSN fwd {fwd:.2f}× floor (target ≤ 1.5: {'met' if fwd <= 1.5 else 'MISSED'}); "
                f"fwd+bwd {fb:.2f}× fwd floor (target ≤ 4: {'met' if fb <= 4 else 'MISSED'})")
        if lif is not None:
            line += f"; vs fused LIF fwd+bwd {lif.fwdbwd_ms / mf.fwdbwd_ms:.2f}× faster"
        if loop is not None:
            line += f"; vs Python LIF fwd {loop.fwd_ms / mf.fwd_ms:.1f}× faster"
        out.append(line)
    return out


def _versions() -> dict:
    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
            "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    if torch.cuda.is_available():
        info["card"] = torch.cuda.get_device_name()
    return info


def _copy_probe_GBs(device: torch.device) -> float:
    """b.copy_(a) on 2^28 float32 values: 2·4·2^28 bytes / time."""
    a = torch.empty(1 << 28, device=device)
    b = torch.empty_like(a)
    ms = median_ms(lambda: b.copy_(a), 10, warmup=2, device=device)
    del a, b
    torch.cuda.empty_cache()
    return 2 * 4 * (1 << 28) / (ms * 1e-3) / 1e9


def run_tests(timeout_s: int = 90) -> dict:
    """pytest -m cuda on the GPU kernel tests in a child process.

    Returns ``{"status": "passed" | "failed" | "timeout" | "not found", "returncode", "summary"}``.
    """
    files = [f for f in TEST_FILES if (ROOT / f).exists()]
    if not files:
        return {"status": "not found", "returncode": None,
                "summary": "test files not found next to the package; tests not run"}
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    try:
        cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-m", "cuda", *files]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "returncode": None, "summary": f"tests did not finish within {timeout_s} s"}
    tail = (done.stdout + done.stderr).strip().splitlines()
    return {"status": "passed" if done.returncode == 0 else "failed", "returncode": done.returncode,
            "summary": "\n".join(tail[-15:])}


def write_report(out_dir: Path, info: dict, rows: list[Row], step_rows: list[StepRow] = ()) -> Path:
    """Write ``info``, the rows and the training-step rows (key ``train_step_rows``) as JSON to
    ``out_dir/gpu_check_<card>_<date>.json``; returns the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    slug = "".join(ch if ch.isalnum() else "_" for ch in info.get("card") or "no_card").strip("_").lower()
    path = out_dir / f"gpu_check_{slug}_{info['date_utc'][:10]}.json"
    data = {**info, "rows": [asdict(r) for r in rows], "train_step_rows": [asdict(r) for r in step_rows]}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the GPU check; returns the exit status (2 without CUDA, 1 when the tests failed)."""
    parser = argparse.ArgumentParser(prog="python -m mfpsn.bench.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON result")
    parser.add_argument("--skip-tests", action="store_true", help="time only")
    parser.add_argument("--timesteps", type=int, nargs="+", default=[16, 64, 256, 1024])
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds for the sweep and the training steps before skipping rows")
    parser.add_argument("--step-reserve", type=float, default=30.0,
                        help="seconds of --budget kept for the training steps (the sweep stops before them)")
    # `python -m mfpsn.bench --gpu-check` calls main() with that flag still in sys.argv: accept it silently.
    parser.add_argument("--gpu-check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device is visible; nothing was run and nothing was written "
              "(run it on a machine with an NVIDIA GPU, torch with CUDA and triton)")
        return 2
    if os.environ.get("TRITON_INTERPRET") == "1":
        print("gpu_check: TRITON_INTERPRET=1 is set; unset it so the compiled kernels are timed")
        return 2
    torch.set_grad_enabled(True)
    started = time.monotonic()
    device = torch.device("cuda")
    info = _versions()
    print(f"gpu_check on {info.get('card')} (torch {info['torch']}, CUDA {info['cuda']}, triton {info['triton']})")
    tests = {"status": "skipped", "returncode": None, "summary": "skipped (--skip-tests)"}
    if not args.skip_tests:
        tests = run_tests()
        print(f"tests {tests['status']}:", (tests["summary"].splitlines() or ["(no output)"])[-1])
    copy_GBs = _copy_probe_GBs(device)
    budget = min(args.budget, TOTAL_S - (time.monotonic() - started))
    end = time.monotonic() + budget
    rows = sweep(device, timesteps=tuple(args.timesteps), budget_s=budget - min(args.step_reserve, budget))
    step_rows = time_train_steps(device, deadline=end)
    info.update(copy_probe_GBs=copy_GBs, wall_s=round(time.monotonic() - started, 1), tests=tests,
                setup={"total_values": 1 << 26, "C": 128, "k": 8, "d": 2, "dtype": "float32", "runs": 10,
                       "warmup": 2, "statistic": "upper median of 10 (sorted element 5), CUDA events"},
                train_step_setup={"arch": "seq_image_net", "T": 32, "batch": 128, "width": 128, "fc_width": 256,
                                  "k": 16, "dtype": "float32", "amp": False, "optimizer": "AdamW lr 1e-3 wd 0",
                                  "loss": "cross-entropy, label smoothing 0.1", "warmup": 3, "runs": 5,
                                  "statistic": "upper median of 5, CUDA events",
                                  "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                                  "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32})
    path = write_report(args.out, info, rows, step_rows)
    print(f"\ncopy probe: {copy_GBs:.0f} GB/s; wrote {path}")
    for line in target_checks(rows) + step_verdicts(step_rows):
        print(line)
    for r in rows:
        if r.error:
            print(f"not measured: T = {r.T} {r.impl}: {r.error}")
    for s in step_rows:
        if s.error:
            print(f"not measured: train step T = {s.T} {s.impl}: {s.error}")
    print(f"\nforward / forward+backward, ms (ratio to the copy floor), {info.get('card')}, 2^26 float32 values, "
          f"C = 128, k = 8, d = 2\n")
    print(format_table(rows))
    return 1 if tests["status"] in ("failed", "timeout") else 0


if __name__ == "__main__":
    raise SystemExit(main())
