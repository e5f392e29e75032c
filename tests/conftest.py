"""Shared pytest set-up: hypothesis profiles, one torch thread per worker, a seeded generator."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

# Modest by default so the whole suite stays fast on two cores;
# HYPOTHESIS_PROFILE=thorough runs many more examples.
settings.register_profile(
    "default",
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Tiny tensors: extra threads only add overhead, and pytest-xdist already runs one worker per core.
torch.set_num_threads(1)


@pytest.fixture
def gen() -> torch.Generator:
    """A freshly seeded generator, so every test draws the same numbers on every run."""
    return torch.Generator().manual_seed(0)
