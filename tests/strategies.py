"""Hypothesis strategies shared by the tests (in the manner of MiniTorch's ``tests/strategies.py``).

Tensors are drawn as a seed and filled by torch, which keeps examples cheap;
hypothesis explores the shapes, replica counts and hyper-parameters, where
bugs like an ELU that ignores ``alpha`` hide.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

seeds = st.integers(0, 2**31 - 1)

# Sizes of a mini-batch and of a layer; replicas is None (one network) or R.
batch_sizes = st.integers(1, 7)
features = st.integers(1, 6)
replicas = st.one_of(st.none(), st.integers(1, 4))

# Hyper-parameters: α of ELU, β of LeakyReLU, λ of Sigmoid, p of Dropout.
alphas = st.floats(0.0, 3.0)
negative_slopes = st.floats(0.0, 1.0)
slopes = st.floats(0.05, 5.0)
drop_probabilities = st.floats(0.0, 1.0)

# Optimizer settings.
learning_rates = st.floats(1e-4, 0.5)
betas = st.tuples(st.floats(0.0, 0.99), st.floats(0.0, 0.9999))
epsilons = st.floats(1e-10, 1e-3)


@st.composite
def shapes(draw, min_dims: int = 1, max_dims: int = 4) -> tuple[int, ...]:
    """Any small shape: activations and dropout work element-wise on every shape."""
    return tuple(draw(st.lists(st.integers(1, 5), min_size=min_dims, max_size=max_dims)))


@st.composite
def batch_shapes(draw, width: int | None = None) -> tuple[int, ...]:
    """``(n, k)`` or ``(R, n, k)``: what a layer or a loss receives."""
    lead = draw(replicas)
    k = draw(features) if width is None else width
    return (() if lead is None else (lead,)) + (draw(batch_sizes), k)


@st.composite
def tensors(draw, shape: tuple[int, ...], dtype: torch.dtype = torch.float64, zeros: bool = True) -> torch.Tensor:
    """A normal tensor of ``shape`` with a drawn scale; some entries exactly 0 when ``zeros``.

    Exact zeros test the derivative convention at the kink (torch's ReLU'(0) = 0,
    ELU'(0) = α, LeakyReLU'(0) = β), which random normals never hit.
    """
    g = torch.Generator().manual_seed(draw(seeds))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0]))
    x = torch.randn(shape, generator=g, dtype=dtype) * scale
    if zeros and draw(st.booleans()):
        x[torch.rand(shape, generator=g) < 0.2] = 0.0
    return x
