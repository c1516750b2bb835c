"""Shared launch helpers for the Triton kernels: availability checks, device checks, dtype checks, the
surrogate → kernel-constant mapping and the block-shape heuristics.

Nothing here imports Triton at module import time, so ``import mfpsn.kernels`` works without it.
"""
from __future__ import annotations

import math

import torch

from mfpsn.functional.surrogate import ATan, Rational, Sigmoid, Surrogate

__all__ = [
    "INSTALL_HINT",
    "KERNEL_DTYPES",
    "require_triton",
    "check_launchable",
    "check_kernel_dtype",
    "surrogate_code",
    "next_pow2",
    "split_work",
    "is_interpreted",
    "program_target",
    "AUTOTUNE_MIN_NUMEL",
]

INSTALL_HINT = "pip install triton"
KERNEL_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
# On CUDA, inputs with fewer values than this run a fixed tile shape: autotuning tiny calls costs more than
# it can gain (and would make the GPU test run slow).
AUTOTUNE_MIN_NUMEL = 1 << 20

# Kernel constant for each surrogate family (the ``SURR`` constexpr of the kernels).
SURR_ATAN, SURR_RATIONAL, SURR_SIGMOID = 0, 1, 2
_SURR_CODES = {ATan: SURR_ATAN, Rational: SURR_RATIONAL, Sigmoid: SURR_SIGMOID}


def require_triton(where: str) -> None:
    """Raise ImportError naming the install command when Triton cannot be imported."""
    try:
        import triton  # noqa: F401
    except ImportError as err:
        raise ImportError(f"{where}: the Triton kernels need the optional dependency triton; install it with "
                          f"`{INSTALL_HINT}` ({err})") from err


def check_launchable(x: torch.Tensor, interpreted: bool, where: str) -> None:
    """Raise RuntimeError unless ``x`` can go to a Triton kernel.

    CUDA tensors always can. CPU tensors only when the kernels were decorated under the Triton interpreter
    (``TRITON_INTERPRET=1`` set before the first use of :mod:`mfpsn.kernels`); ``interpreted`` says which.
    """
    if x.device.type == "cuda":
        if interpreted:
            raise RuntimeError(f"{where}: the kernels were built for the Triton interpreter (TRITON_INTERPRET=1) "
                               f"and cannot take CUDA tensors; unset TRITON_INTERPRET and restart")
        return
    if x.device.type == "cpu" and interpreted:
        return
    raise RuntimeError(
        f"{where}: the Triton kernels need a CUDA tensor, or CPU tensors with TRITON_INTERPRET=1 set in the "
        f"environment before mfpsn.kernels is first used; found a tensor on {x.device} "
        f"(interpreter active: {interpreted})")


def check_kernel_dtype(x: torch.Tensor, name: str, where: str) -> None:
    """Raise ValueError unless ``x`` is float32, bfloat16 or float16."""
    if x.dtype not in KERNEL_DTYPES:
        raise ValueError(f"{where}: expected {name} as float32, bfloat16 or float16, found {x.dtype}")


def surrogate_code(surrogate: Surrogate, where: str) -> tuple[int, float]:
    """Map an ``ATan`` / ``Rational`` / ``Sigmoid`` object to ``(kernel constant, alpha)``."""
    code = _SURR_CODES.get(type(surrogate))
    if code is None:
        raise ValueError(f"{where}: expected surrogate as an ATan, Rational or Sigmoid object from "
                         f"mfpsn.functional.surrogate, found {surrogate!r}")
    return code, float(surrogate.alpha)


def next_pow2(n: int) -> int:
    """Smallest power of two >= n (1 for n <= 1)."""
    return 1 << max(0, math.ceil(math.log2(max(1, n))))


def split_work(extent: int, target_chunks: int, align: int = 1) -> tuple[int, int]:
    """Cut ``extent`` into about ``target_chunks`` chunks of a multiple of ``align``: returns (per, n_chunks)."""
    target_chunks = max(1, min(target_chunks, math.ceil(extent / align)))
    per = math.ceil(math.ceil(extent / target_chunks) / align) * align
    return per, math.ceil(extent / per)


def is_interpreted(kernel: object) -> bool:
    """True when a ``triton.jit`` object was built by the Triton interpreter (``TRITON_INTERPRET=1``)."""
    return type(kernel).__name__ == "InterpretedFunction"


def program_target(device: torch.device) -> int:
    """How many programs a reduction kernel should aim for: 8 per SM on CUDA, 4 under the interpreter
    (enough to exercise the cross-program partial sums while keeping the interpreter fast)."""
    if device.type == "cuda":
        return 8 * torch.cuda.get_device_properties(device).multi_processor_count
    return 4
