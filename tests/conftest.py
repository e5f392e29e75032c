"""Shared pytest set-up: hypothesis profiles, one torch thread per worker, a seeded generator."""

from __future__ import annotations

import os
import sys

import pytest
import torch
from hypothesis import HealthCheck, settings


def torch_global_state() -> tuple:
    """What importing a library must not change."""
    return (
        torch.is_grad_enabled(),
        torch.get_default_dtype(),
        torch.is_inference_mode_enabled(),
        torch.are_deterministic_algorithms_enabled(),
        torch.initial_seed(),
        tuple(torch.get_rng_state().tolist()),  # no random number drawn from the global generator
    )


# torch's state just before and just after the first import of minidl, for test_package.py;
# None if something imported minidl before this file, in which case that test uses a fresh interpreter.
if "minidl" in sys.modules:
    MINIDL_IMPORT_EFFECT = None
else:
    _before = torch_global_state()
    import minidl  # noqa: E402, F401

    MINIDL_IMPORT_EFFECT = (_before, torch_global_state())

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


@pytest.fixture
def minidl_import_effect() -> tuple[tuple, tuple] | None:
    """torch's global state (before, after) the first import of minidl, or None (see above)."""
    return MINIDL_IMPORT_EFFECT
