"""Shared test fixtures and markers."""
from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; none is visible")


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same seed."""
    torch.manual_seed(0)
