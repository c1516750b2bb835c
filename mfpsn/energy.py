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

Synaptic layers (following Spikformer, as the paper does): ``E_syn = 4.6 pJ × FLOPs of the first (encoding)
layer + 0.9 pJ × Σ SOPs of the others``, with ``SOP = firing rate × T × FLOPs`` of that layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

__all__ = [
    "E_MUL_PJ", "E_ADD_PJ", "E_SHIFT_PJ", "E_MAC_PJ", "E_AC_PJ",
    "OpCount", "taps_in_sequence", "neuron_ops", "layer_ops", "synaptic_energy_pj",
    "NetworkCount", "count_network",
]

E_MUL_PJ = 3.7     # FP32 multiply, 45 nm
E_ADD_PJ = 0.9     # FP32 add, 45 nm (also one accumulate, AC)
E_SHIFT_PJ = 0.13  # FIX32 shift (ShiftAddNAS)
E_MAC_PJ = E_MUL_PJ + E_ADD_PJ  # 4.6
E_AC_PJ = E_ADD_PJ

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
    raise ValueError(f"neuron_ops: expected kind in ('psn', 'sliding_psn', 'mfpsn', 'lif'), found {kind!r}")


def layer_ops(kind: NeuronKind, n_neurons: int, T: int, order: int = 1, dilation: int = 1, *,
              soft_reset: bool = False, exact: bool = False) -> OpCount:
    """Operations of a layer of ``n_neurons`` neurons over T steps."""
    return neuron_ops(kind, T, order, dilation, soft_reset=soft_reset, exact=exact).scale(n_neurons)


def synaptic_energy_pj(first_layer_flops: float, sops: float) -> float:
    """4.6 pJ × FLOPs of the encoding layer + 0.9 pJ × SOPs of the spike-driven layers."""
    return E_MAC_PJ * first_layer_flops + E_AC_PJ * sops


# ----------------------------------------------------------------------------------------------- networks
def _neuron_kind(module: nn.Module) -> tuple[NeuronKind, dict] | None:
    """Map a neuron module to its op-count row, or None when ``module`` is not a neuron."""
    name = type(module).__name__
    if name == "MFPSN":
        return "mfpsn", {"order": int(module.order), "dilation": int(module.dilation)}
    if name == "SlidingPSN":
        return "sliding_psn", {"order": int(module.order)}
    if name in ("PSN", "MaskedPSN"):
        return "psn", {}
    if name in ("LIF", "PLIF"):
        return "lif", {"soft_reset": getattr(module, "v_reset", 0.0) is None}
    return None


def _synaptic_macs(module: nn.Module, out: torch.Tensor) -> float | None:
    """Total MACs of one call of a Linear/Conv layer that produced ``out`` (all samples, all steps)."""
    if isinstance(module, nn.Linear):
        return float(out.numel() * module.in_features)
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        per_out = module.in_channels // module.groups
        for s in module.kernel_size:
            per_out *= s
        return float(out.numel() * per_out)
    return None


@dataclass
class NetworkCount:
    """Per-layer neuron ops and synaptic figures of one network on one input batch (per sample)."""

    T: int
    neuron_layers: list[dict] = field(default_factory=list)
    synaptic_layers: list[dict] = field(default_factory=list)

    @property
    def neuron_ops(self) -> OpCount:
        total = OpCount()
        for row in self.neuron_layers:
            total = total + row["ops"]
        return total

    @property
    def n_neurons(self) -> int:
        return sum(row["neurons"] for row in self.neuron_layers)

    @property
    def first_layer_flops(self) -> float:
        return self.synaptic_layers[0]["flops"] if self.synaptic_layers else 0.0

    @property
    def sops(self) -> float:
        """Σ over the spike-driven layers of firing rate × T × per-step FLOPs (``flops`` holds × T already)."""
        return sum(row["flops"] * row["input_rate"] for row in self.synaptic_layers[1:])

    @property
    def synaptic_energy_pj(self) -> float:
        return synaptic_energy_pj(self.first_layer_flops, self.sops)

    @property
    def energy_pj(self) -> float:
        return self.neuron_ops.energy_pj + self.synaptic_energy_pj


def count_network(model: nn.Module, x: torch.Tensor, *, exact: bool = False) -> NetworkCount:
    """Count neuron ops and synaptic FLOPs/SOPs of ``model`` on the time-first input ``x: [T, B, ...]``.

    Neuron layers are found by type (MFPSN, SlidingPSN, PSN, MaskedPSN, LIF, PLIF); their neuron count is the
    per-sample, per-step size of their input. Synaptic layers (Linear, Conv1d/2d/3d) are taken in call order:
    the first is the encoding layer (MACs on real-valued input); for the others the firing rate is the mean of
    their input (spikes), so SOPs = rate × T × FLOPs. Per-sample figures, averaged over the batch.

    Every ``flops`` entry is per sample over the whole sequence (per-step MACs × T). The paper's Table 6 appears
    to quote the encoding layer per step; to reproduce it, pass its published figures to
    :func:`synaptic_energy_pj` directly.
    """
    if x.dim() < 3:
        raise ValueError(f"count_network: expected a time-first input [T, B, ...], found shape {tuple(x.shape)}")
    T, B = x.shape[0], x.shape[1]
    result = NetworkCount(T=T)
    handles = []

    def neuron_hook(mod, inputs, output, kind, kw):
        neurons = inputs[0][0, 0].numel()                          # per sample, per step
        result.neuron_layers.append({"name": mod_names[mod], "kind": kind, "neurons": neurons,
                                     "ops": layer_ops(kind, neurons, T, exact=exact, **kw)})

    def syn_hook(mod, inputs, output):
        # works whether time is folded into the batch ([T·B, ...]) or kept ([T, B, ...])
        flops_step = _synaptic_macs(mod, output) / (T * B)      # per sample, per step
        result.synaptic_layers.append({"name": mod_names[mod], "flops": flops_step * T,
                                       "input_rate": float(inputs[0].float().mean())})

    mod_names = {m: n for n, m in model.named_modules()}
    for m in model.modules():
        kind = _neuron_kind(m)
        if kind is not None:
            handles.append(m.register_forward_hook(lambda mod, i, o, k=kind[0], kw=kind[1]: neuron_hook(mod, i, o, k, kw)))
        elif isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            handles.append(m.register_forward_hook(syn_hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return result
