"""python -m mfpsn.bench.net_step on tiny shapes: every subject times or says why it cannot, verdicts from rows."""
from __future__ import annotations

import json

from mfpsn.bench import net_step


def test_every_subject_is_timed_or_skipped_with_a_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(net_step, "SHAPES", {"rows": (32, 2, 3)})
    monkeypatch.setattr(net_step, "HIDDEN", 8)
    out = tmp_path / "n.json"
    assert net_step.main(["--shape", "rows", "--warmup", "1", "--repeats", "2", "--peers", "--json", str(out),
                          "--markdown", str(tmp_path / "n.md")]) == 0
    data = json.loads(out.read_text())
    rows = {r["name"]: r for r in data["rows"]}
    assert set(rows) >= {"MFPSN k=8 (auto)", "LIF loop", "PSN", "MaskedPSN k=8", "SlidingPSN k=8", "PLIF loop"}
    for r in rows.values():
        if r["error"] is None:
            assert len(r["times_ms"]) == 2 and r["min_ms"] <= r["median_ms"] <= r["max_ms"]
        else:
            assert r["median_ms"] is None and r["times_ms"] == []
    assert rows["MFPSN k=8 (auto)"]["error"] is None and rows["PSN"]["error"] is None
    assert any("MFPSN / PSN step" in v for v in data["verdicts"])
    assert data["machine"]["cpu_count"] >= 1 and "loadavg_after" in data["machine"]


def test_verdict_is_computed_from_the_rows():
    def row(name, ms):
        r = net_step.NetRow(name, "rows", 32, 64, 28)
        r.median_ms = ms
        return r

    lines = net_step.verdicts([row("MFPSN k=8 (auto)", 30.0), row("PSN", 40.0), row("LIF loop", 60.0)])
    assert "MFPSN / PSN step = 0.75 (issue 14 target ≤ 1.0: met" in " ".join(lines)
    assert any("LIF loop / MFPSN = 2.00" in v for v in lines)
    lines = net_step.verdicts([row("MFPSN k=8 (auto)", 50.0), row("PSN", 40.0)])
    assert "MISSED" in " ".join(lines)


def test_a_failing_subject_is_reported_not_timed(monkeypatch):
    monkeypatch.setattr(net_step, "SHAPES", {"rows": (4, 2, 3)})

    def broken(T, F):
        raise RuntimeError("cannot build here")

    rows = net_step.run("rows", [net_step.NetSubject("broken", broken)], warmup=0, repeats=1, progress=False)
    assert rows[0].error == "RuntimeError: cannot build here" and rows[0].median_ms is None
