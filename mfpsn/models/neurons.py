"""Neuron layers for the networks: built from the neuron registry (:mod:`mfpsn.neurons.registry`), and the
dilation schedule.

A network asks :func:`build_neurons` for its neuron layers, in forward order, by channel count
(features for FC layers). The MFPSN layers among them get one dilation each:

- ``dilations="sawtooth"`` (default): :func:`mfpsn.dilation.sawtooth_dilations` over the network's
  MFPSN layers, ``period`` 3 → 1, 2, 3, 1, 2, 3, … The rule is **reconstructed (open)** (spec §3);
  the dilation advances at every neuron layer of the network, FC and residual-branch neurons
  included (also open; our choice).
- ``dilations="none"``: every MFPSN layer has d = 1.
- ``dilations="exponential"``: d_l = k^l (:func:`mfpsn.dilation.exponential_dilations`, our addition for
  long sequences: four layers of k = 8 see 4,096 steps); needs the ``order`` k.
- ``dilations=[d0, d1, …]``: one explicit value per MFPSN layer (length checked).

Records with ``dilated=False`` (every neuron but MFPSN) ignore the dilation schedule. ``order`` is the number of taps k of MFPSN,
SlidingPSN and MaskedPSN; LIF, PLIF and PSN have none. ``T`` is needed by PSN and MaskedPSN
(their T×T weight), and ignored by the others. ``options`` go to the neuron's constructor
unchanged (e.g. ``{"quantize": False}`` for MFPSN, ``{"tau": 2.0}`` for LIF). Every function takes
``registry=`` (default :data:`mfpsn.neurons.registry.NEURONS`) so that a test or a user can add a kind
without touching this module.
"""
from __future__ import annotations

from typing import Any, Sequence

from torch import nn

from mfpsn._checks import check_positive_int
from mfpsn.dilation import exponential_dilations, sawtooth_dilations
from mfpsn.neurons.registry import NEURON_KINDS, NEURONS, NeuronConfig, NeuronRegistry

__all__ = ["NEURON_KINDS", "layer_dilations", "make_neuron", "build_neurons"]


def layer_dilations(n_layers: int, dilations: str | Sequence[int] = "sawtooth", period: int = 3,
                    order: int | None = None) -> list[int]:
    """Dilations of ``n_layers`` MFPSN layers (see the module docstring for the four forms).

    ``order`` (k) is needed by ``"exponential"`` only.
    """
    if isinstance(dilations, str):
        if dilations == "sawtooth":
            return [int(d) for d in sawtooth_dilations(n_layers, period=period)]
        if dilations == "none":
            return [1] * n_layers
        if dilations == "exponential":
            if order is None:
                raise ValueError("dilations='exponential': expected the order k (d_l = k^l), found none")
            return exponential_dilations(n_layers, order)
        raise ValueError(f"dilations: expected 'sawtooth', 'none', 'exponential' or a list of ints, "
                         f"found {dilations!r}")
    out = [int(d) for d in dilations]
    if len(out) != n_layers or any(d < 1 or d != float(v) for d, v in zip(out, dilations)):
        raise ValueError(f"dilations: expected {n_layers} positive integers (one per MFPSN layer), "
                         f"found {list(dilations)!r}")
    return out


def make_neuron(kind: str, channels: int, *, T: int, order: int = 2, dilation: int = 1,
                options: dict[str, Any] | None = None, registry: NeuronRegistry | None = None) -> nn.Module:
    """One neuron layer of type ``kind`` for ``channels`` channels (``x: [T, B, channels, *]``)."""
    registry = NEURONS if registry is None else registry
    return registry.build(kind, NeuronConfig(channels, T, order, dilation, dict(options or {})))


def build_neurons(channels: Sequence[int], *, kind: str = "mfpsn", T: int, order: int = 2,
                  dilations: str | Sequence[int] = "sawtooth", period: int = 3,
                  options: dict[str, Any] | None = None, registry: NeuronRegistry | None = None) -> list[nn.Module]:
    """Neuron layers for ``channels`` (one entry per layer, in forward order).

    Returns:
        the modules; those of a ``dilated`` record (MFPSN) each with its dilation from :func:`layer_dilations`.
    """
    registry = NEURONS if registry is None else registry
    record = registry.record(kind)
    T = _positive_whole(T, "T")
    order = _positive_whole(order, "order")
    dil = layer_dilations(len(channels), dilations, period, order) if record.dilated else [1] * len(channels)
    return [make_neuron(kind, c, T=T, order=order, dilation=d, options=options, registry=registry)
            for c, d in zip(channels, dil)]


def _positive_whole(value, name: str) -> int:
    """``value`` as an int when it is a whole number >= 1 (configs read from JSON may hold 4.0)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return check_positive_int(value, name, "build_neurons")
