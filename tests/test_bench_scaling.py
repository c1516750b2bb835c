"""The scaling table: log–log slopes fitted from bench rows over T and N."""
from __future__ import annotations

import json
import math

import pytest

from mfpsn.bench import scaling


def _row(impl, T, N, fwd, fwdbwd):
    return {"impl": impl, "T": T, "N": N, "fwd_ms": fwd, "fwdbwd_ms": fwdbwd}


def test_slopes_of_known_power_laws():
    rows = [_row("lin", T, 1024, 0.01 * T, 0.03 * T) for T in (64, 256, 1024)]
    rows += [_row("quad", T, 1024, 1e-4 * T * T, None) for T in (64, 256, 1024)]
    # at T = 256 the N axis also holds the T-axis row (256, 1024): the same power law through it
    rows += [_row("lin", 256, N, 2.56 * (N / 1024) ** 0.5, 7.68 * (N / 1024) ** 0.5) for N in (8192, 65536)]
    table = {(t["impl"], t["axis"]): t for t in scaling.scaling_rows(rows)}
    assert table[("lin", "T")]["fwd_slope"] == pytest.approx(1.0)
    assert table[("lin", "T")]["fwdbwd_slope"] == pytest.approx(1.0)
    assert table[("quad", "T")]["fwd_slope"] == pytest.approx(2.0)
    assert table[("quad", "T")]["fwdbwd_slope"] is None          # no measured backward
    assert table[("lin", "N")]["fwd_slope"] == pytest.approx(0.5)
    assert ("quad", "N") not in table                             # one N only: no slope on that axis


def test_fit_needs_two_distinct_points():
    assert scaling.fit_slope([(4.0, 2.0)]) is None
    assert scaling.fit_slope([(4.0, 2.0), (4.0, 3.0)]) is None
    assert scaling.fit_slope([(1.0, 1.0), (math.e, math.e ** 3)]) == pytest.approx(3.0)


def test_cli_reads_bench_json_and_writes_markdown(tmp_path, capsys):
    f = tmp_path / "b.json"
    f.write_text(json.dumps({"rows": [_row("MFPSN auto", T, 1024, 0.001 * T, 0.002 * T) for T in (16, 64)]}))
    md = tmp_path / "s.md"
    assert scaling.main([str(f), "--markdown", str(md)]) == 0
    text = md.read_text()
    assert "### over T at N = 1,024" in text and "| MFPSN auto |" in text and "| 1 | 1 |" in text
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit):
        scaling.main([str(bad)])
