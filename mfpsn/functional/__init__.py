"""Functional core, the bottom layer: pure functions holding the maths, the references beside them and the
fused CPU kernels. Nothing here imports :mod:`mfpsn.kernels` or :mod:`mfpsn.backends`; choosing an
implementation by name (``backend=``) is the dispatcher's job (:mod:`mfpsn.backends`)."""
from mfpsn.functional.filter import lags, temporal_filter_ref, warmup
from mfpsn.functional.quantize import count_clamped, pow2_exponents, pow2_quantize, pow2_value
from mfpsn.functional.surrogate import ATan, Rational, Sigmoid, Surrogate, get_surrogate, heaviside
from mfpsn.functional.lif import lif_multistep, lif_step
from mfpsn.functional.mfpsn import bn_fold, fold_taps, mfpsn_stream_step

__all__ = [
    "temporal_filter_ref", "warmup", "lags",
    "pow2_quantize", "pow2_value", "pow2_exponents", "count_clamped",
    "Surrogate", "ATan", "Rational", "Sigmoid", "get_surrogate", "heaviside",
    "lif_step", "lif_multistep",
    "bn_fold", "fold_taps", "mfpsn_stream_step",
]
