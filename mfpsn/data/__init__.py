"""Data sets and simulators: saccades, ESIM, DVS digits, spoken digits (SHD layout).

Exported here: the simulators and the DVS-digits API; spoken digits live in
:mod:`mfpsn.data.spoken_digits` and :mod:`mfpsn.data.cochlea`.

The DVS-digits names (which import torch) load on first access, so that
``python -m mfpsn.data.dvs_digits`` and the simulators do not import them early.
"""
from importlib import import_module
from typing import Any

from mfpsn.data.esim import ESIMConfig, simulate_video
from mfpsn.data.saccades import SaccadeConfig, image_to_events, images_to_events

_LAZY = {"DVSDigits": "mfpsn.data.dvs_digits", "build_dvs_digits": "mfpsn.data.dvs_digits",
         "load_dvs_digits": "mfpsn.data.dvs_digits", "sample_events": "mfpsn.data.dvs_digits"}

__all__ = ["ESIMConfig", "simulate_video", "SaccadeConfig", "image_to_events", "images_to_events", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mfpsn.data' has no attribute {name!r}")
