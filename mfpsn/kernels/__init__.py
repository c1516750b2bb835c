"""Triton kernels (optional dependency): the fused MFPSN layer, the temporal filter, the fused serial LIF and
the lagged moments of the BatchNorm threshold, each registered as a ``torch.library`` custom op
(``torch.ops.mfpsn.*``, with fake implementations, so ``torch.compile`` traces them).

Importing this package never imports Triton. Calling a function without Triton raises ImportError with the
install command (``pip install triton``); calling it on CPU tensors needs the Triton interpreter
(``TRITON_INTERPRET=1`` set before the first call), otherwise RuntimeError. Kernels and references:

==========================  =====================================  =======================================
function                    kernel file                            reference beside it
==========================  =====================================  =======================================
``triton_temporal_filter``  :mod:`mfpsn.kernels.filter`            ``temporal_filter_ref``
``fused_mfpsn_spikes``      :mod:`mfpsn.kernels.spikes`            ``mfpsn_spikes_ref``
``fused_lif``               :mod:`mfpsn.kernels.lif`               ``lif_ref``
``lagged_moments``          :mod:`mfpsn.kernels.moments`           ``lagged_moments_ref``
==========================  =====================================  =======================================

Without a GPU: the tests run the kernels through the interpreter, and ``python -m mfpsn.tools.aot_check``
compiles every kernel variant for cuda:90 with Triton's real compiler (no launch).
"""
from __future__ import annotations

import torch

from mfpsn.functional.surrogate import Surrogate
from mfpsn.kernels._runtime import INSTALL_HINT, require_triton

__all__ = [
    "INSTALL_HINT",
    "triton_available",
    "require_backend",
    "triton_temporal_filter",
    "fused_mfpsn_spikes",
    "fused_lif",
    "lagged_moments",
    "mfpsn_spikes_ref",
    "lif_ref",
    "lagged_moments_ref",
]


def triton_available() -> bool:
    """True when the ``triton`` package imports (it says nothing about a GPU)."""
    try:
        require_triton("triton_available")
    except ImportError:
        return False
    return True


def require_backend(where: str) -> None:
    """Raise RuntimeError naming the install command when Triton cannot be imported: what callers that select
    the Triton backend by name (``backend="triton"``) promise for a backend that cannot run
    here. The functions below raise ImportError instead."""
    try:
        require_triton(where)
    except ImportError as err:
        raise RuntimeError(str(err)) from err


def triton_temporal_filter(x: torch.Tensor, taps: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """x: [T, B, C, *], taps: [C, k] → h: [T, B, C, *]; see :func:`mfpsn.kernels.filter.triton_temporal_filter`."""
    require_triton("triton_temporal_filter")
    from mfpsn.kernels.filter import triton_temporal_filter as impl

    return impl(x, taps, dilation)


def fused_mfpsn_spikes(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int,
                       surrogate: Surrogate) -> torch.Tensor:
    """x: [T, B, C, *], taps: [C, k], theta: [C] → spikes [T, B, C, *]; see
    :func:`mfpsn.kernels.spikes.fused_mfpsn_spikes`."""
    require_triton("fused_mfpsn_spikes")
    from mfpsn.kernels.spikes import fused_mfpsn_spikes as impl

    return impl(x, taps, theta, dilation, surrogate)


def fused_lif(x: torch.Tensor, tau: float = 2.0, v_th: float = 1.0, v_reset: float | None = 0.0,
              detach_reset: bool = False, surrogate: Surrogate | None = None, v_init: float = 0.0) -> torch.Tensor:
    """x: [T, B, C, *] → spikes [T, B, C, *] (v_reset None = soft reset); see :func:`mfpsn.kernels.lif.fused_lif`."""
    require_triton("fused_lif")
    from mfpsn.kernels.lif import fused_lif as impl

    return impl(x, tau, v_th, v_reset, detach_reset, surrogate, v_init)


def lagged_moments(x: torch.Tensor, order: int, dilation: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """x: [T, B, C, *] → (m1 [C, k], m2 [C, k, k]); see :func:`mfpsn.kernels.moments.lagged_moments`
    (its docstring shows how the MFPSN BatchNorm threshold uses them)."""
    require_triton("lagged_moments")
    from mfpsn.kernels.moments import lagged_moments as impl

    return impl(x, order, dilation)


def mfpsn_spikes_ref(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int,
                     surrogate: Surrogate) -> torch.Tensor:
    """Plain PyTorch reference of :func:`fused_mfpsn_spikes` (autograd)."""
    require_triton("mfpsn_spikes_ref")
    from mfpsn.kernels.spikes import mfpsn_spikes_ref as impl

    return impl(x, taps, theta, dilation, surrogate)


def lif_ref(x: torch.Tensor, tau: float, v_th: float, v_reset: float | None, detach_reset: bool,
            surrogate: Surrogate, v_init: float = 0.0) -> torch.Tensor:
    """Plain Python-loop reference of :func:`fused_lif` (autograd BPTT)."""
    require_triton("lif_ref")
    from mfpsn.kernels.lif import lif_ref as impl

    return impl(x, tau, v_th, v_reset, detach_reset, surrogate, v_init)


def lagged_moments_ref(x: torch.Tensor, order: int, dilation: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain float64 reference of :func:`lagged_moments` (autograd)."""
    require_triton("lagged_moments_ref")
    from mfpsn.kernels.moments import lagged_moments_ref as impl

    return impl(x, order, dilation)
