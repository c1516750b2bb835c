"""Named orientation presets: explicit, opt-in changes of the stored fields.

Readers return the stored fields unchanged (top-left origin is the core convention). Libraries
and documentation disagree about orientation (spec section 11), so changes are named:

- ``"flip_y"``: y -> H-1-y (a lower-left origin, as iniVation's AEDAT 1.0/2.0 pages and AEDAT 3.0
  use, shown top-left).
- ``"flip_x"``: x -> W-1-x (the mirrored view of jAER's Tmpdiff128 Matlab snippet; tonic's
  ``read_davis_346``).
- ``"transpose"``: swap x and y (and width and height); tonic's ``read_dvs_128`` reads DVS128
  addresses transposed against the iniVation table.
- ``"spikingjelly_cifar10dvs"``: x -> W-1-y, y -> H-1-x, p -> 1-p (SpikingJelly's CIFAR10-DVS loader).
"""
from __future__ import annotations

from mfpsn.events.core import Events

__all__ = ["PRESETS", "reorient"]

PRESETS = ("flip_y", "flip_x", "transpose", "spikingjelly_cifar10dvs")


def reorient(events: Events, preset: str) -> Events:
    """Apply a named preset; returns a new Events (t unchanged, ``meta["orientation"]`` set)."""
    t, x, y, p, w, h = events.t, events.x, events.y, events.p, events.width, events.height
    if preset == "flip_y":
        y = (h - 1 - y.astype(int))
    elif preset == "flip_x":
        x = (w - 1 - x.astype(int))
    elif preset == "transpose":
        x, y, w, h = y, x, h, w
    elif preset == "spikingjelly_cifar10dvs":
        if w != h:
            raise ValueError(f"orientation 'spikingjelly_cifar10dvs' needs a square sensor, found {w}x{h}")
        x, y, p = w - 1 - events.y.astype(int), h - 1 - events.x.astype(int), 1 - p
    else:
        raise ValueError(f"orientation: expected one of {PRESETS}, found {preset!r}")
    return Events(t, x, y, p, w, h, dict(events.meta, orientation=preset))
