"""The reading benchmark runs end to end on a small stream (no timing is asserted here)."""
from __future__ import annotations

from mfpsn.bench.events import main, run_events_benchmark


def test_benchmark_rows_on_a_small_stream():
    rows = run_events_benchmark(n_events=3000, repeats=1, n_bins=4)
    assert [r["format"] for r in rows] == ["evt3", "aedat31"]
    for r in rows:
        assert r["events"] == 3000 and r["file_mb"] > 0 and r["read_events_per_s"] > 0
        assert r["frames_shape"][:2] == (4, 2)


def test_benchmark_cli_prints_a_table(capsys):
    assert main(["--events", "2000", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "read ev/s" in out and "evt3" in out and "aedat31" in out


def test_benchmark_all_formats_reads_back_every_file():
    rows = run_events_benchmark(n_events=500, repeats=1, n_bins=2, all_formats=True)
    assert {r["format"] for r in rows} == {"evt3", "aedat31", "evt2", "dat", "aedat2", "nmnist", "npz", "shd"}
