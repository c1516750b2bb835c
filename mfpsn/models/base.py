"""Common base of the networks: JSON-able config, neuron bookkeeping, recording of neuron traces.

Recording (for the app): ``model(x, record=True)`` returns ``(logits, traces)`` where ``traces``
is a ``dict[str, NeuronTrace]`` keyed by the neuron layer's name (:meth:`SpikingNet.neuron_layers`
gives the same names, in forward order). Each trace comes from the neuron's ``run``:
``spikes`` and ``h`` ``[T, B, C, *]``, ``v_th`` broadcastable against ``h``. With ``record=False``
(the default) the neurons' plain ``forward`` runs and only the logits are returned.

Networks whose logits reduce a per-step readout (:class:`EvidenceNet`) also give that per-step class evidence,
``evidence(x) -> [T, B, classes]``, and with ``record=True`` the evidence and the traces of one single pass.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

__all__ = ["SpikingNet", "EvidenceNet", "fire", "check_input"]


def fire(neuron: nn.Module, name: str, x: torch.Tensor, traces: dict | None) -> torch.Tensor:
    """Spikes of ``neuron`` for ``x: [T, B, C, *]``; stores its ``run`` trace in ``traces[name]``
    when ``traces`` is a dict."""
    if traces is None:
        return neuron(x)
    trace = neuron.run(x)
    traces[name] = trace
    return trace.spikes


def check_input(x: torch.Tensor, shape: tuple[int | None, ...], what: str) -> None:
    """Raise ``ValueError`` unless ``x`` has ``len(shape)`` dims matching ``shape`` (None = any)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{what}: expected a torch.Tensor, found {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{what}: expected a floating-point tensor, found dtype {x.dtype}")
    if x.dim() != len(shape) or any(s is not None and s != n for s, n in zip(shape, x.shape)):
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise ValueError(f"{what}: expected shape {want}, found {list(x.shape)}")


class SpikingNet(nn.Module):
    """Base class: subclasses set ``self.config`` (JSON-able, with ``"arch"``) and name their
    neuron layers in ``self.neurons`` (an ``nn.ModuleDict`` in forward order)."""

    config: dict[str, Any]
    neurons: nn.ModuleDict

    def get_config(self) -> dict[str, Any]:
        """A deep copy of the config that :func:`mfpsn.models.build_model` rebuilds this net from."""
        return copy.deepcopy(self.config)

    def neuron_layers(self) -> dict[str, nn.Module]:
        """Neuron layers by name, in forward order (the keys of ``forward(..., record=True)``)."""
        return dict(self.neurons.items())

    def reset(self) -> None:
        """Clear streaming state of every neuron that has any."""
        for neuron in self.neurons.values():
            if hasattr(neuron, "reset"):
                neuron.reset()


class EvidenceNet(SpikingNet):
    """A :class:`SpikingNet` whose logits reduce a per-step readout over T. Subclasses define ``_evidence(x,
    traces) -> [T, B, classes]`` (storing neuron traces in ``traces`` when it is a dict) and may override
    :meth:`logits_from_evidence` (default: the mean over T)."""

    def _evidence(self, x: torch.Tensor, traces: dict | None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, record: bool = False):
        """``x: [T, B, ...]`` → logits ``[B, classes]`` (and the traces when ``record``)."""
        traces: dict | None = {} if record else None
        logits = self.logits_from_evidence(self._evidence(x, traces))
        return (logits, traces) if record else logits

    def evidence(self, x: torch.Tensor, record: bool = False):
        """Per-step class evidence ``[T, B, classes]`` (the readout before the reduction over T); with ``record``,
        ``(evidence, traces)`` of the same single pass (``logits_from_evidence(evidence)`` are the logits)."""
        traces: dict | None = {} if record else None
        evidence = self._evidence(x, traces)
        return (evidence, traces) if record else evidence

    @staticmethod
    def logits_from_evidence(evidence: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, classes]`` of evidence ``[T, B, classes]``: the mean over T."""
        return evidence.mean(0)
