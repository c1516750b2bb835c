"""The benchmark CLI on tiny shapes: it runs, its rows are complete and consistent, its dispatch flags fail clearly.

No timing is asserted (timings belong to benchmark runs, not tests); only the structure of what is measured.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import sys
import types

import pytest

from mfpsn.bench.cli import main

ROW_KEYS = {"impl", "device", "T", "N", "k", "d", "fwd_ms", "fwdbwd_ms", "fwd_GBs", "speedup_fwd_vs_lif",
            "speedup_fwdbwd_vs_lif", "B", "C", "dtype", "note"}


def test_quick_run_writes_rows_and_machine_facts(tmp_path, capsys):
    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    code = main(["--quick", "--filter-backends", "conv1d", "shift_add", "fused", "auto", "--mfpsn-backends", "auto",
                 "--k", "3", "--d", "2", "--repeats", "2", "--json", str(out), "--markdown", str(md)])
    assert code == 0
    result = json.loads(out.read_text())
    facts = result["machine"]
    assert {"cpu", "torch", "numpy", "triton", "date_utc", "device"} <= set(facts)
    rows = {r["impl"]: r for r in result["rows"]}
    assert {"copy", "LIF loop", "filter conv1d", "filter shift_add", "filter auto"} <= set(rows)
    if "filter fused" not in rows:  # only without a C++ compiler, and then it must say so
        assert any(s["impl"] == "filter fused" and "compiler" in s["reason"] for s in result["skipped"])
    for row in result["rows"]:
        assert ROW_KEYS <= set(row)
        assert row["T"] == 12 and row["N"] == 256 and row["k"] == 3 and row["d"] == 2
        assert row["fwd_ms"] > 0 and row["fwd_GBs"] > 0
        assert row["fwdbwd_ms"] is None or row["fwdbwd_ms"] > 0
        assert row["speedup_fwd_vs_lif"] == pytest.approx(rows["LIF loop"]["fwd_ms"] / row["fwd_ms"], rel=1e-2)
    assert rows["LIF loop"]["speedup_fwd_vs_lif"] == 1.0
    assert "auto chose" in rows["filter auto"]["note"]
    assert rows["MFPSN auto"]["fwd_ms"] > 0
    printed = capsys.readouterr().out
    assert "filter auto" in printed and "×LIF fwd" in printed
    assert md.read_text().startswith("| impl | T | N |")


def test_unavailable_subjects_are_skipped_with_a_reason(tmp_path):
    out = tmp_path / "b.json"
    assert main(["--quick", "--filter-backends", "triton", "--mfpsn-backends", "--no-baselines", "--repeats", "1",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    impls = {r["impl"] for r in result["rows"]}
    if "filter triton" not in impls:
        (skip,) = [s for s in result["skipped"] if s["impl"] == "filter triton"]
        assert skip["reason"]


def test_bad_arguments_exit_with_a_message(capsys):
    with pytest.raises(SystemExit):
        main(["--quick", "--filter-backends", "fft"])
    assert "invalid choice: 'fft'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--quick", "--k", "0"])
    assert "--k: expected an int >= 1, found 0" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="expected N to be a multiple of C = 128, found N = 300"):
        main(["--N", "300", "--T", "4", "--repeats", "1", "--filter-backends", "shift_add", "--mfpsn-backends"])


def _fake_module(monkeypatch, name: str, seen: list):
    fake = types.ModuleType(name)
    fake.__spec__ = importlib.machinery.ModuleSpec(name, None)
    fake.main = lambda argv=None: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, name, fake)


@pytest.mark.parametrize("flag, module", [("--gpu-check", "mfpsn.bench.gpu_check"), ("--events", "mfpsn.bench.events")])
def test_dispatch_flags_hand_over_their_arguments(monkeypatch, flag, module):
    seen = []
    _fake_module(monkeypatch, module, seen)
    assert main([flag, "--extra", "1"]) == 0
    assert main([flag]) == 0
    assert seen == [["--extra", "1"], []]   # never None: the module's parser would then read sys.argv


@pytest.mark.parametrize("flag, module", [("--gpu-check", "mfpsn.bench.gpu_check"), ("--events", "mfpsn.bench.events")])
def test_dispatch_without_the_module_is_a_clear_error(monkeypatch, flag, module):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    with pytest.raises(SystemExit, match=f"{module} is not available in this checkout"):
        main([flag])


def test_targets_verdicts_from_rows(tmp_path, capsys):
    from mfpsn.bench.targets import check_targets, main as targets_main

    def row(impl, N, fwd, fwdbwd):
        return {"impl": impl, "T": 256, "N": N, "k": 8, "d": 2, "dtype": "float32", "fwd_ms": fwd, "fwdbwd_ms": fwdbwd}

    rows = [row("LIF loop", 1024, 10.0, 40.0), row("MFPSN auto", 1024, 0.4, 5.0),
            row("MFPSN train auto", 1024, 1.0, 3.2),
            row("LIF loop", 65536, 60.0, None), row("MFPSN auto", 65536, 30.0, None),
            row("MFPSN conv1d", 65536, 90.0, None)]
    verdicts = check_targets(rows)
    assert [v.met for v in verdicts] == [True, False, True, False, True, None]
    assert "25.00×" in verdicts[0].detail and "8.00×" in verdicts[1].detail and "12.50×" in verdicts[2].detail
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"rows": rows}))
    assert targets_main([str(path)]) == 0
    printed = capsys.readouterr().out
    assert "| r.json | T=256 N=1024 MFPSN fwd+bwd ≥ 10× LIF loop | NO |" in printed
    assert "| (none) | T=256 N=65536 MFPSN fwd not slower than the conv1d filter alone | n/a |" in printed


def test_targets_cli_names_a_bad_file(tmp_path, capsys):
    from mfpsn.bench.targets import main as targets_main

    bad = tmp_path / "bad.json"
    bad.write_text('{"machine": {}}')
    for args, found in (([str(tmp_path / "missing.json")], "missing.json: expected a readable JSON file"),
                        ([str(bad)], "bad.json: expected a JSON object with a 'rows' list"), ([], "RESULT.json")):
        with pytest.raises(SystemExit) as exc:
            targets_main(args)
        assert exc.value.code == 2
        assert found in capsys.readouterr().err


def test_interleaved_timing_is_round_robin_and_drops_failures():
    import torch

    from mfpsn.bench.timing import interleaved_ms
    from mfpsn.timer import upper_median

    order, errors = [], []

    def ok(name):
        return lambda: order.append(name)

    def broken():
        order.append("bad")
        raise RuntimeError("boom")

    times = interleaved_ms({"a": ok("a"), "bad": broken, "b": ok("b")}, torch.device("cpu"), repeats=3, warmup=1,
                           on_error=lambda name, err: errors.append((name, str(err))))
    assert order == ["a", "bad", "b"] + ["a", "b"] * 3
    assert set(times) == {"a", "b"} and all(len(v) == 3 for v in times.values())
    assert errors == [("bad", "boom")]
    assert upper_median([4.0, 1.0, 3.0, 2.0]) == 3.0
    with pytest.raises(RuntimeError, match="boom"):
        interleaved_ms({"bad": broken}, torch.device("cpu"), repeats=1)


def test_peers_and_the_fused_cpu_lif_are_rows_or_skipped_with_a_reason(tmp_path):
    out = tmp_path / "peers.json"
    assert main(["--quick", "--filter-backends", "shift_add", "--mfpsn-backends", "--train-backends", "auto", "--peers",
                 "--repeats", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = {r["impl"]: r for r in result["rows"]}
    skipped = {s["impl"]: s["reason"] for s in result["skipped"]}
    for name in ("SpikingJelly LIFNode", "snnTorch Leaky", "norse LIF", "LIF fused CPU"):
        assert name in rows or skipped.get(name), name
    for name in ("SpikingJelly LIFNode", "snnTorch Leaky", "norse LIF"):
        if name in skipped:
            assert "not installed" in skipped[name]
    assert rows["MFPSN train auto"]["fwdbwd_ms"] > 0
    for row in result["rows"]:
        assert row["fwd_min_ms"] <= row["fwd_ms"] <= row["fwd_max_ms"]
    assert result["machine"]["loadavg_1_5_15"] is not None and "loadavg_end" in result["machine"]


def test_issue14_targets_read_their_rows():
    from mfpsn.bench.targets import check_issue14_targets

    def row(impl, N, fwd, fwdbwd):
        return {"impl": impl, "T": 256, "N": N, "k": 8, "d": 2, "dtype": "float32", "fwd_ms": fwd,
                "fwdbwd_ms": fwdbwd}

    rows = [row("SpikingJelly LIFNode", 65536, 50.0, 175.0), row("LIF loop", 65536, 40.0, 150.0),
            row("LIF fused CPU", 65536, 10.0, 30.0), row("MFPSN train auto", 65536, 20.0, 70.0),
            row("copy", 65536, 5.0, 10.0), row("copy (preallocated)", 65536, 4.0, None),
            row("MFPSN auto", 65536, 9.0, 40.0)]
    got = {v.target: v.met for v in check_issue14_targets(rows)}
    assert got["T=256 N=65536 LIF loop fwd+bwd no slower than SpikingJelly LIFNode"] is True
    assert got["T=256 N=65536 MFPSN training fwd+bwd ≥ 3× SpikingJelly LIFNode"] is False   # 2.5×
    assert got["T=256 N=65536 MFPSN eval fwd ≤ 2× the copy floor"] is True
    assert got["T=256 N=65536 MFPSN eval fwd ≤ 2× the copy into a preallocated buffer"] is False   # 2.25×
    assert got["T=256 N=1024 MFPSN training fwd+bwd ≥ 3× SpikingJelly LIFNode"] is None


def test_first_call_measures_in_this_process_and_in_a_fresh_one(capsys):
    from mfpsn.bench import first_call

    r = first_call.measure(T=8, N=64, C=16, k=2, d=1, repeats=2)
    assert r["first_ms"] > 0 and r["steady_ms"] > 0 and len(r["times_ms"]) == 3
    assert r["second_shape_first_ms"] > 0 and len(r["second_shape_times_ms"]) == 3
    assert any(key.startswith("filter (8, 4, 16)") for key in r["choices"])
    assert first_call.main(["--T", "6", "--N", "32", "--C", "8", "--k", "2", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "first/steady forward+backward, T=6 N=32" in out and "torch warm" in out
    assert '"torch_warm": false' in out and '"torch_warm": true' in out
    assert first_call.measure(T=8, N=64, C=16, k=2, d=1, repeats=1, torch_warm=True)["torch_warm"] is True
    assert '"loss": true' in out and "scalar loss" in out
    assert first_call.measure(T=8, N=64, C=16, k=2, d=1, repeats=1, loss=True)["loss"] is True


def test_skip_leaves_out_named_subjects(tmp_path):
    out = tmp_path / "s.json"
    assert main(["--quick", "--filter-backends", "shift_add", "--mfpsn-backends", "--train-backends", "--no-baselines",
                 "--skip", "copy (kernel allocator)", "--repeats", "1", "--json", str(out)]) == 0
    impls = {r["impl"] for r in json.loads(out.read_text())["rows"]}
    assert "copy (kernel allocator)" not in impls and "copy" in impls


def test_interleaved_settle_runs_untimed_calls_right_before_each_timed_one():
    import torch

    from mfpsn.bench.timing import interleaved_ms

    order = []
    fns = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    times = interleaved_ms(fns, torch.device("cpu"), repeats=2, warmup=1, settle=2)
    assert [len(v) for v in times.values()] == [2, 2]
    assert order == ["a", "b"] + ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3


def test_the_bench_shows_a_progress_bar_with_a_total(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["--quick", "--filter-backends", "shift_add", "--mfpsn-backends", "--train-backends", "--no-baselines",
                 "--repeats", "1", "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "mfpsn.bench: 100%|" in err and "call" in err     # the bar, finished, with its unit
    assert main(["--quick", "--filter-backends", "shift_add", "--mfpsn-backends", "--train-backends", "--no-baselines",
                 "--repeats", "1", "--no-progress", "--json", str(out)]) == 0
    assert "%|" not in capsys.readouterr().err


def test_interleaved_on_call_ticks_once_per_call():
    import torch

    from mfpsn.bench.timing import interleaved_ms

    ticks = []
    interleaved_ms({"a": lambda: None, "b": lambda: None}, torch.device("cpu"), repeats=3, warmup=2, settle=1,
                   on_call=lambda: ticks.append(1))
    assert len(ticks) == 2 * (2 + 3 * 2)
