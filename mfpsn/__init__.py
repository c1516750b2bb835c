"""mfpsn: the multiplication-free channel-wise parallel spiking neuron (Xue, Fang et al., NeurIPS 2025).

Time-first layout everywhere: ``x: [T, B, C, *]`` with the channel dimension at 2.

>>> import torch
>>> from mfpsn import MFPSN
>>> MFPSN(8, order=2)(torch.randn(5, 2, 8)).shape
torch.Size([5, 2, 8])
"""
from mfpsn.dilation import is_gap_free, reachable_lags, receptive_field, sawtooth_dilations
from mfpsn.backends import temporal_filter
from mfpsn.functional import pow2_quantize
from mfpsn.neurons import LIF, MFPSN, PLIF, PSN, MaskedPSN, NeuronTrace, SlidingPSN

__version__ = "0.1.0"

__all__ = [
    "MFPSN", "LIF", "PLIF", "PSN", "MaskedPSN", "SlidingPSN", "NeuronTrace",
    "sawtooth_dilations", "receptive_field", "reachable_lags", "is_gap_free",
    "temporal_filter", "pow2_quantize",
]
