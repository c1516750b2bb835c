"""The package's one timer (``mfpsn.timer``): its clock, warm-up, order and argument checks."""
from __future__ import annotations

import pytest

from mfpsn import timer


def test_elapsed_ms_reads_the_clock_around_the_call(monkeypatch):
    ticks = iter([1.0, 1.25])
    calls = []
    monkeypatch.setattr(timer.time, "perf_counter", lambda: next(ticks))
    assert timer.elapsed_ms(lambda: calls.append(1)) == pytest.approx(250.0)
    assert calls == [1]


def test_times_ms_warms_up_untimed_then_times_in_call_order(monkeypatch):
    durations = iter([0.001, 0.003, 0.002])
    clock = [0.0]

    def perf_counter():
        return clock[0]

    calls = []

    def fn():
        calls.append(1)
        if len(calls) > 2:                       # the two warm-up calls take no clock time
            clock[0] += next(durations)
    monkeypatch.setattr(timer.time, "perf_counter", perf_counter)
    assert timer.times_ms(fn, 3, warmup=2) == pytest.approx([1.0, 3.0, 2.0])
    assert len(calls) == 5


def test_medians_are_upper_medians():
    assert timer.upper_median([4.0, 1.0, 3.0, 2.0]) == 3.0
    assert timer.upper_median([5.0]) == 5.0
    assert timer.median_ms(lambda: None, 3, warmup=0) >= 0.0
    with pytest.raises(ValueError, match="at least one time"):
        timer.upper_median([])


@pytest.mark.parametrize("kwargs, pattern", [({"repeats": 0}, "repeats >= 1"), ({"repeats": True}, "repeats >= 1"),
                                             ({"repeats": 2, "warmup": -1}, "warmup >= 0")])
def test_bad_counts_are_refused(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        timer.times_ms(lambda: None, **kwargs)


def test_a_cpu_device_uses_the_host_clock(monkeypatch):
    import torch

    ticks = iter([0.0, 0.5])
    monkeypatch.setattr(timer.time, "perf_counter", lambda: next(ticks))
    assert timer.elapsed_ms(lambda: None, torch.device("cpu")) == pytest.approx(500.0)
    timer.sync("cpu")                             # a no-op off CUDA
    timer.sync(None)
