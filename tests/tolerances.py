"""Comparison tolerances keyed by dtype, in one place (used with ``torch.testing.assert_close``).

float32 results are compared with a float64 reference cast to float32; the sums involved have at most a few
hundred terms of order one, so float32 rounding stays far below 1e-4 while any indexing error is of order one.
"""
from __future__ import annotations

import torch

TOL: dict[torch.dtype, dict[str, float]] = {
    torch.float32: {"rtol": 1e-4, "atol": 1e-4},
    torch.float64: {"rtol": 1e-10, "atol": 1e-10},
}
