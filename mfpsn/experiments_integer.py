"""The shipped MFPSN models on the integer (shift/add) path: every MFPSN layer replaced by its multiplication-free
form (:func:`mfpsn.integer_net.integerize`), evaluated on the whole test split beside the float eval path, one
row per checkpoint in ``checkpoints/results.jsonl`` (group ``integer``).

Command line::

    python -m mfpsn.experiments_integer run NAME=DATA_ROOT ... [--frac-bits 16] [--limit N]
    python -m mfpsn.experiments_integer run psmnist_mfpsn=../shared/data/mnist fsdd_mfpsn=../shared/data/fsdd
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

from mfpsn.checkpoints import SHIPPED_DIR

__all__ = ["integer_row", "render_section", "main"]

RESULTS = SHIPPED_DIR / "results.jsonl"


def integer_row(name: str, data_root: str, frac_bits: int = 16, limit: int | None = None) -> dict[str, Any]:
    """Float and integer accuracy of checkpoint ``name`` on its test split (the first ``limit`` samples)."""
    from mfpsn.evaluate import evaluate_checkpoint
    from mfpsn.experiments_seq import _commit

    t0 = time.perf_counter()
    flt = evaluate_checkpoint(name, data_root=data_root, limit=limit, progress=True)
    t1 = time.perf_counter()
    intg = evaluate_checkpoint(name, data_root=data_root, limit=limit, integer_frac_bits=frac_bits,
                               progress=True)
    t2 = time.perf_counter()
    return {"key": f"integer/{flt['name']}/frac{frac_bits}/limit{limit}", "group": "integer", "name": flt["name"],
            "task": flt["task"], "frac_bits": frac_bits, "samples": flt["samples"],
            "float_accuracy": flt["accuracy"], "integer_accuracy": intg["accuracy"],
            "card_test_accuracy": flt["card_test_accuracy"], "integer_path": intg["path"],
            "float_seconds": t1 - t0, "integer_seconds": t2 - t1, "commit": _commit(),
            "load_avg_1min_at_end": os.getloadavg()[0], "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def render_section(results: list[dict[str, Any]]) -> list[str]:
    """The integer-path table of ``checkpoints/README.md`` (empty without rows)."""
    rows = {r["name"]: r for r in results if r.get("group") == "integer"}  # the latest row per checkpoint
    if not rows:
        return []
    lines = ["## The shipped MFPSN models on the integer (shift/add) path", "",
             "Every MFPSN layer replaced by `mfpsn.integer_net.integerize` (inputs rounded to fixed point, taps as "
             "shifts, threshold compares; no multiplication in the neuron), evaluated on the test split beside the "
             "float eval path (`python -m mfpsn.experiments_integer run`).", "",
             "| checkpoint | task | test samples | float eval % | integer path % | fractional bits |",
             "|---|---|---|---|---|---|"]
    for name in sorted(rows):
        r = rows[name]
        lines.append(f"| {name} | {r['task']} | {r['samples']:,} | {100 * r['float_accuracy']:.2f} | "
                     f"{100 * r['integer_accuracy']:.2f} | {r['frac_bits']} |")
    return lines + [""]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mfpsn.experiments_integer", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="evaluate checkpoints on both paths and append their rows")
    r.add_argument("targets", nargs="+", help="NAME=DATA_ROOT (the checkpoint and the folder of its data set)")
    r.add_argument("--frac-bits", type=int, default=16)
    r.add_argument("--limit", type=int, default=None, help="only the first N test samples")
    r.add_argument("--results", default=str(RESULTS))
    args = p.parse_args(argv)
    for target in args.targets:
        name, sep, root = target.partition("=")
        if not sep or not name or not root:
            p.error(f"expected NAME=DATA_ROOT, found {target!r}")
        row = integer_row(name, root, args.frac_bits, args.limit)
        with Path(args.results).open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"{name}: float {row['float_accuracy']:.4f}, integer {row['integer_accuracy']:.4f} on "
              f"{row['samples']} samples; wrote {args.results}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
