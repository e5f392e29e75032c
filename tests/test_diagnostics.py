"""Tests of minidl/diagnostics.py: dead units and the paired sign-flip test."""

from __future__ import annotations

import itertools

import pytest
import torch

import minidl
from minidl.diagnostics import dead_units, pre_activations, sign_flip_test


def test_dead_units_counts_units_negative_everywhere():
    lin = minidl.Linear(2, 3, replicas=2)
    lin.weight.zero_()
    lin.bias.copy_(torch.tensor([[-1.0, 1.0, -0.5], [1.0, 1.0, 1.0]]))
    model = minidl.Sequential(lin, minidl.ReLU(), minidl.Linear(3, 1, replicas=2))
    counts = dead_units(model, torch.rand(2, 5, 2))
    assert counts.shape == (2, 2) and counts[:, 0].tolist() == [2, 0]
    assert model.training  # mode restored


def test_pre_activations_are_the_linear_outputs():
    g = torch.Generator().manual_seed(0)
    model = minidl.Sequential(
        minidl.Linear(2, 4, replicas=3, generator=g), minidl.Tanh(), minidl.Linear(4, 1, replicas=3, generator=g)
    )
    X = torch.rand(3, 7, 2, generator=g)
    z1, z2 = pre_activations(model, X)
    torch.testing.assert_close(z1, model[0](X))
    torch.testing.assert_close(z2, model(X))


def _brute_force(d):
    observed = abs(sum(d) / len(d))
    hits = [
        abs(sum(s * x for s, x in zip(signs, d)) / len(d)) >= observed - 1e-12
        for signs in itertools.product((-1, 1), repeat=len(d))
    ]
    return sum(hits) / len(hits)


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_sign_flip_test_matches_brute_force(n):
    g = torch.Generator().manual_seed(n)
    a, b = torch.randn(n, generator=g) + 0.7, torch.randn(n, generator=g)
    assert sign_flip_test(a, b) == pytest.approx(_brute_force((a - b).double().tolist()))


def test_sign_flip_test_extremes_and_errors():
    a = torch.arange(1.0, 11.0)
    assert sign_flip_test(a, torch.zeros(10)) == pytest.approx(2 / 2**10)  # all positive: only ± the observed signs
    assert sign_flip_test(a, a) == 1.0  # no difference at all
    with pytest.raises(ValueError, match="same shape"):
        sign_flip_test(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError):
        sign_flip_test(torch.zeros(25), torch.zeros(25))
