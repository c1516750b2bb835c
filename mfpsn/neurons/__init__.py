"""Spiking neurons, time-first ``[T, B, C, *]``: the MFPSN and its baselines (same calling convention), and the
registry with one record per kind (:mod:`mfpsn.neurons.registry`)."""
from mfpsn.neurons.base import NeuronTrace
from mfpsn.neurons.lif import LIF, PLIF
from mfpsn.neurons.mfpsn import MFPSN
from mfpsn.neurons.psn import PSN, MaskedPSN, SlidingPSN
from mfpsn.neurons.registry import NEURON_KINDS, NEURONS, NeuronConfig, NeuronRecord, NeuronRegistry, run_epoch_hooks

__all__ = ["MFPSN", "LIF", "PLIF", "PSN", "MaskedPSN", "SlidingPSN", "NeuronTrace", "NEURONS", "NEURON_KINDS",
           "NeuronConfig", "NeuronRecord", "NeuronRegistry", "run_epoch_hooks"]
