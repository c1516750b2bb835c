"""AutoSelector: picks an implementation that exists, times each key once, reports its choice."""
from __future__ import annotations

import os
import shutil

import pytest
import torch

import dataclasses

import mfpsn.backends.autoselect as autoselect
from mfpsn.backends import BACKENDS, AutoSelector, BackendRegistry
from mfpsn.backends import dispatch as filt
from mfpsn.backends.autoselect import Choice, candidates_for
from mfpsn.functional import fused_cpu
from mfpsn.functional.filter import temporal_filter_ref
from mfpsn import timer

FILTERS = BACKENDS.names_for("filter")


def _with_filter(name, fn):
    """BACKENDS with the filter op of ``name`` replaced by ``fn``."""
    r = BACKENDS[name]
    return dataclasses.replace(r, ops={**r.ops, "filter": fn})


def test_fused_kernels_are_timed_first(monkeypatch):
    monkeypatch.setattr(fused_cpu, "ready", lambda: True)
    assert candidates_for(torch.randn(8, 2, 3), torch.randn(3, 2))[0] == "fused"


def test_candidates_exist_and_exclude_the_reference():
    x, taps = torch.randn(8, 2, 3), torch.randn(3, 2)
    names = candidates_for(x, taps)
    assert names and "reference" not in names and "auto" not in names
    assert set(names) <= set(FILTERS)
    assert "toeplitz" in names
    assert "triton" not in names or x.device.type == "cuda"


def test_toeplitz_is_left_out_when_the_matrices_would_be_huge():
    x = torch.empty(2048, 1, 32)  # C·T² = 2^27 > 2^26
    assert "toeplitz" not in candidates_for(x, torch.empty(32, 2))


def test_fused_is_a_candidate_only_once_loaded(monkeypatch):
    x, taps = torch.randn(8, 2, 3), torch.randn(3, 2)
    monkeypatch.setattr(fused_cpu, "ready", lambda: False)
    assert "fused" not in candidates_for(x, taps)
    monkeypatch.setattr(fused_cpu, "ready", lambda: True)
    assert "fused" in candidates_for(x, taps)
    assert "fused" not in candidates_for(x.half(), taps.half())  # unsupported dtype


def test_times_once_per_key_and_reports(monkeypatch):
    sel = AutoSelector()
    calls = []
    real_time = AutoSelector._time

    def counting(self, impl, *args):
        calls.append(impl)
        return real_time(self, impl, *args)

    monkeypatch.setattr(AutoSelector, "_time", counting)
    x, taps = torch.randn(9, 2, 5), torch.randn(5, 3)
    first = sel.choose(x, taps, 2)
    n = len(calls)
    assert n == len(candidates_for(x, taps)) and first in FILTERS
    assert sel.choose(x, taps, 2) == first
    assert sel.choose(torch.randn(9, 2, 5), taps, 2) == first  # same key, new values
    assert len(calls) == n                                     # not timed again
    sel.choose(x, taps, 1)                                     # another dilation: a new key
    assert len(calls) == 2 * n
    report = sel.report()
    key = AutoSelector.key(x, taps, 2, False)
    assert key == ("filter", (9, 2, 5), "cpu", "torch.float32", 3, 2, False)
    assert isinstance(report[key], Choice) and report[key].backend == first
    assert set(report[key].times_ms) == set(candidates_for(x, taps))
    assert report[key].backend == min(report[key].times_ms, key=report[key].times_ms.get)
    sel.clear()
    assert sel.report() == {}


def test_grad_and_spike_forms_have_their_own_keys():
    sel = AutoSelector()
    x, taps = torch.randn(7, 1, 3, requires_grad=True), torch.randn(3, 2)
    sel.choose(x, taps, 1)
    with torch.no_grad():
        sel.choose(x, taps, 1)
    sel.choose(x.detach(), taps, 1, op="spikes")
    ops_grads = sorted((k[0], k[-1]) for k in sel.report())
    assert ops_grads == [("filter", False), ("filter", True), ("spikes", False)]
    with pytest.raises(ValueError, match="expected op 'filter' or 'spikes', found 'h'"):
        sel.choose(x, taps, 1, op="h")


