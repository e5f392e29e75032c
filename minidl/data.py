"""The report's data set: points of the unit square, labelled inside or outside a disk.

.. math::

    X \\sim \\mathcal U([0, 1]^2), \\qquad
    y = \\mathbb 1\\bigl[\\lVert X - (0.5, 0.5) \\rVert < r\\bigr], \\qquad
    r = \\frac{1}{\\sqrt{2\\pi}}.

The disk has area :math:`\\pi r^2 = 1/2` and lies inside the square
(:math:`r \\approx 0.399 < 0.5`), so the two classes are balanced.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .module import _is_count

CENTER = (0.5, 0.5)
RADIUS = 1.0 / math.sqrt(2.0 * math.pi)


def disk_label(X: Tensor) -> Tensor:
    """1.0 for points strictly inside the disk, 0.0 outside; shape ``(*, 1)`` for ``X`` of shape ``(*, 2)``."""
    center = torch.tensor(CENTER, dtype=X.dtype, device=X.device)
    return ((X - center).square().sum(-1, keepdim=True) < RADIUS**2).to(X.dtype)


def disk_dataset(
    n: int,
    *,
    replicas: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Draw ``n`` labelled points, or ``replicas`` independent sets of ``n``.

    Args:
        n: number of points per set.
        replicas: R, to draw R independent sets at once, or ``None`` for one.
        generator: the ``torch.Generator`` that draws the points.
        device, dtype: of the returned tensors (default float32).

    Returns:
        ``(X, y)`` of shapes ``(n, 2)`` and ``(n, 1)``, or ``(R, n, 2)`` and
        ``(R, n, 1)`` with replicas.

    Example:
        >>> X, y = disk_dataset(1000, generator=torch.Generator().manual_seed(0))
        >>> X.shape, y.shape
        (torch.Size([1000, 2]), torch.Size([1000, 1]))
    """
    if not _is_count(n):
        raise ValueError(f"disk_dataset: n must be a positive integer, got {n!r}")
    if replicas is not None and not _is_count(replicas):
        raise ValueError(f"disk_dataset: replicas must be a positive integer or None, got {replicas!r}")
    lead = () if replicas is None else (replicas,)
    X = torch.rand(*lead, n, 2, generator=generator, device=device, dtype=dtype)
    return X, disk_label(X)
