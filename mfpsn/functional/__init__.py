"""Functional core: pure functions holding the maths; modules in ``mfpsn.neurons`` call them."""
from mfpsn.functional.autoselect import DEFAULT_SELECTOR, AutoSelector
from mfpsn.functional.filter import IMPLS, lags, temporal_filter, temporal_filter_ref, temporal_filter_spikes, warmup
from mfpsn.functional.quantize import count_clamped, pow2_exponents, pow2_quantize
from mfpsn.functional.surrogate import ATan, Rational, Sigmoid, Surrogate, get_surrogate, heaviside
from mfpsn.functional.lif import lif_multistep, lif_step
from mfpsn.functional.mfpsn import (bn_fold, fold_taps, mfpsn_spikes, mfpsn_stream_step, mfpsn_train_forward)

__all__ = [
    "temporal_filter", "temporal_filter_ref", "temporal_filter_spikes", "warmup", "IMPLS", "lags", "AutoSelector",
    "DEFAULT_SELECTOR",
    "pow2_quantize", "pow2_exponents", "count_clamped",
    "Surrogate", "ATan", "Rational", "Sigmoid", "get_surrogate", "heaviside",
    "lif_step", "lif_multistep",
    "bn_fold", "fold_taps", "mfpsn_train_forward", "mfpsn_spikes", "mfpsn_stream_step",
]
