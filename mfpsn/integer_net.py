"""Whole networks on the integer path: every MFPSN layer of a trained net replaced by its
multiplication-free integer form (:class:`mfpsn.integer.IntegerMFPSN`).

The neuron input (a real-valued BatchNorm/linear output) is rounded to fixed point with ``frac_bits``
fractional bits (``round_mode="nearest"``, **our choice**: the paper gives no input format); the
layer then runs with shifts, additions and compares only, and its spikes go on as float 0/1 into the
next (synaptic) layer. With enough fractional bits the spikes equal the float eval path's except
where an input sits within 2^-frac_bits of the threshold.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from mfpsn.integer import IntegerMFPSN, to_fixed_point

__all__ = ["IntegerNeuron", "integerize"]


class IntegerNeuron(nn.Module):
    """A folded MFPSN layer on the integer path: ``x: [T, B, C, *]`` float → spikes of x's dtype."""

    def __init__(self, layer: IntegerMFPSN) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(to_fixed_point(x, self.layer.frac_bits, round_mode="nearest")).to(x.dtype)

    def run(self, x: torch.Tensor):
        raise ValueError("IntegerNeuron: the integer path has no float membrane to record; use the float model")


def integerize(model: nn.Module, frac_bits: int = 16) -> tuple[nn.Module, int]:
    """A deep copy of ``model`` (eval mode) with every MFPSN neuron layer on the integer path.

    Returns:
        (the copy, how many layers were replaced). Raises ValueError when the net has no MFPSN layer.
    """
    from mfpsn.neurons import MFPSN

    net = copy.deepcopy(model).eval()
    replaced = 0
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, MFPSN):
                if not child.quantize:
                    raise ValueError(f"integerize: layer {name!r} has float taps (quantize=False); only "
                                     f"power-of-two taps run without multiplications")
                setattr(parent, name, IntegerNeuron(IntegerMFPSN.from_module(child, frac_bits)))
                replaced += 1
    if replaced == 0:
        raise ValueError("integerize: the network has no MFPSN layer to replace")
    return net, replaced
