"""Diagnostics of trained replicas: dead ReLU units, and a paired test between two configurations.

A unit whose pre-activation :math:`z = w \\cdot h + b` is :math:`\\le 0` on every
training sample is *dead* when a ReLU follows it: it outputs 0 and its
derivative :math:`\\mathbb 1[z > 0]` is 0, so no gradient passes through it.

Two configurations trained on the same data sets, round by round, give paired
errors :math:`a_k, b_k`. If they do not differ, each difference
:math:`d_k = a_k - b_k` is as likely as :math:`-d_k`, and the observed
:math:`|\\bar d|` is an ordinary draw among the :math:`2^n` values of
:math:`|\\frac1n \\sum_k \\pm d_k|`; the p-value is the share at least as large.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .linear import Linear
from .module import Sequential

__all__ = ["dead_units", "pre_activations", "sign_flip_test"]


def pre_activations(model: Sequential, X: Tensor) -> list[Tensor]:
    """The output of every Linear layer of ``model`` (eval mode) on inputs ``X`` of shape ``(R, n, d)``.

    Returns:
        One tensor of shape ``(R, n, units)`` per Linear layer, the output layer last.
    """
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for module in model.modules:
            X = module(X)
            if isinstance(module, Linear):
                outputs.append(X)
    finally:
        model.train(was_training)
    return outputs


def dead_units(model: Sequential, X: Tensor) -> Tensor:
    """Units of each Linear layer whose pre-activation is ≤ 0 for every sample of ``X``.

    Followed by a ReLU, such a unit outputs 0 and passes back a zero gradient for
    every sample, so its own weights stop learning; only a change in the layers
    before it can revive it. When the unit is the *output*, every gradient of the
    network goes through it: the whole network is frozen for good.

    Args:
        model: a replicated :class:`~minidl.Sequential` (run in eval mode here).
        X: inputs of shape ``(R, n, d)``.

    Returns:
        Integer tensor of shape ``(R, L)``: the count per replica for each of the L
        Linear layers (the last column is the output unit).
    """
    return torch.stack([(z <= 0).all(dim=-2).sum(dim=-1) for z in pre_activations(model, X)], dim=-1)


def sign_flip_test(a: Tensor, b: Tensor) -> float:
    """Two-sided p-value of the exact paired sign-flip test of "``a`` and ``b`` do not differ".

    Enumerates the :math:`2^n` sign patterns of the differences (n ≤ 24 pairs), so
    the p-value is exact; it is never below :math:`2/2^n` (the observed pattern and
    its opposite).

    Example:
        >>> sign_flip_test(torch.tensor([3.0, 4.0, 5.0]), torch.tensor([1.0, 2.0, 3.0]))
        0.25
    """
    if a.shape != b.shape or not 1 <= a.numel() <= 24:
        raise ValueError(
            f"sign_flip_test: need two tensors of the same shape with 1 to 24 pairs, got {a.shape}, {b.shape}"
        )
    d = (a - b).double().flatten()
    n = d.numel()
    observed = d.mean().abs()
    bits = torch.arange(n)
    at_least = 0
    for start in range(0, 2**n, 2**16):
        codes = torch.arange(start, min(start + 2**16, 2**n)).unsqueeze(1)
        signs = 1.0 - 2.0 * ((codes >> bits) & 1).double()  # one row per sign pattern
        at_least += int(((signs @ d).abs() / n >= observed - 1e-12 * (1 + observed)).sum())
    return at_least / 2**n
