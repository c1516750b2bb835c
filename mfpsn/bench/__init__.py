"""Benchmark of the temporal filter implementations, the MFPSN neuron and its baselines: ``python -m mfpsn.bench``.

Legend: T time steps, N neurons per time step (N = B·C), C channels, k taps, d dilation; inputs ``[T, B, C]``.

Each row times forward (under ``torch.no_grad()``) and forward+backward (one shared upstream gradient) as the
(upper) median of ``--repeats`` runs after two untimed warm-up calls, synchronizing on CUDA; the minimum is stored
too. The runs are interleaved round-robin over the subjects of one (T, N) cell, so that on a shared machine every
subject sees the same background load and the ratios stay comparable. Effective bandwidth is
(bytes of x read + bytes of the output written) / forward time. Ratios are the serial LIF loop's time divided by
the row's time, measured in the same run (``> 1`` = faster than the loop). Rows whose subject is not available
(a module that has not landed, a kernel without its device) are reported as skipped with the reason, never
estimated. ``--gpu-check`` and ``--events`` hand over to ``mfpsn.bench.gpu_check`` and ``mfpsn.bench.events``.
"""
from mfpsn.bench.cli import main
from mfpsn.bench.subjects import Subject, Unavailable, subjects_for
from mfpsn.bench.timing import interleaved_ms, machine_facts
from mfpsn.timer import median_ms

__all__ = ["main", "Subject", "Unavailable", "subjects_for", "machine_facts", "median_ms", "interleaved_ms"]
