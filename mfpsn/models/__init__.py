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
           "StatefulFC", "build_model", "build_neurons", "layer_dilations"]

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