def test_temporal_filter_auto_runs_the_chosen_impl(monkeypatch):
    """A call counter on every implementation proves that the cached winner (and only it) runs afterwards."""
    sel = AutoSelector()
    monkeypatch.setattr(autoselect, "DEFAULT_SELECTOR", sel)
    counts = {name: 0 for name in FILTERS}

    def wrap(name, fn):
        def counted(*args):
            counts[name] += 1
            return fn(*args)
        return counted

    counted = BackendRegistry(_with_filter(name, wrap(name, BACKENDS[name].ops["filter"])) if name in FILTERS
                              else BACKENDS[name] for name in BACKENDS)
    x, taps = torch.randn(10, 2, 3), torch.randn(3, 3)
    h = filt.temporal_filter(x, taps, 2, backend="auto", backends=counted)
    (key, choice), = sel.report().items()
    torch.testing.assert_close(h, temporal_filter_ref(x, taps, 2))
    before = dict(counts)
    filt.temporal_filter(x, taps, 2, backend="auto", backends=counted)
    diff = {name: counts[name] - before[name] for name in counts if counts[name] != before[name]}
    assert diff == {choice.backend: 1}


@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None,
                    reason="the fused CPU kernel needs a C++ compiler ($CXX or g++); none on PATH")
def test_spikes_auto_reports_a_spike_choice(monkeypatch):
    sel = AutoSelector()
    monkeypatch.setattr(autoselect, "DEFAULT_SELECTOR", sel)
    fused_cpu.warmup()
    x, taps = torch.randn(10, 2, 3), torch.randn(3, 3)
    s = filt.temporal_filter_spikes(x, taps, torch.zeros(3), 2)
    (key, choice), = sel.report().items()
    assert key[0] == "spikes" and "fused" in choice.times_ms
    assert set(s.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("stat, expect", [("mean", 4500.0), ("min", 4000.0)])
def test_summary_of_last_m_runs(monkeypatch, stat, expect):
    """m = 2: five runs, the last two summarised (a fake clock gives durations 1, 2, 3, 4, 5 s)."""
    ticks = iter([0.0, 1.0, 1.0, 3.0, 3.0, 6.0, 6.0, 10.0, 10.0, 15.0])
    monkeypatch.setattr(timer.time, "perf_counter", lambda: next(ticks))
    ms = AutoSelector(m=2, stat=stat)._time("shift_add", torch.randn(4, 1, 2), torch.randn(2, 2), 1, False, "filter")
    assert ms == pytest.approx(expect)


def test_a_hopeless_candidate_is_timed_twice(monkeypatch):
    ticks = iter([0.0, 10.0, 10.0, 18.0])  # runs of 10 s and 8 s; a third run would exhaust the fake clock
    monkeypatch.setattr(timer.time, "perf_counter", lambda: next(ticks))
    ms = AutoSelector()._time("shift_add", torch.randn(4, 1, 2), torch.randn(2, 2), 1, False, "filter", 1000.0)
    assert ms == pytest.approx(8000.0)


def test_one_slow_run_does_not_prune(monkeypatch):
    """First run disturbed (10 s), the others fast (1 ms): timed fully, summary = min of the last m."""
    durations = [10.0] + [0.001] * 6
    ticks = iter([v for d in durations for v in (0.0, d)])
    monkeypatch.setattr(timer.time, "perf_counter", lambda: next(ticks))
    ms = AutoSelector(m=3)._time("shift_add", torch.randn(4, 1, 2), torch.randn(2, 2), 1, False, "filter", 1000.0)
    assert ms == pytest.approx(1.0)


def test_choose_records_pruned_candidates(monkeypatch):
    """A candidate made 1000× slower than the others is pruned after two runs and not chosen."""
    import time as _time

    slow_calls = []
    real = BACKENDS["toeplitz"].ops["filter"]

    def slow(*args):
        slow_calls.append(1)
        _time.sleep(0.05)
        return real(*args)

    slowed = BackendRegistry(_with_filter(n, slow) if n == "toeplitz" else BACKENDS[n] for n in BACKENDS)
    monkeypatch.setattr(autoselect, "candidates_for", lambda x, taps, **kw: ["shift_add", "toeplitz"])
    sel = AutoSelector()
    with torch.no_grad():
        assert sel.choose(torch.randn(6, 1, 3), torch.randn(3, 2), 1, backends=slowed) == "shift_add"
    (choice,) = sel.report().values()
    assert choice.pruned == ("toeplitz",) and len(slow_calls) == 2


@pytest.mark.parametrize("kwargs, pattern", [({"m": 0}, "expected an int m >= 1, found 0"),
                                             ({"stat": "median"}, "expected stat 'min' or 'mean', found 'median'"),
                                             ({"prune": 0.5}, "expected prune >= 1 or None, found 0.5")])
def test_bad_selector_settings(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        AutoSelector(**kwargs)


def test_concurrent_callers_time_a_key_once(monkeypatch):
    import threading

    sel = AutoSelector()
    calls = []
    started = threading.Event()

    def slow(self, impl, *args, **kwargs):
        calls.append(impl)
        started.set()
        threading.Event().wait(0.02)  # long enough for the other thread to arrive while timing runs
        return float(len(calls))

    monkeypatch.setattr(AutoSelector, "_time", slow)
    x, taps = torch.randn(9, 2, 5), torch.randn(5, 3)
    results = []
    threads = [threading.Thread(target=lambda: results.append(sel.choose(x, taps, 2))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert started.is_set() and len(results) == 4 and len(set(results)) == 1
    assert len(calls) == len(candidates_for(x, taps))  # one timing round, not four


# ------------------------------------------------------------------------------------------ fast by default
_HAS_CXX = __import__("shutil").which(__import__("os").environ.get("CXX", "g++")) is not None


@pytest.mark.skipif(not _HAS_CXX, reason="needs a C++ compiler ($CXX or g++)")
def test_auto_loads_the_fused_kernel_on_first_need_without_warmup():
    fused_cpu._load_unlocked.cache_clear()
    fused_cpu._auto_attempt.cache_clear()
    assert not fused_cpu.ready()
    sel = AutoSelector(m=1)
    x, taps = torch.randn(16, 2, 8, requires_grad=True), torch.randn(8, 3)
    sel.choose(x, taps, 2)
    assert fused_cpu.ready()
    assert "fused" in next(iter(sel.report().values())).times_ms


def test_auto_without_a_compiler_warns_once_and_uses_the_others(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", "no-such-compiler-mfpsn")
    monkeypatch.setenv("MFPSN_CACHE_DIR", str(tmp_path))
    fused_cpu._load_unlocked.cache_clear()
    fused_cpu._auto_attempt.cache_clear()
    try:
        sel = AutoSelector(m=1)
        with pytest.warns(RuntimeWarning, match="cannot use the fused CPU kernel .*needs a C\\+\\+ compiler"):
            first = sel.choose(torch.randn(8, 2, 3), torch.randn(3, 2), 1)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            second = sel.choose(torch.randn(9, 2, 3), torch.randn(3, 2), 1)
        assert first != "fused" and second != "fused"
    finally:
        fused_cpu._load_unlocked.cache_clear()
        fused_cpu._auto_attempt.cache_clear()


def test_auto_never_times_inside_a_compile_trace(monkeypatch):
    from mfpsn.backends import temporal_filter

    sel = AutoSelector()
    monkeypatch.setattr(autoselect, "DEFAULT_SELECTOR", sel)
    monkeypatch.setattr(AutoSelector, "_time", lambda *a, **k: pytest.fail("timed inside a trace"))
    f = torch.compile(lambda a, b: temporal_filter(a, b, 2) * 2.0, fullgraph=True, backend="eager")
    x, taps = torch.randn(12, 2, 5), torch.randn(5, 3)
    torch.testing.assert_close(f(x, taps), temporal_filter_ref(x, taps, 2) * 2.0, rtol=1e-5, atol=1e-5)
    assert sel.report() == {}


def test_a_large_input_is_timed_on_a_batch_slice(monkeypatch):
    monkeypatch.setattr(fused_cpu, "ready", lambda: False)            # no one-pass kernel: candidates are timed
    monkeypatch.setattr(fused_cpu, "prepare_for_auto", lambda: False)
    x = torch.randn(64, 40, 128)                       # 327,680 values > SLICE_MAX
    xs = autoselect.timing_slice(x)
    assert xs.shape == (64, autoselect.SLICE_MAX // (64 * 128), 128) and xs.is_contiguous()
    assert torch.equal(xs, x[:, : xs.shape[1]])
    assert autoselect.timing_slice(x[:, :4]) is not None and autoselect.timing_slice(x[:, :4]).shape[1] == 4
    sel = AutoSelector(m=1)
    sel.choose(x, torch.randn(128, 2), 1)
    assert next(iter(sel.report().values())).timed_shape == tuple(xs.shape)


def test_a_large_input_takes_the_one_pass_kernel_without_timing(monkeypatch):
    monkeypatch.setattr(fused_cpu, "ready", lambda: True)
    monkeypatch.setattr(fused_cpu, "prepare_for_auto", lambda: True)
    monkeypatch.setattr(AutoSelector, "_time", lambda *a, **k: pytest.fail("a large input must not be timed"))
    sel = AutoSelector()
    x = torch.empty(64, 128, 128)                      # 2^20 values
    assert sel.choose(x, torch.randn(128, 2), 1) == "fused"
    assert next(iter(sel.report().values())).rule == "cost model"
    x = torch.empty(16, 32, 128)                       # 2^16 values: the threshold itself
    assert sel.choose(x, torch.randn(128, 2), 1) == "fused"
    assert sel.report()[AutoSelector.key(x, torch.randn(128, 2), 1, False)].rule == "cost model"
