"""The one home of the hand-written argument checks and the channel-view helper.

Every check returns the value it accepts (so ``self.order = check_positive_int(order, "order k", who)``) and
raises ``ValueError`` naming who asked, the argument, what was expected and what was found. No imports from
the rest of the package: every layer may use this module.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch

__all__ = ["check_positive_int", "check_optional_int", "check_choice", "check_positive_number",
           "check_unit_interval", "channel_view"]


def check_positive_int(value: Any, name: str, who: str) -> int:
    """Return ``value`` if it is an int >= 1 (bool refused), else raise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{who}: expected {name} to be an int >= 1, found {value!r}")
    return value


def check_optional_int(value: Any, name: str, who: str) -> int | None:
    """Return ``value`` if it is None or an int (bool refused)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{who}: expected {name} to be an int or None, found {value!r}")
    return value


def check_choice(value: Any, name: str, choices: Sequence[Any], who: str) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{who}: expected {name} in {tuple(choices)}, found {value!r}")
    return value


def check_positive_number(value: Any, name: str, who: str) -> float:
    """Return ``float(value)`` if it is a finite real number > 0 (bool refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{who}: expected {name} > 0, found {value!r}")
    return float(value)


def check_unit_interval(value: Any, name: str, who: str) -> float:
    """Return ``float(value)`` if it is a real number in [0, 1] (bool refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{who}: expected {name} in [0, 1], found {value!r}")
    return float(value)


def channel_view(v: torch.Tensor, ndim: int, dim: int = 2) -> torch.Tensor:
    """A 1-d tensor ``[n]`` reshaped to broadcast along ``dim`` of an ``ndim``-dim tensor.

    ``channel_view(theta [C], 5)`` → ``[1, 1, C, 1, 1]``; ``channel_view(theta [T], 4, dim=0)`` →
    ``[T, 1, 1, 1]``; ``channel_view(theta [C], 3, dim=1)`` → ``[1, C, 1]`` (one time step ``[B, C, *]``).
    """
    shape = [1] * ndim
    shape[dim] = v.shape[0]
    return v.reshape(shape)
