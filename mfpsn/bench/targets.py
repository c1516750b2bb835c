"""Check the CPU speed targets of issue 2 against benchmark rows: ``python -m mfpsn.bench.targets RESULT.json ...``.

Targets (float32, k = 8, d = 2, ratios measured within one run):

- T = 256, N = 1,024: MFPSN (``auto``) forward ≥ 20× faster than the serial LIF loop, forward+backward ≥ 10×
  (checked on the eval-mode module and on the training-mode layer, ``MFPSN train auto``: the issue writes
  "forward+backward (train)").
- T = 256, N = 65,536: MFPSN forward ≥ 3× faster than the serial LIF loop and not slower than the ``conv1d`` path
  (both the ``MFPSN conv1d`` neuron row and the ``filter conv1d`` row, where present).

Issue 14 (same conditions, peers from ``--peers``, MFPSN training rows ``MFPSN train auto``):

- T = 256, N = 65,536: the project's LIF loop and the fused CPU LIF forward+backward no slower than SpikingJelly's
  torch-backend ``LIFNode``; the MFPSN training layer (forward+backward) ≥ 3× faster than it (also at
  N = 1,024); MFPSN eval forward ≤ 2× the copy floor.

Each verdict quotes the two measured times it is computed from (both from one file, i.e. one run); a target
that no file has the rows for is listed as n/a.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Verdict", "check_targets", "check_issue14_targets", "main"]


@dataclass(frozen=True)
class Verdict:
    target: str
    met: bool | None          # None: the rows needed are not in the file
    detail: str


def _row(rows: list[dict], impl: str, T: int, N: int) -> dict | None:
    return next((r for r in rows if r["impl"] == impl and r["T"] == T and r["N"] == N
                 and r.get("k") == 8 and r.get("d") == 2 and r.get("dtype") == "float32"), None)


def _ratio(rows, T, N, slow: str, fast: str, key: str, need: float, what: str) -> Verdict:
    a, b = _row(rows, slow, T, N), _row(rows, fast, T, N)
    if a is None or b is None or a.get(key) is None or b.get(key) is None:
        return Verdict(what, None, f"rows missing ({slow!r} / {fast!r}, {key}, T={T}, N={N})")
    r = a[key] / b[key]
    return Verdict(what, r >= need, f"{slow} {a[key]:.3f} ms / {fast} {b[key]:.3f} ms = {r:.2f}× (need ≥ {need}×)")


def check_targets(rows: list[dict]) -> list[Verdict]:
    """Verdicts for every target that the rows allow checking."""
    out = [
        _ratio(rows, 256, 1024, "LIF loop", "MFPSN auto", "fwd_ms", 20, "T=256 N=1024 MFPSN fwd ≥ 20× LIF loop"),
        _ratio(rows, 256, 1024, "LIF loop", "MFPSN auto", "fwdbwd_ms", 10,
               "T=256 N=1024 MFPSN fwd+bwd ≥ 10× LIF loop"),
        _ratio(rows, 256, 1024, "LIF loop", "MFPSN train auto", "fwdbwd_ms", 10,
               "T=256 N=1024 MFPSN training layer fwd+bwd ≥ 10× LIF loop (the issue's '(train)')"),
        _ratio(rows, 256, 65536, "LIF loop", "MFPSN auto", "fwd_ms", 3, "T=256 N=65536 MFPSN fwd ≥ 3× LIF loop"),
        _ratio(rows, 256, 65536, "MFPSN conv1d", "MFPSN auto", "fwd_ms", 1,
               "T=256 N=65536 MFPSN fwd not slower than MFPSN(backend=conv1d)"),
        _ratio(rows, 256, 65536, "filter conv1d", "MFPSN auto", "fwd_ms", 1,
               "T=256 N=65536 MFPSN fwd not slower than the conv1d filter alone"),
    ]
    return out


def check_issue14_targets(rows: list[dict]) -> list[Verdict]:
    """Verdicts of issue 14's CPU targets (peers, fused CPU LIF, MFPSN training rows, the copy floor)."""
    return [
        _ratio(rows, 256, 65536, "SpikingJelly LIFNode", "LIF loop", "fwdbwd_ms", 1,
               "T=256 N=65536 LIF loop fwd+bwd no slower than SpikingJelly LIFNode"),
        _ratio(rows, 256, 65536, "SpikingJelly LIFNode", "LIF fused CPU", "fwdbwd_ms", 1,
               "T=256 N=65536 LIF fused CPU fwd+bwd no slower than SpikingJelly LIFNode"),
        _ratio(rows, 256, 65536, "SpikingJelly LIFNode", "MFPSN train auto", "fwdbwd_ms", 3,
               "T=256 N=65536 MFPSN training fwd+bwd ≥ 3× SpikingJelly LIFNode"),
        _ratio(rows, 256, 1024, "SpikingJelly LIFNode", "MFPSN train auto", "fwdbwd_ms", 3,
               "T=256 N=1024 MFPSN training fwd+bwd ≥ 3× SpikingJelly LIFNode"),
        _ratio(rows, 256, 65536, "copy", "MFPSN auto", "fwd_ms", 0.5,
               "T=256 N=65536 MFPSN eval fwd ≤ 2× the copy floor"),
        _ratio(rows, 256, 65536, "copy (preallocated)", "MFPSN auto", "fwd_ms", 0.5,
               "T=256 N=65536 MFPSN eval fwd ≤ 2× the copy into a preallocated buffer"),
    ]


def _read_rows(path: Path, parser: argparse.ArgumentParser) -> list[dict]:
    """The ``rows`` of a ``python -m mfpsn.bench --json`` file; a usage error naming the file otherwise."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        parser.error(f"{path}: expected a readable JSON file written by python -m mfpsn.bench --json ({err})")
    except (KeyError, TypeError):
        parser.error(f"{path}: expected a JSON object with a 'rows' list (python -m mfpsn.bench --json), "
                     f"found no 'rows'")
    if not isinstance(rows, list):
        parser.error(f"{path}: expected 'rows' to be a list, found {type(rows).__name__}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mfpsn.bench.targets",
                                     description="Check the CPU speed targets against benchmark result files.")
    parser.add_argument("results", nargs="+", type=Path, metavar="RESULT.json",
                        help="files written by python -m mfpsn.bench --json")
    paths = parser.parse_args(argv).results
    tables = [(path, _read_rows(path, parser)) for path in paths]
    print("| file | target | met | measured |\n|---|---|---|---|")
    checked: set[str] = set()
    missing: dict[str, str] = {}
    for path, rows in tables:
        for v in check_targets(rows) + check_issue14_targets(rows):
            if v.met is None:
                missing.setdefault(v.target, v.detail)
                continue
            checked.add(v.target)
            print(f"| {path.name} | {v.target} | {'yes' if v.met else 'NO'} | {v.detail} |")
    for target, detail in missing.items():
        if target not in checked:
            print(f"| (none) | {target} | n/a | {detail} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
