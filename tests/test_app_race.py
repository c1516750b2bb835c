"""Speed race statistics and figures (issue 13.2): spread, the fastest serial LIF as baseline, a headline from the
measured run, categorical T axes labelled with the T values raced."""
from __future__ import annotations

import pytest

from mfpsn.app import figures_race
from mfpsn.app.race_stats import Timing, fastest, headline, spread_warning, summarise


def cell(ms: float, spread: float = 0.0) -> Timing:
    return Timing(ms, ms * (1 - spread / 2), ms * (1 + spread / 2), ms * 0.9, ms * 1.1, 5)


TIMES = {"MFPSN (shift_add)": [cell(1.0), cell(2.0)], "MFPSN (conv1d)": [cell(3.0), cell(1.0)],
         "LIF (Python loop)": [cell(10.0), cell(40.0)], "LIF (fused CPU)": [cell(2.0), cell(5.0, spread=0.6)]}


def test_summarise_gives_median_quartiles_and_range():
    t = summarise([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (t.median, t.q1, t.q3, t.low, t.high, t.repeats) == (3.0, 2.0, 4.0, 1.0, 5.0, 5)
    assert t.spread == pytest.approx(2 / 3)


def test_headline_compares_the_fastest_mfpsn_with_the_fastest_serial_lif():
    assert fastest(TIMES, "LIF") == "LIF (fused CPU)" and fastest(TIMES, "MFPSN") == "MFPSN (conv1d)"
    text = headline([16, 64], TIMES, 1024, "AMD EPYC, 2 cores")
    assert text.startswith("**MFPSN (conv1d) is 5.0× faster than LIF (fused CPU)** (the fastest serial LIF raced) "
                           "at T = 64, N = 1024, on this machine (AMD EPYC, 2 cores)")
    slow = {"MFPSN (fft)": [cell(4.0)], "LIF (fused CPU)": [cell(1.0)]}
    assert "4.0× slower than LIF (fused CPU)" in headline([8], slow, 64, "x")
    assert "at least one MFPSN and one serial LIF" in headline([8], {"MFPSN (fft)": [cell(1.0)]}, 64, "x")


def test_spread_warning_names_the_noisy_timings():
    text = spread_warning([16, 64], TIMES, "load average 3.0")
    assert "LIF (fused CPU) at T = 64" in text and "load average 3.0" in text and "T = 16" not in text
    assert spread_warning([16], {"LIF (fused CPU)": [cell(2.0)]}, "idle") == ""


def test_figures_use_a_categorical_T_axis_with_error_bars():
    T = [16, 64]
    fig = figures_race.time_figure(T, TIMES, 1024, "forward", 5)
    assert fig.layout.xaxis.type == "category" and list(fig.layout.xaxis.categoryarray) == ["16", "64"]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.dtick == 1
    first = fig.data[0]
    assert list(first.x) == ["16", "64"] and list(first.error_y.array) == [0.0, 0.0]
    sp = figures_race.speedup_figure(T, TIMES, "LIF (fused CPU)")
    assert "over LIF (fused CPU)" in sp.layout.title.text and sp.layout.xaxis.type == "category"
    bars = {b.name: list(b.y) for b in sp.data}
    assert "LIF (fused CPU)" not in bars and bars["LIF (Python loop)"] == [0.2, 0.125]
    assert bars["MFPSN (shift_add)"] == [2.0, 2.5] and all(b.error_y.array is not None for b in sp.data)
    lo, hi = sp.layout.yaxis.range
    assert 10 ** lo < 0.125 and 5.0 < 10 ** hi                               # no clipped group


def test_throughput_figure_is_log_log_with_the_fitted_slope():
    times = {"MFPSN (fused)": [cell(1.0), cell(4.0), cell(16.0)],         # time ∝ T: constant throughput
             "LIF (Python loop)": [cell(1.0), cell(16.0), cell(256.0)],     # time ∝ T²
             "MFPSN (fft)": [None, cell(2.0), None]}                        # one point: no slope to fit
    fig = figures_race.throughput_figure([16, 64, 256], times, 1000)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert list(fig.layout.xaxis.tickvals) == [16, 64, 256] and list(fig.layout.xaxis.ticktext) == ["16", "64", "256"]
    names = [t.name for t in fig.data]
    assert names == ["MFPSN (fused): time ∝ T^1.00", "LIF (Python loop): time ∝ T^2.00", "MFPSN (fft)"]
    assert list(fig.data[0].y) == pytest.approx([16e6, 16e6, 16e6])         # T · N / median (ms → s)
    assert list(fig.data[2].x) == [64]


def test_recorded_scaling_over_T_and_N(tmp_path):
    import json

    from mfpsn.app import race

    rows = [{"impl": "MFPSN auto", "T": T, "N": N, "fwd_ms": 0.01 * T * N / 1024, "fwdbwd_ms": 0.03 * T * N / 1024}
            for T, N in ((64, 1024), (256, 1024), (1024, 1024), (256, 4096), (256, 16384))]
    rows += [{"impl": "copy", "T": 64, "N": 1024, "fwd_ms": 1, "fwdbwd_ms": 1},
             {"impl": "copy", "T": 256, "N": 1024, "fwd_ms": 1, "fwdbwd_ms": 1}]
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "scaling_T.json").write_text(json.dumps({"machine": {"cpu": "AMD EPYC", "cpu_count": 2,
                                                                            "date_utc": "2026-12-02"}, "rows": rows}))
    fig = race.recorded_scaling(tmp_path)
    names = [t.name for t in fig.data]
    assert names == ["MFPSN auto over T (N = 1,024): ∝ T^1.00", "MFPSN auto over N (T = 256): ∝ N^1.00"]
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "log" and "AMD EPYC" in fig.layout.title.text
    assert "none recorded" in race.recorded_scaling(tmp_path / "nothing").layout.title.text
