"""``python -m mfpsn.bench.scaling FILE.json [FILE.json ...]``: the scaling table of benchmark rows over T and N,
with the fitted log–log slope per subject.

The input is one or more ``python -m mfpsn.bench --json`` files whose rows cover several T (at one N) and/or several
N (at one T), for example ``python -m mfpsn.bench --T 64 256 1024 --N 1024`` and ``--T 256 --N 1024 8192 65536``.
For each subject and each axis with at least two measured points it fits ``log(ms) = a + slope·log(axis)`` by least
squares (one point per axis value: the row's upper median), for the forward and the forward+backward time. A slope
of 1 is linear cost (twice the T, twice the time); a serial loop over T with a fixed cost per step has slope 1 in T
and below 1 in N while per-step overheads dominate; PSN's T×T matrix approaches 2 in T. Only measured rows enter;
a subject with one point on an axis gets no slope.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

__all__ = ["fit_slope", "scaling_rows", "markdown", "main"]


def fit_slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(y) on log(x) over (x, y) points with x, y > 0; None with fewer than 2 x values."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y is not None and y > 0]
    if len({p[0] for p in pts}) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def scaling_rows(rows: list[dict]) -> list[dict]:
    """Per (subject, axis, fixed value): the points and the fitted slopes.

    rows: bench rows (``impl``, ``T``, ``N``, ``fwd_ms``, ``fwdbwd_ms``). Returns dicts with ``impl``, ``axis``
    ("T" or "N"), ``fixed`` (the other axis's value), ``points`` {axis value: (fwd_ms, fwdbwd_ms)},
    ``fwd_slope``, ``fwdbwd_slope``.
    """
    out = []
    for axis, other in (("T", "N"), ("N", "T")):
        groups: dict[tuple[str, int], dict[int, tuple]] = {}
        for r in rows:
            groups.setdefault((r["impl"], r[other]), {})[r[axis]] = (r.get("fwd_ms"), r.get("fwdbwd_ms"))
        for (impl, fixed), pts in groups.items():
            if len(pts) < 2:
                continue
            xs = sorted(pts)
            out.append({"impl": impl, "axis": axis, "fixed": fixed, "points": {x: pts[x] for x in xs},
                        "fwd_slope": fit_slope([(x, pts[x][0]) for x in xs]),
                        "fwdbwd_slope": fit_slope([(x, pts[x][1]) for x in xs])})
    return out


def _cell(v) -> str:
    return "—" if v is None else f"{v:.3g}"


def markdown(table: list[dict]) -> str:
    """One table per (axis, fixed value): ms per point (fwd / fwd+bwd) and the two slopes."""
    lines: list[str] = []
    for axis, other in (("T", "N"), ("N", "T")):
        for fixed in sorted({t["fixed"] for t in table if t["axis"] == axis}):
            part = [t for t in table if t["axis"] == axis and t["fixed"] == fixed]
            xs = sorted({x for t in part for x in t["points"]})
            lines += [f"### over {axis} at {other} = {fixed:,} (ms: forward / forward+backward)", "",
                      "| subject | " + " | ".join(f"{axis} = {x:,}" for x in xs) + " | slope fwd | slope fwd+bwd |",
                      "|---|" + "---|" * (len(xs) + 2)]
            for t in part:
                cells = [f"{_cell(t['points'][x][0])} / {_cell(t['points'][x][1])}" if x in t["points"] else "—"
                         for x in xs]
                lines.append(f"| {t['impl']} | " + " | ".join(cells)
                             + f" | {_cell(t['fwd_slope'])} | {_cell(t['fwdbwd_slope'])} |")
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mfpsn.bench.scaling", description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="+", type=Path, help="JSON files of python -m mfpsn.bench --json")
    p.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    a = p.parse_args(argv)
    rows = []
    for f in a.files:
        try:
            rows += json.loads(f.read_text(encoding="utf-8"))["rows"]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
            p.error(f"{f}: expected a JSON file written by python -m mfpsn.bench --json ({err})")
    text = markdown(scaling_rows(rows))
    print(text)
    if a.markdown:
        a.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
