"""Spiking neurons, time-first ``[T, B, C, *]``: the MFPSN and its baselines (same calling convention)."""
from mfpsn.neurons.base import NeuronTrace
from mfpsn.neurons.lif import LIF, PLIF
from mfpsn.neurons.mfpsn import MFPSN
from mfpsn.neurons.psn import PSN, MaskedPSN, SlidingPSN

__all__ = ["MFPSN", "LIF", "PLIF", "PSN", "MaskedPSN", "SlidingPSN", "NeuronTrace"]
