"""Operation counts and energy estimates of spiking-neuron layers (spec §7; paper Tables 1, 6, 9).

Per neuron and per sequence of T steps, with ``m = k·(T − (k−1)/2)`` the taps that fall inside the sequence
(= Σ_t min(t + 1, k) for k <= T):

=============  ====================  ==========  ========================================  ==========================
neuron         MUL                   SHIFT       ADD                                       energy (pJ)
=============  ====================  ==========  ========================================  ==========================
PSN            T²                    –           T² + T                                    4.6·T² + 0.9·T
Sliding PSN    m                     –           m + T                                     4.6·m + 0.9·T
MFPSN          –                     m           m + T                                     1.03·m + 0.9·T
LIF            2T                    –           2T (hard reset) or 3T (soft reset)        3.7 per MUL + 0.9 per ADD
=============  ====================  ==========  ========================================  ==========================

Every row is ``E = 3.7·MUL + 0.13·SHIFT + 0.9·ADD`` pJ with the published 45 nm constants (FP32 MUL 3.7 pJ,
FP32 ADD 0.9 pJ, FIX32 shift 0.13 pJ; so MAC = 4.6 pJ and SHIFT+ADD = 1.03 pJ). Nothing here was measured on
silicon. The LIF row is **reconstructed (open)**; the paper does not tabulate it.

The published formulas ignore dilation. ``exact=True`` counts the taps that really fall inside the sequence,
``Σ_i max(0, T − lag_i)`` with ``lag_i = (k − 1 − i)·d`` (= k·T − d·k(k−1)/2 when (k−1)·d < T).

Counting a whole network (neuron layers found through the neuron registry, synaptic layers by type) is
:func:`mfpsn.models.counting.count_network`; this module holds only the formulas and constants.

Synaptic layers (following Spikformer, as the paper does): ``E_syn = 4.6 pJ × FLOPs of the first (encoding)
layer + 0.9 pJ × Σ SOPs of the others``, with ``SOP = firing rate × T × FLOPs`` of that layer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "E_MUL_PJ", "E_ADD_PJ", "E_SHIFT_PJ", "E_MAC_PJ", "E_AC_PJ",
    "OpCount", "FORMULAS", "taps_in_sequence", "neuron_ops", "layer_ops", "synaptic_energy_pj",
]

E_MUL_PJ = 3.7     # FP32 multiply, 45 nm
E_ADD_PJ = 0.9     # FP32 add, 45 nm (also one accumulate, AC)
E_SHIFT_PJ = 0.13  # FIX32 shift (ShiftAddNAS)
E_MAC_PJ = E_MUL_PJ + E_ADD_PJ  # 4.6
E_AC_PJ = E_ADD_PJ

#: The rows of the table above (formulas, not neuron kinds: each neuron record in
#: :mod:`mfpsn.neurons.registry` says which row and parameters its modules use).
FORMULAS = ("psn", "sliding_psn", "mfpsn", "lif")
NeuronKind = Literal["psn", "sliding_psn", "mfpsn", "lif"]


@dataclass(frozen=True)
class OpCount:
    """Operation counts; ``energy_pj`` = 3.7·mul + 0.13·shift + 0.9·add."""

    mul: float = 0.0
    shift: float = 0.0
    add: float = 0.0

    @property
    def energy_pj(self) -> float:
        return E_MUL_PJ * self.mul + E_SHIFT_PJ * self.shift + E_ADD_PJ * self.add

    def __add__(self, other: "OpCount") -> "OpCount":
        return OpCount(self.mul + other.mul, self.shift + other.shift, self.add + other.add)

    def scale(self, n: float) -> "OpCount":
        return OpCount(self.mul * n, self.shift * n, self.add * n)


def taps_in_sequence(T: int, order: int, dilation: int = 1, exact: bool = False) -> float:
    """Multiply-adds of a k-tap causal filter over T steps.

    ``exact=False``: the published k·(T − (k−1)/2) (ignores dilation, assumes k <= T).
    ``exact=True``: Σ_i max(0, T − (k−1−i)·d).
    """
    if T < 1 or order < 1 or dilation < 1:
        raise ValueError(f"taps_in_sequence: expected T, order, dilation >= 1, found {T}, {order}, {dilation}")
    if exact:
        return float(sum(max(0, T - (order - 1 - i) * dilation) for i in range(order)))
    return order * (T - (order - 1) / 2)


def neuron_ops(kind: NeuronKind, T: int, order: int = 1, dilation: int = 1, *,
               soft_reset: bool = False, exact: bool = False) -> OpCount:
    """Operations of ONE neuron over a sequence of T steps (see the module table)."""
    if kind == "psn":
        return OpCount(mul=T * T, add=T * T + T)
    if kind == "sliding_psn":
        m = taps_in_sequence(T, order, 1, exact)
        return OpCount(mul=m, add=m + T)
    if kind == "mfpsn":
        m = taps_in_sequence(T, order, dilation, exact)
        return OpCount(shift=m, add=m + T)
    if kind == "lif":
        return OpCount(mul=2 * T, add=(3 if soft_reset else 2) * T)
    raise ValueError(f"neuron_ops: expected kind in {FORMULAS}, found {kind!r}")


def layer_ops(kind: NeuronKind, n_neurons: int, T: int, order: int = 1, dilation: int = 1, *,
              soft_reset: bool = False, exact: bool = False) -> OpCount:
    """Operations of a layer of ``n_neurons`` neurons over T steps."""
    return neuron_ops(kind, T, order, dilation, soft_reset=soft_reset, exact=exact).scale(n_neurons)


def synaptic_energy_pj(first_layer_flops: float, sops: float) -> float:
    """4.6 pJ × FLOPs of the encoding layer + 0.9 pJ × SOPs of the spike-driven layers."""
    return E_MAC_PJ * first_layer_flops + E_AC_PJ * sops
