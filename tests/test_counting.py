"""Network op and energy count (:mod:`mfpsn.models.counting`): neuron layers through the registry, synaptic
layers by type; an unregistered neuron-like module is an error, not a silent zero."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mfpsn.energy import E_MAC_PJ, OpCount, neuron_ops
from mfpsn.models import SHDNet, count_network
from mfpsn.neurons.registry import NEURONS, NeuronRecord


class _Counted(nn.Module):
    """x: [T, B, 6] → Linear(6, 4) → LIF-like threshold → Linear(4, 3). Neuron stand-in named LIF."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 4)
        self.sn = LIF()
        self.fc2 = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc2(self.sn(self.fc1(x)))


class LIF(nn.Module):
    v_reset = 0.0

    def forward(self, x):
        return (x >= 0).float()


def test_count_network_on_a_tiny_net():
    torch.manual_seed(0)
    net = _Counted()
    T, B = 5, 3
    x = torch.randn(T, B, 6)
    count = count_network(net, x, registry=STAND_IN)
    assert count.n_neurons == 4
    assert count.neuron_ops == OpCount(mul=4 * 2 * T, add=4 * 2 * T)
    assert count.first_layer_flops == 6 * 4 * T
    rate = float((net.fc1(x) >= 0).float().mean())
    assert count.sops == pytest.approx(rate * 4 * 3 * T)
    assert count.energy_pj == pytest.approx(count.neuron_ops.energy_pj + E_MAC_PJ * 6 * 4 * T
                                            + 0.9 * rate * 4 * 3 * T)
    assert math.isfinite(count.energy_pj)


# the stand-in is registered in a test-local copy of the registry (NEURONS itself is immutable)
STAND_IN = NEURONS.with_records(NeuronRecord(
    "lif_stand_in", LIF, "LIF stand-in", "#000000", build=lambda c: LIF(),
    ops=lambda m, T, exact: neuron_ops("lif", T, soft_reset=m.v_reset is None)))


def test_the_stand_in_is_not_counted_without_its_record():
    count = count_network(_Counted(), torch.randn(5, 3, 6))
    assert count.n_neurons == 0 and "lif_stand_in" not in NEURONS


class _Unregistered(nn.Module):
    def forward(self, x):
        return (x >= 1).float()

    def run(self, x):
        raise NotImplementedError


def test_an_unregistered_neuron_is_refused_not_skipped():
    net = nn.Sequential(nn.Linear(6, 4), _Unregistered())
    with pytest.raises(ValueError, match=r"'1' \(_Unregistered\) looks like a neuron.*no record"):
        count_network(net, torch.randn(5, 3, 6))


@pytest.mark.parametrize("kind", NEURONS.kinds)
def test_every_registered_kind_is_counted_in_a_network(kind):
    T = 6
    net = SHDNet(in_features=5, num_classes=3, T=T, hidden=4, n_hidden=2, neuron=kind, order=2).eval()
    count = count_network(net, torch.rand(T, 2, 5))
    assert [row["kind"] for row in count.neuron_layers] == [kind, kind]
    assert count.n_neurons == 8
    neuron = net.neurons["fc0"]
    assert count.neuron_ops == NEURONS[kind].ops(neuron, T, False).scale(4) + NEURONS[kind].ops(
        net.neurons["fc1"], T, False).scale(4)
    assert count.neuron_ops.energy_pj > 0
