"""Neuron layers for the networks: one factory for every neuron type, and the dilation schedule.

A network asks :func:`build_neurons` for its neuron layers, in forward order, by channel count
(features for FC layers). The MFPSN layers among them get one dilation each:

- ``dilations="sawtooth"`` (default): :func:`mfpsn.dilation.sawtooth_dilations` over the network's
  MFPSN layers, ``period`` 3 → 1, 2, 3, 1, 2, 3, … The rule is **reconstructed (open)** (spec §3);
  the dilation advances at every neuron layer of the network, FC and residual-branch neurons
  included (also open; our choice).
- ``dilations="none"``: every MFPSN layer has d = 1.
- ``dilations=[d0, d1, …]``: one explicit value per MFPSN layer (length checked).

Other neuron types ignore the dilation schedule. ``order`` is the number of taps k of MFPSN,
SlidingPSN and MaskedPSN; LIF, PLIF and PSN have none. ``T`` is needed by PSN and MaskedPSN
(their T×T weight), and ignored by the others. ``options`` go to the neuron's constructor
unchanged (e.g. ``{"quantize": False}`` for MFPSN, ``{"tau": 2.0}`` for LIF).
"""
from __future__ import annotations

from typing import Any, Sequence

from torch import nn

__all__ = ["NEURON_KINDS", "layer_dilations", "make_neuron", "build_neurons"]

NEURON_KINDS = ("mfpsn", "lif", "plif", "psn", "masked_psn", "sliding_psn")


def _check_kind(kind: str) -> str:
    if kind not in NEURON_KINDS:
        raise ValueError(f"neuron: expected one of {NEURON_KINDS}, found {kind!r}")
    return kind


def layer_dilations(n_layers: int, dilations: str | Sequence[int] = "sawtooth", period: int = 3) -> list[int]:
    """Dilations of ``n_layers`` MFPSN layers (see the module docstring for the three forms)."""
    from mfpsn.dilation import sawtooth_dilations

    if isinstance(dilations, str):
        if dilations == "sawtooth":
            return [int(d) for d in sawtooth_dilations(n_layers, period=period)]
        if dilations == "none":
            return [1] * n_layers
        raise ValueError(f"dilations: expected 'sawtooth', 'none' or a list of ints, found {dilations!r}")
    out = [int(d) for d in dilations]
    if len(out) != n_layers or any(d < 1 or d != float(v) for d, v in zip(out, dilations)):
        raise ValueError(f"dilations: expected {n_layers} positive integers (one per MFPSN layer), "
                         f"found {list(dilations)!r}")
    return out


def make_neuron(kind: str, channels: int, *, T: int, order: int = 2, dilation: int = 1,
                options: dict[str, Any] | None = None) -> nn.Module:
    """One neuron layer of type ``kind`` for ``channels`` channels (``x: [T, B, channels, *]``)."""
    from mfpsn import neurons

    opts = dict(options or {})
    _check_kind(kind)
    if kind == "mfpsn":
        return neurons.MFPSN(channels, order=order, dilation=dilation, **opts)
    if kind == "lif":
        return neurons.LIF(**opts)
    if kind == "plif":
        return neurons.PLIF(**opts)
    if kind == "psn":
        return neurons.PSN(T, **opts)
    if kind == "masked_psn":
        return neurons.MaskedPSN(order, T, **opts)
    return neurons.SlidingPSN(order, **opts)


def build_neurons(channels: Sequence[int], *, kind: str = "mfpsn", T: int, order: int = 2,
                  dilations: str | Sequence[int] = "sawtooth", period: int = 3,
                  options: dict[str, Any] | None = None) -> list[nn.Module]:
    """Neuron layers for ``channels`` (one entry per layer, in forward order).

    Returns:
        the modules, and for MFPSN each with its dilation from :func:`layer_dilations`.
    """
    _check_kind(kind)
    if int(T) != T or T < 1:
        raise ValueError(f"T: expected a positive integer, found {T!r}")
    if int(order) != order or order < 1:
        raise ValueError(f"order: expected a positive integer, found {order!r}")
    dil = layer_dilations(len(channels), dilations, period) if kind == "mfpsn" else [1] * len(channels)
    return [make_neuron(kind, c, T=int(T), order=int(order), dilation=d, options=options)
            for c, d in zip(channels, dil)]
