"""Fixtures shared by the feature-visualization tests."""

from __future__ import annotations

import pytest
import torch

from dreamlab.models import load_model


@pytest.fixture(scope="module")
def tiny():
    """The seed's small CNN with fixed random weights (untrained is fine: gradients still flow)."""
    torch.manual_seed(0)
    return load_model("tiny_cnn", device="cpu")
