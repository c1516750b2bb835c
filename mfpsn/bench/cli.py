"""``python -m mfpsn.bench``: time forward and forward+backward of filters, the MFPSN neuron and baselines.

Legend: T time steps, N neurons per time step (N = B·C), C channels (default 128, as in the GPU anchors), k taps,
d dilation. Input ``x = 1.5·rand(T, B, C)``, upstream gradient ``gy = rand(T, B, C)``, taps ±2^e (e ∈ −4…0).

Example (the CPU speed targets of issue 2)::

    python -m mfpsn.bench --T 256 --N 1024 65536 --k 8 --d 2 --json results/cpu/bench.json

Before timing on the CPU the fused kernel is built or loaded explicitly and the time that took is printed and
stored (``--no-warmup`` leaves that to ``auto``, which does it on first need). ``--peers`` adds SpikingJelly's,
snnTorch's and norse's LIF where installed. Each cell is the upper median of ``--repeats`` interleaved runs, with
the min and max beside it; the load average at the start and the end is stored with the machine facts.
``--quick`` runs tiny shapes (a smoke test).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from mfpsn.bench.subjects import FILTER_DEFAULT, Unavailable, random_pow2_taps, subjects_for
from mfpsn.bench.timing import interleaved_ms, machine_facts
from mfpsn.timer import upper_median
from mfpsn.functional import fused_cpu
from mfpsn.backends import DEFAULT_SELECTOR, FILTER_BACKENDS

WARMUP = 2  # untimed rounds of every subject before the timed ones

__all__ = ["main", "build_parser", "run_sweep", "format_table"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mfpsn.bench", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, ...)")
    p.add_argument("--T", type=int, nargs="+", default=[256], help="time steps (one or more)")
    p.add_argument("--N", type=int, nargs="+", default=[1024, 65536], help="neurons per time step (one or more)")
    p.add_argument("--C", type=int, default=128, help="channels (N must be a multiple; C = N when N < C)")
    p.add_argument("--filter-backends", nargs="+", default=list(FILTER_DEFAULT), choices=FILTER_BACKENDS,
                   help="temporal_filter backends to time (one or more)")
    p.add_argument("--mfpsn-backends", nargs="*", default=["auto", "conv1d"], choices=FILTER_BACKENDS,
                   help="backend= of the MFPSN neuron rows (eval mode)")
    p.add_argument("--train-backends", nargs="*", default=["auto"], choices=FILTER_BACKENDS,
                   help="backend= of the MFPSN training-mode rows (forward+backward of the BN-threshold layer)")
    p.add_argument("--no-baselines", action="store_true",
                   help="leave out LIF fused CPU, LIF fused (Triton), PSN and SlidingPSN")
    p.add_argument("--peers", action="store_true",
                   help="also time SpikingJelly's LIFNode, snnTorch's Leaky and norse's LIF (where installed)")
    p.add_argument("--skip", nargs="*", default=[], metavar="NAME",
                   help="leave out the subjects with these exact row names (for example 'snnTorch Leaky')")
    p.add_argument("--no-warmup", action="store_true",
                   help="do not build/load the fused CPU kernel before timing (auto then does it on first need)")
    p.add_argument("--k", type=int, default=8, help="taps (order)")
    p.add_argument("--d", type=int, default=2, help="dilation")
    p.add_argument("--dtype", default="float32", choices=sorted(_DTYPES))
    p.add_argument("--repeats", type=int, default=7, help="timed runs per cell (median reported)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar (it goes to stderr, with an ETA)")
    p.add_argument("--settle", type=int, default=1,
                   help="untimed calls of a subject right before each timed one (0: strictly alternating)")
    p.add_argument("--forward-only", action="store_true", help="time the forward pass only (fwdbwd_ms null)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write machine facts and rows here")
    p.add_argument("--markdown", type=Path, default=None, metavar="PATH", help="write the table as markdown")
    p.add_argument("--quick", action="store_true", help="tiny shapes and few repeats (smoke test)")
    p.add_argument("--gpu-check", action="store_true", help="run mfpsn.bench.gpu_check.main() instead")
    p.add_argument("--events", action="store_true", help="run the event-file benchmark mfpsn.bench.events instead")
    return p


def _dispatch(module: str, what: str, argv: list[str]) -> int:
    if importlib.util.find_spec(module) is None:
        raise SystemExit(f"mfpsn.bench {what}: {module} is not available in this checkout "
                         f"(it has not landed yet); nothing was run")
    main = importlib.import_module(module).main
    code = main(argv)  # a list, even when empty: None would make its parser read sys.argv ("--events" itself)
    return int(code or 0)


def _sig(v: float | None, digits: int = 4) -> float | None:
    """v rounded to ``digits`` significant digits (None stays None)."""
    return None if v is None else float(f"{v:.{digits}g}")


def _auto_note(shape: tuple[int, ...], k: int, d: int) -> str:
    """What the default autoselector chose for this shape, k and d: 'op[+grad]→backend' per key."""
    parts = []
    for key, choice in DEFAULT_SELECTOR.report().items():
        if key[1] == shape and key[4] == k and key[5] == d:
            parts.append(f"{key[0]}{'+grad' if key[-1] else ''}→{choice.backend}")
    return "auto chose " + ", ".join(sorted(parts)) if parts else ""


def run_sweep(args: argparse.Namespace, log=print) -> dict:
    """Time every subject at every (T, N). Returns {"machine", "config", "rows", "skipped", "errors"}."""
    device = torch.device(args.device)
    dtype = _DTYPES[args.dtype]
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("mfpsn.bench: --device cuda requested but torch sees no CUDA device")
    result = {"machine": machine_facts(device), "config": {}, "rows": [], "skipped": [], "errors": []}
    if device.type == "cpu" and not getattr(args, "no_warmup", False):
        t0 = time.perf_counter()
        try:
            fused_cpu.warmup()
            result["config"]["fused_warmup_s"] = round(time.perf_counter() - t0, 3)
            log(f"fused CPU kernel ready ({time.perf_counter() - t0:.2f} s to build or load)")
        except RuntimeError as err:
            log(f"fused CPU kernel unavailable: {err}")
    result["config"].update({"T": args.T, "N": args.N, "C": args.C, "k": args.k, "d": args.d, "dtype": args.dtype,
                             "repeats": args.repeats, "settle": args.settle, "forward_only": args.forward_only,
                             "threads": torch.get_num_threads(), "filter_backends": args.filter_backends,
                             "mfpsn_backends": args.mfpsn_backends})
    subjects = subjects_for(args.filter_backends, args.mfpsn_backends, baselines=not args.no_baselines,
                            train_backends=tuple(getattr(args, "train_backends", ())), peers=getattr(args, "peers", False))
    subjects = [s for s in subjects if s.name not in set(getattr(args, "skip", ()))]
    gen = torch.Generator().manual_seed(0)
    # one tick per call; the total grows cell by cell (a cell's count is known once its subjects are built)
    bar = tqdm(total=0, desc="mfpsn.bench", unit="call", disable=not getattr(args, "progress", True))
    per_subject = WARMUP + args.repeats * (1 + args.settle)   # interleaved_ms's calls per subject
    for T in args.T:
        for N in args.N:
            C = min(args.C, N)
            if N % C:
                raise SystemExit(f"mfpsn.bench: expected N to be a multiple of C = {C}, found N = {N}")
            B = N // C
            x = (torch.rand(T, B, C, generator=gen, dtype=dtype) * 1.5).to(device)
            gy = torch.rand(T, B, C, generator=gen, dtype=dtype).to(device)
            taps = random_pow2_taps(C, args.k, gen, device, dtype)
            base = {"device": str(device), "T": T, "N": N}
            fwds, bwds = {}, {}
            for subject in subjects:
                try:
                    fwds[subject.name], fwdbwd = subject.build(x, gy, taps, args.d)
                except Unavailable as why:
                    result["skipped"].append({"impl": subject.name, **base, "reason": str(why)})
                    log(f"  skipped {subject.name} (T={T}, N={N}): {why}")
                    continue
                if fwdbwd is not None and not args.forward_only:
                    bwds[subject.name] = fwdbwd

            def on_error(name: str, err: Exception, T=T, N=N) -> None:
                result["errors"].append({"impl": name, **base, "error": f"{type(err).__name__}: {err}"})
                log(f"  ERROR {name} (T={T}, N={N}): {type(err).__name__}: {err}")

            log(f"  T={T} N={N}: timing {len(fwds)} forwards and {len(bwds)} forward+backwards, interleaved")
            bar.total += per_subject * (len(fwds) + len(bwds))
            bar.set_postfix_str(f"T={T} N={N}")
            bar.refresh()
            timing = dict(warmup=WARMUP, on_error=on_error, settle=args.settle, on_call=lambda: bar.update(1))
            fwd_times = interleaved_ms(fwds, device, args.repeats, **timing)
            bwd_times = interleaved_ms({n: f for n, f in bwds.items() if n in fwd_times}, device, args.repeats,
                                       **timing)
            del fwds, bwds
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
            nbytes = 2 * x.numel() * x.element_size()
            cell_rows = []
            for name, ft in fwd_times.items():
                fwd_ms = upper_median(ft)
                bt = bwd_times.get(name)
                row = {"impl": name, **base, "B": B, "C": C, "k": args.k, "d": args.d, "dtype": args.dtype,
                       "fwd_ms": _sig(fwd_ms), "fwdbwd_ms": _sig(upper_median(bt)) if bt else None,
                       "fwd_min_ms": _sig(min(ft)), "fwdbwd_min_ms": _sig(min(bt)) if bt else None,
                       "fwd_max_ms": _sig(max(ft)), "fwdbwd_max_ms": _sig(max(bt)) if bt else None,
                       "fwd_GBs": _sig(nbytes / (fwd_ms * 1e-3) / 1e9),
                       "note": _auto_note(tuple(x.shape), args.k, args.d) if name.endswith("auto") else ""}
                cell_rows.append(row)
            lif = next((r for r in cell_rows if r["impl"] == "LIF loop"), None)
            for row in cell_rows:
                row["speedup_fwd_vs_lif"] = None if lif is None else _sig(lif["fwd_ms"] / row["fwd_ms"])
                row["speedup_fwdbwd_vs_lif"] = (None if lif is None or row["fwdbwd_ms"] is None
                                                or lif["fwdbwd_ms"] is None
                                                else _sig(lif["fwdbwd_ms"] / row["fwdbwd_ms"]))
            result["rows"].extend(cell_rows)
    bar.close()
    if hasattr(os, "getloadavg"):
        result["machine"]["loadavg_end"] = list(os.getloadavg())
    return result


def _fmt(v, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def _spread(row: dict, key: str) -> str:
    """'median (min–max)' of a row's times in ms, '—' when not measured."""
    med = row.get(f"{key}_ms")
    if med is None:
        return "—"
    lo, hi = row.get(f"{key}_min_ms"), row.get(f"{key}_max_ms")
    return f"{med:.3f}" if lo is None or hi is None else f"{med:.3f} ({lo:.3g}–{hi:.3g})"


