"""minidl.data: the disk data set's shapes, labels, balance, replicas and determinism."""

from __future__ import annotations

import math

import pytest
import torch

import minidl
from minidl.data import CENTER, RADIUS, disk_label


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def test_constants_are_the_reports():
    assert CENTER == (0.5, 0.5)
    assert math.isclose(RADIUS, 1 / math.sqrt(2 * math.pi), rel_tol=1e-15)
    assert math.pi * RADIUS**2 == pytest.approx(0.5)  # the disk covers half the square
    assert RADIUS < 0.5  # and lies inside it


def test_shapes_dtype_and_range():
    X, y = minidl.disk_dataset(1000, generator=seeded())
    assert X.shape == (1000, 2) and y.shape == (1000, 1)
    assert X.dtype == torch.float32 and y.dtype == torch.float32
    assert X.min() >= 0 and X.max() <= 1
    assert set(y.unique().tolist()) == {0.0, 1.0}
    X64, y64 = minidl.disk_dataset(10, generator=seeded(), dtype=torch.float64)
    assert X64.dtype == y64.dtype == torch.float64


def test_labels_follow_the_disk_definition():
    """y = 1 exactly when ‖x − (0.5, 0.5)‖ < 1/√(2π), computed here independently in float64."""
    X, y = minidl.disk_dataset(5000, generator=seeded(1), dtype=torch.float64)
    distance = torch.sqrt((X[:, 0] - 0.5) ** 2 + (X[:, 1] - 0.5) ** 2)
    expected = (distance < 1 / math.sqrt(2 * math.pi)).to(torch.float64).unsqueeze(1)
    assert torch.equal(y, expected)


def test_disk_label_on_known_points():
    r = 1 / math.sqrt(2 * math.pi)
    points = torch.tensor(
        [[0.5, 0.5], [0.0, 0.0], [1.0, 1.0], [0.5 + 0.99 * r, 0.5], [0.5, 0.5 - 1.01 * r], [0.5, 0.5 + r - 1e-9]],
        dtype=torch.float64,
    )
    assert disk_label(points).squeeze(1).tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 1.0]
    assert disk_label(points.reshape(2, 3, 2)).shape == (2, 3, 1)


def test_classes_are_balanced():
    """The disk has area 1/2: the fraction of ones is Binomial(n, 1/2)/n, standard deviation 1/(2√n).

    With n = 40 000 that is 0.0025; a 5σ bound is 0.0125.
    """
    n = 40_000
    _, y = minidl.disk_dataset(n, generator=seeded(2))
    assert abs(y.mean().item() - 0.5) < 5 * 0.5 / math.sqrt(n)


def test_replicas_shapes_balance_and_independence():
    R, n = 8, 5000
    X, y = minidl.disk_dataset(n, replicas=R, generator=seeded(3))
    assert X.shape == (R, n, 2) and y.shape == (R, n, 1)
    assert torch.equal(y, disk_label(X))
    # each replica is balanced (5σ of its own binomial)...
    assert (y.mean(dim=(1, 2)) - 0.5).abs().max() < 5 * 0.5 / math.sqrt(n)
    # ...and independent of the others: distinct points, and sample correlations of order 1/√n.
    for r in range(R - 1):
        assert not torch.equal(X[r], X[r + 1])
        for axis in range(2):
            a, b = X[r, :, axis].double(), X[r + 1, :, axis].double()
            correlation = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
            assert abs(correlation) < 5 / math.sqrt(n)


def test_same_seed_same_data():
    a = minidl.disk_dataset(100, replicas=3, generator=seeded(7))
    b = minidl.disk_dataset(100, replicas=3, generator=seeded(7))
    c = minidl.disk_dataset(100, replicas=3, generator=seeded(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_successive_draws_differ():
    g = seeded(0)
    X1, _ = minidl.disk_dataset(100, generator=g)
    X2, _ = minidl.disk_dataset(100, generator=g)
    assert not torch.equal(X1, X2)


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        ((0,), {}, r"disk_dataset: n must be a positive integer, got 0"),
        ((-5,), {}, r"disk_dataset: n must be a positive integer, got -5"),
        ((2.5,), {}, r"disk_dataset: n must be a positive integer, got 2.5"),
        ((10,), {"replicas": 0}, r"disk_dataset: replicas must be a positive integer or None, got 0"),
        ((10,), {"replicas": -2}, r"disk_dataset: replicas must be a positive integer or None, got -2"),
    ],
)
def test_bad_sizes_raise_value_error(args, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        minidl.disk_dataset(*args, **kwargs)
