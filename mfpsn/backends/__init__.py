"""Backends and the dispatcher: how the fast ops run.

Layers (the import graph has no circle; ``tests/test_import_graph.py`` checks it):

- :mod:`mfpsn.functional`: the maths, the references and the fused CPU kernels (bottom);
- :mod:`mfpsn.kernels`: the Triton kernels (import ``functional`` for references and surrogates);
- :mod:`mfpsn.backends`: the registry of backend records (:mod:`~mfpsn.backends.registry`), ``"auto"``
  (:mod:`~mfpsn.backends.autoselect`) and the dispatcher (:mod:`~mfpsn.backends.dispatch`,
  :mod:`~mfpsn.backends.mfpsn_layer`), above both; the neurons and the benchmark call the dispatcher.
"""
from mfpsn.backends.autoselect import DEFAULT_SELECTOR, AutoSelector, Choice
from mfpsn.backends.dispatch import lif_spikes, resolve, temporal_filter, temporal_filter_spikes
from mfpsn.backends.mfpsn_layer import batch_stats, mfpsn_fold, mfpsn_spikes, mfpsn_trace, mfpsn_train_forward
from mfpsn.backends.registry import BACKENDS, FILTER_BACKENDS, LIF_BACKENDS, OPS, BackendRecord, BackendRegistry

__all__ = [
    "BACKENDS", "BackendRecord", "BackendRegistry", "OPS", "FILTER_BACKENDS", "LIF_BACKENDS",
    "AutoSelector", "Choice", "DEFAULT_SELECTOR",
    "resolve", "temporal_filter", "temporal_filter_spikes", "lif_spikes",
    "batch_stats", "mfpsn_fold", "mfpsn_spikes", "mfpsn_trace", "mfpsn_train_forward",
]
