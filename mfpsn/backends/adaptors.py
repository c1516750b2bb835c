"""The ops of the package's backends, in the one calling convention each op has (see
:data:`mfpsn.backends.registry.OPS`), and their ``available(x)`` answers.

Legend: ``x: [T, B, C, *]``, ``taps: [C, k]``, ``theta: [C]``, ``d`` the dilation; a rate is 1/τ (a number,
or a 0-d tensor for PLIF). The Triton functions import :mod:`mfpsn.kernels` when called (it never imports
Triton itself; a missing Triton is reported by ``mfpsn.kernels.require_backend`` with the install command).
"""
from __future__ import annotations

import os
from typing import Callable

import torch

from mfpsn._checks import channel_view
from mfpsn.functional import fused_cpu, lif_cpu, mfpsn_train_cpu
from mfpsn.functional.filter import fused_filter_spikes
from mfpsn.functional.lif import lif_multistep
from mfpsn.functional.mfpsn import lagged_moments
from mfpsn.functional.surrogate import Surrogate

__all__ = ["Filter", "filter_spikes", "eager_moments", "cpu_only", "fused_available", "triton_available_for", "triton_ready",
           "fused_warmup", "fused_spikes", "fused_lif", "loop_lif", "triton_filter", "triton_spikes", "triton_moments",
           "triton_lif"]

Filter = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def filter_spikes(filt: Filter) -> Callable:
    """The spike op of a backend that has only a filter: ``S = surrogate(filter(x) − θ)``; without a gradient
    ``S = Θ(h − θ)`` computed as ``h >= θ`` under ``no_grad``."""
    def spikes(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, d: int, surrogate: Surrogate):
        if _needs_grad(x, taps, theta):
            h = filt(x, taps, d)
            return surrogate(h - channel_view(theta, h.dim()))
        with torch.no_grad():
            h = filt(x, taps, d)
            return (h >= channel_view(theta.to(h.dtype), h.dim())).to(h.dtype)

    return spikes


def eager_moments(x: torch.Tensor, order: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(m [C, k], M [C, k, k]) in float64 by :func:`mfpsn.functional.mfpsn.lagged_moments` (eager torch)."""
    return lagged_moments(x, order, d)


# ------------------------------------------------------------------------------------------ availability
def cpu_only(x: torch.Tensor) -> str | None:
    return None if x.device.type == "cpu" else f"runs on the CPU only, found x on {x.device}"


def fused_available(x: torch.Tensor) -> str | None:
    """The fused CPU kernels: a CPU tensor in float32/float64 (the C++ build is checked when first called)."""
    if x.device.type != "cpu":
        return f"runs on the CPU only, found x on {x.device}"
    if x.dtype not in fused_cpu.SUPPORTED_DTYPES:
        return f"supports float32 and float64, found {x.dtype}"
    return None


def triton_available_for(x: torch.Tensor) -> str | None:
    """The Triton kernels: a CUDA tensor, or any tensor with ``TRITON_INTERPRET=1`` (the interpreter)."""
    if x.device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        return (f"needs a CUDA device, or TRITON_INTERPRET=1 (set before triton is imported) to run the kernels "
                f"on the CPU; found x on {x.device} and TRITON_INTERPRET unset")
    return None


def triton_ready() -> bool:
    """True when the triton package imports (``auto`` considers the Triton kernels only then)."""
    from mfpsn.kernels import triton_available

    return triton_available()


# ------------------------------------------------------------------------------------------ fused CPU
def fused_warmup() -> None:
    """Build (once per machine) and load both fused CPU libraries: the filter and the LIF loop."""
    fused_cpu.warmup()
    lif_cpu.warmup()


def fused_spikes(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, d: int, surrogate: Surrogate):
    """No gradient: filter, threshold and spike in one pass. With a gradient and the ATan, Sigmoid or Rational
    surrogate: :func:`mfpsn.functional.mfpsn_train_cpu.fused_train_spikes` (the backward recomputes H); other
    surrogates: the fused filter, then the surrogate."""
    if not _needs_grad(x, taps, theta):
        with torch.no_grad():
            return fused_filter_spikes(x, taps, theta, d)
    if mfpsn_train_cpu.supports(x, surrogate):
        return mfpsn_train_cpu.fused_train_spikes(x, taps, theta, d, surrogate)
    from mfpsn.functional.filter import filter_fused

    h = filter_fused(x, taps, d)
    return surrogate(h - channel_view(theta, h.dim()))


def fused_lif(x, rate, v_th, v_reset, detach_reset, surrogate, decay_input) -> torch.Tensor:
    return lif_cpu.fused_lif_cpu(x, rate, v_th, v_reset, detach_reset, surrogate, decay_input)[0]


def loop_lif(x, rate, v_th, v_reset, detach_reset, surrogate, decay_input) -> torch.Tensor:
    return lif_multistep(x, rate, v_th, v_reset, detach_reset, surrogate, decay_input)[0]


# ------------------------------------------------------------------------------------------ Triton
def _missing(what: str, where: str, err: ImportError) -> RuntimeError:
    return RuntimeError(f"{where} needs mfpsn.kernels.{what} (Triton with CUDA, or TRITON_INTERPRET=1 on CPU; "
                        f"pip install triton); it could not be imported: {err}")


def triton_filter(x: torch.Tensor, taps: torch.Tensor, d: int) -> torch.Tensor:
    where = "temporal_filter backend='triton'"
    try:
        from mfpsn.kernels import require_backend, triton_temporal_filter
    except ImportError as err:
        raise _missing("triton_temporal_filter", where, err) from err
    require_backend(where)
    return triton_temporal_filter(x, taps, d)


def triton_spikes(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, d: int, surrogate: Surrogate):
    """Filter, threshold and spike in one kernel, differentiable with the surrogate."""
    where = "MFPSN(backend='triton')"
    try:
        from mfpsn.kernels import fused_mfpsn_spikes, require_backend
    except ImportError as err:
        raise _missing("fused_mfpsn_spikes", where, err) from err
    require_backend(where)
    return fused_mfpsn_spikes(x, taps, theta, d, surrogate)


def triton_moments(x: torch.Tensor, order: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The one-read kernel (float32 partial sums), returned in float64 like :func:`eager_moments`."""
    where = "MFPSN(backend='triton', stats='moments')"
    try:
        from mfpsn.kernels import lagged_moments as kernel_moments
        from mfpsn.kernels import require_backend
    except ImportError as err:
        raise _missing("lagged_moments", where, err) from err
    require_backend(where)
    m, M = kernel_moments(x, order, d)
    return m.double(), M.double()


def triton_lif(x, rate, v_th, v_reset, detach_reset, surrogate, decay_input) -> torch.Tensor:
    """The time loop in one kernel (a number rate, decay_input=True: the record's ``features`` say so)."""
    where = "LIF(backend='triton')"
    try:
        from mfpsn.kernels import fused_lif as kernel_lif
        from mfpsn.kernels import require_backend
    except ImportError as err:
        raise _missing("fused_lif", where, err) from err
    require_backend(where)
    return kernel_lif(x, 1.0 / rate, v_th, v_reset, detach_reset, surrogate)