def format_table(rows: list[dict], markdown: bool = False) -> str:
    """The rows as an aligned text table (or a markdown table)."""
    head = ["impl", "T", "N", "fwd ms", "fwd+bwd ms", "fwd GB/s", "×LIF fwd", "×LIF fwd+bwd", "note"]
    body = [[r["impl"], str(r["T"]), str(r["N"]), _spread(r, "fwd"), _spread(r, "fwdbwd"),
             _fmt(r["fwd_GBs"], ".3g"), _fmt(r["speedup_fwd_vs_lif"], ".2f"),
             _fmt(r["speedup_fwdbwd_vs_lif"], ".2f"), r["note"]] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    fmt_row = lambda cells: "  ".join(c.ljust(w) if i in (0, 8) else c.rjust(w)  # noqa: E731
                                      for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt_row(head), fmt_row(["-" * w for w in widths])] + [fmt_row(b) for b in body])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.gpu_check:
        return _dispatch("mfpsn.bench.gpu_check", "--gpu-check", rest)
    if args.events:
        return _dispatch("mfpsn.bench.events", "--events", rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.quick:
        args.T, args.N, args.repeats = [12], [256], 3
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    for name, v in (("--k", args.k), ("--d", args.d), ("--repeats", args.repeats), ("--C", args.C)):
        if v < 1:
            parser.error(f"{name}: expected an int >= 1, found {v}")
    result = run_sweep(args, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(format_table(result["rows"]))
    for s in result["skipped"]:
        print(f"skipped: {s['impl']} (T={s['T']}, N={s['N']}): {s['reason']}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(format_table(result["rows"], markdown=True) + "\n", encoding="utf-8")
    return 1 if result["errors"] else 0
