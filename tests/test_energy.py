"""Op and energy counter against the published figures (spec §7, paper Table 6)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mfpsn.energy import E_MAC_PJ, OpCount, layer_ops, neuron_ops, synaptic_energy_pj, taps_in_sequence

REL = 1e-3  # the paper cuts to three significant digits
N_SCIFAR, T_SCIFAR, K_SCIFAR = 18_688, 32, 16


def test_neuron_count_of_the_sequential_cifar_net():
    assert 3 * 128 * 32 + 3 * 128 * 16 + 256 == N_SCIFAR


def matches_published(ours: float, published: float, digits: int = 3) -> bool:
    """The paper cuts to ``digits`` significant digits: ours must lie within one unit of the last one."""
    unit = 10.0 ** (math.floor(math.log10(abs(published))) - digits + 1)
    return abs(ours - published) < unit


def test_table6_neuron_layers():
    psn = layer_ops("psn", N_SCIFAR, T_SCIFAR)
    mf = layer_ops("mfpsn", N_SCIFAR, T_SCIFAR, K_SCIFAR)
    # derived exact values (spec §7) ...
    assert psn.mul == 18_688 * 32**2 == 19_136_512
    assert psn.add == 18_688 * 1_056
    assert mf.shift == 18_688 * 392
    assert mf.add == 18_688 * 424
    assert psn.energy_pj / 1e6 == pytest.approx(88.566, rel=REL)
    assert mf.energy_pj / 1e6 == pytest.approx(8.0837, rel=REL)
    assert mf.mul == 0
    # ... and the published three-digit figures of Table 6
    assert matches_published(psn.mul, 1.91e7)
    assert matches_published(psn.add, 1.97e7)
    assert matches_published(psn.energy_pj / 1e6, 88.56, digits=4)
    assert matches_published(mf.shift, 7.32e6)
    assert matches_published(mf.add, 7.92e6)
    assert matches_published(mf.energy_pj / 1e6, 8.08)


def test_table6_totals_with_published_synaptic_figures():
    syn_psn = synaptic_energy_pj(0.041e6, 3.194e6)
    syn_mf = synaptic_energy_pj(0.041e6, 2.660e6)
    assert matches_published(syn_psn / 1e6, 3.06)
    assert matches_published(syn_mf / 1e6, 2.58)
    total_psn = layer_ops("psn", N_SCIFAR, T_SCIFAR).energy_pj + syn_psn
    total_mf = layer_ops("mfpsn", N_SCIFAR, T_SCIFAR, K_SCIFAR).energy_pj + syn_mf
    assert total_psn / 1e6 == pytest.approx(91.62, rel=REL)
    assert total_mf / 1e6 == pytest.approx(10.66, rel=REL)
    assert matches_published(total_psn / 1e6, 91.62, digits=4)
    assert matches_published(total_mf / 1e6, 10.66, digits=4)
    assert total_psn / total_mf == pytest.approx(8.6, abs=0.05)


@pytest.mark.parametrize("T,k", [(1, 1), (5, 3), (32, 16), (17, 17)])
def test_published_tap_count_is_taps_inside_the_sequence(T, k):
    assert taps_in_sequence(T, k) == pytest.approx(sum(min(t + 1, k) for t in range(T)))


@pytest.mark.parametrize("T,k,d", [(10, 3, 2), (7, 4, 3), (5, 3, 4), (32, 16, 1)])
def test_exact_count_with_dilation(T, k, d):
    brute = sum(1 for t in range(T) for i in range(k) if t - (k - 1 - i) * d >= 0)
    assert taps_in_sequence(T, k, d, exact=True) == brute
    if (k - 1) * d < T:
        assert brute == k * T - d * k * (k - 1) // 2


def test_formulas_of_table1():
    T, k = 20, 4
    m = k * (T - (k - 1) / 2)
    assert neuron_ops("psn", T).energy_pj == pytest.approx(4.6 * T**2 + 0.9 * T)
    assert neuron_ops("sliding_psn", T, k).energy_pj == pytest.approx(4.6 * m + 0.9 * T)
    assert neuron_ops("mfpsn", T, k).energy_pj == pytest.approx(1.03 * m + 0.9 * T)
    assert neuron_ops("lif", T) == OpCount(mul=2 * T, add=2 * T)
    assert neuron_ops("lif", T, soft_reset=True).add == 3 * T
    # at k = T the MFPSN costs 0.515 T² + 1.415 T pJ
    assert neuron_ops("mfpsn", T, T).energy_pj == pytest.approx(0.515 * T**2 + 1.415 * T)


def test_bad_kind_is_refused():
    with pytest.raises(ValueError, match="expected kind"):
        neuron_ops("gru", 8)
