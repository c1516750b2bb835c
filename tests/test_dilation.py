"""Dilation schedules, receptive field and reachable lags (spec §3), with property tests."""
from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfpsn.dilation import exponential_dilations, is_gap_free, reachable_lags, receptive_field, sawtooth_dilations
from mfpsn.backends import temporal_filter
from mfpsn.neurons import MFPSN


def test_sawtooth_rule_a_and_alternatives():
    assert sawtooth_dilations(7) == [1, 2, 3, 1, 2, 3, 1]
    assert sawtooth_dilations(6, period=None) == [1] * 6
    assert sawtooth_dilations(5, period=2) == [1, 2, 1, 2, 1]   # rule C at k = 2
    assert sawtooth_dilations(0) == []
    for bad in ({"n_layers": -1}, {"n_layers": 2.0}, {"n_layers": 3, "period": 0}, {"n_layers": 3, "period": 1.5}):
        with pytest.raises(ValueError, match="expected"):
            sawtooth_dilations(**bad)


def test_worked_examples_of_the_spec():
    # Fig. 2, k = 2: the sliding PSN (three layers, d = 1) sees 4 steps, the sawtooth stack 7
    assert receptive_field(2, [1, 1, 1]) == 4 and reachable_lags(2, [1, 1, 1]) == [0, 1, 2, 3]
    assert receptive_field(2, [1, 2, 3]) == 7 and reachable_lags(2, [1, 2, 3]) == list(range(7))
    assert reachable_lags(2, [1, 2]) == [0, 1, 2, 3]
    assert reachable_lags(2, [2, 2, 2]) == [0, 2, 4, 6] and not is_gap_free(2, [2, 2, 2])   # gridding
    assert receptive_field(2, [1, 2, 1]) == 5                                               # rule C fails Fig. 2
    assert receptive_field(3, sawtooth_dilations(6)) == 25 and is_gap_free(3, sawtooth_dilations(6))
    assert reachable_lags(3, sawtooth_dilations(6)) == list(range(25))
    assert receptive_field(5, []) == 1 and reachable_lags(5, []) == [0]


def test_errors():
    with pytest.raises(ValueError, match="order k"):
        receptive_field(0, [1])
    with pytest.raises(ValueError, match="index 1"):
        reachable_lags(2, [1, 0])
    with pytest.raises(ValueError, match="sequence"):
        is_gap_free(2, 3)


def _brute_force(order: int, dilations: list[int]) -> set[int]:
    return {sum(m * d for m, d in zip(ms, dilations)) for ms in itertools.product(range(order), repeat=len(dilations))}


@settings(max_examples=200, deadline=None)
@given(order=st.integers(1, 4), dilations=st.lists(st.integers(1, 9), max_size=5))
def test_reachable_set_and_gap_free_criterion_agree_with_brute_force(order, dilations):
    reach = _brute_force(order, dilations)
    assert reachable_lags(order, dilations) == sorted(reach)
    R = receptive_field(order, dilations)
    assert max(reach) == R - 1
    assert is_gap_free(order, dilations) == (reach == set(range(R)))
    assert is_gap_free(order, dilations) == is_gap_free(order, list(reversed(dilations)))


def _impulse_response(order: int, dilations: list[int], T: int) -> torch.Tensor:
    """A stack of MFPSN filters (folded eval taps, positive so nothing cancels; no threshold) on an impulse."""
    x = torch.zeros(T, 1, 1, dtype=torch.float64)
    x[0] = 1.0
    for d in dilations:
        layer = MFPSN(1, order=order, dilation=d).double().eval()
        with torch.no_grad():
            layer.weight.uniform_(0.2, 1.0)
        taps, _ = layer.folded()
        x = temporal_filter(x, taps, d, "shift_add")
    return x.flatten()


@settings(max_examples=40, deadline=None)
@given(order=st.integers(1, 3), dilations=st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_mfpsn_stack_responds_exactly_at_the_reachable_lags(order, dilations):
    R = receptive_field(order, dilations)
    h = _impulse_response(order, dilations, R + 3)
    assert torch.nonzero(h).flatten().tolist() == reachable_lags(order, dilations)


def test_sawtooth_stack_covers_every_step_and_equal_dilations_grid():
    assert torch.nonzero(_impulse_response(2, [1, 2, 3], 9)).flatten().tolist() == list(range(7))
    assert torch.nonzero(_impulse_response(2, [2, 2, 2], 9)).flatten().tolist() == [0, 2, 4, 6]


def test_exponential_dilations_are_gap_free_and_reach_k_to_the_L():
    for k in (2, 3, 8):
        for n in range(0, 5):
            ds = exponential_dilations(n, k)
            assert ds == [k ** i for i in range(n)]
            assert is_gap_free(k, ds)
            assert receptive_field(k, ds) == k ** n
            assert reachable_lags(k, ds) == list(range(k ** n))
    with pytest.raises(ValueError, match="order"):
        exponential_dilations(3, 0)
