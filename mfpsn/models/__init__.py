"""Spiking networks with the neuron type as a parameter, time-first input ``[T, B, ...]``.

- :class:`DVSConvNet` (``"dvs_convnet"``): small conv net for 34x34x2 event frames.
- :class:`SHDNet` (``"shd_net"``): the paper's SHD network without learned delays.
- :class:`SeqImageNet` (``"seq_image_net"``): the sequential-image conv1d net.
- :class:`SeqFCNet` (``"seq_fc_net"``): the feed-forward sMNIST/psMNIST net (4 x 128).
- :class:`SpikingResNet18` (``"spiking_resnet18"``): the DVS-Lip front end (definition only).

Every net stores a JSON-able ``config`` (``model.get_config()``) that :func:`build_model` turns
back into the same architecture, so checkpoints rebuild exactly. ``model(x)`` returns logits
``[B, classes]``; ``model(x, record=True)`` returns ``(logits, traces)`` with one
:class:`~mfpsn.neurons.base.NeuronTrace` per neuron layer (see :mod:`mfpsn.models.base`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mfpsn.models.base import EvidenceNet, SpikingNet
from mfpsn.models.counting import NetworkCount, count_network, counting
from mfpsn.models.dvs_net import DVSConvNet
from mfpsn.models.neurons import NEURON_KINDS, build_neurons, layer_dilations
from mfpsn.models.resnet import SpikingResNet18, StatefulFC
from mfpsn.models.seq_fc_net import SeqFCNet
from mfpsn.models.seq_net import SeqImageNet
from mfpsn.models.shd_net import SHDNet
from mfpsn.neurons.registry import NEURONS, NeuronRegistry

__all__ = ["ARCHS", "NEURON_KINDS", "NEURONS", "NetworkCount", "count_network", "counting", "SpikingNet", "EvidenceNet", "DVSConvNet", "SHDNet", "SeqImageNet", "SeqFCNet", "SpikingResNet18",
           "StatefulFC", "build_model", "build_neurons", "layer_dilations", "with_backend"]

ARCHS = {"dvs_convnet": DVSConvNet, "shd_net": SHDNet, "seq_image_net": SeqImageNet, "seq_fc_net": SeqFCNet,
         "spiking_resnet18": SpikingResNet18}


def build_model(config: dict[str, Any], registry: NeuronRegistry | None = None) -> SpikingNet:
    """The network described by ``config``: ``{"arch": name, **constructor arguments}``; its ``neuron`` kind is
    looked up in ``registry`` (default :data:`mfpsn.neurons.registry.NEURONS`).

    Raises:
        ValueError: unknown ``arch`` or arguments the constructor does not take.
    """
    if not isinstance(config, dict) or "arch" not in config:
        raise ValueError(f"config: expected a dict with an 'arch' key (one of {sorted(ARCHS)}), found {config!r}")
    arch = config["arch"]
    if arch not in ARCHS:
        raise ValueError(f"config['arch']: expected one of {sorted(ARCHS)}, found {arch!r}")
    kwargs = {k: v for k, v in config.items() if k != "arch"}
    try:
        return ARCHS[arch](**kwargs, registry=NEURONS if registry is None else registry)
    except TypeError as exc:
        raise ValueError(f"config for {arch!r}: {exc}") from exc


#: the neuron option that named the backend in cards saved before the knob was unified (``impl``)
LEGACY_BACKEND_KEY = "impl"


def with_backend(config: Mapping[str, Any], backend: str = "auto",
                 registry: NeuronRegistry | None = None) -> dict[str, Any]:
    """``config`` (a :func:`build_model` config) with its neuron's ``backend`` knob set to ``backend``.

    A saved config records the backend the model was trained with (``neuron_options["backend"]``, or
    ``"impl"`` in older cards); that is a property of the run, not of the model, and may not exist on the
    machine that loads it (the fused CPU kernel on a GPU, Triton on a CPU). ``"auto"`` drops the knob so the
    neuron picks per input; another name is set for a neuron that has the knob.

    Raises:
        ValueError: ``backend`` is not one of the neuron's ``supported_backends``.
    """
    out = dict(config)
    options = {k: v for k, v in dict(out.get("neuron_options") or {}).items()
               if k not in ("backend", LEGACY_BACKEND_KEY)}
    if backend != "auto":
        kind = out.get("neuron", "mfpsn")
        supported = getattr((NEURONS if registry is None else registry).record(kind).cls, "supported_backends", ())
        if backend not in supported:
            raise ValueError(f"backend: the {kind!r} neuron takes one of {tuple(supported) or '(no backend knob)'}, "
                             f"found {backend!r}")
        options["backend"] = backend
    if "neuron_options" in out or options:
        out["neuron_options"] = options
    return out
