"""Losses: the scalar that training minimises, and its gradient to start backward.

With outputs :math:`\\hat y` and targets :math:`y` of shape ``(n, k)``, each loss
is a mean over the :math:`N = nk` entries. With a leading replica axis
``(R, n, k)`` the mean is taken per replica and the loss has shape ``(R,)``, so
each replica's gradient is exactly what it would be alone.

.. math::

    \\text{MSE} = \\frac1N \\sum_i (\\hat y_i - y_i)^2,
    \\qquad
    \\frac{\\partial\\, \\text{MSE}}{\\partial \\hat y_i} = \\frac{2}{N} (\\hat y_i - y_i).

.. math::

    \\text{BCE}(z, y) = \\frac1N \\sum_i \\bigl[\\log(1 + e^{z_i}) - y_i z_i\\bigr],
    \\qquad
    \\frac{\\partial\\, \\text{BCE}}{\\partial z_i} = \\frac{1}{N} (\\sigma(z_i) - y_i).
"""

from __future__ import annotations

import torch
from torch import Tensor


class Loss:
    """Base class: ``loss_fn(output, target)`` returns the loss, ``loss_fn.backward()`` its gradient.

    Attributes:
        threshold: the output value that separates the two classes when the
            output is read as a prediction (0.5 for a regression on 0/1 targets,
            0 for a logit).
    """

    threshold: float = 0.5

    def __init__(self) -> None:
        self._output: Tensor | None = None
        self._target: Tensor | None = None

    def __call__(self, output: Tensor, target: Tensor) -> Tensor:
        return self.forward(output, target)

    def _check(self, output: Tensor, target: Tensor) -> None:
        name = type(self).__name__
        for what, t in (("output", output), ("target", target)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: {what} must be a torch.Tensor, got {type(t).__name__}")
            if not t.is_floating_point():
                raise TypeError(f"{name}: {what} must be floating point, got dtype {t.dtype}")
        if output.shape != target.shape:
            # Never broadcast: an (n, 1) output against an (n,) target would silently give an (n, n) loss.
            raise ValueError(
                f"{name}: output shape {tuple(output.shape)} and target shape {tuple(target.shape)} differ; "
                "they must be equal (no broadcasting)"
            )
        if output.dim() not in (2, 3):
            raise ValueError(
                f"{name}: expected output of shape (n, k) or (R, n, k), got {tuple(output.shape)}"
            )

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def backward(self) -> Tensor:
        raise NotImplementedError

    def _saved(self) -> tuple[Tensor, Tensor]:
        if self._output is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before the loss was computed")
        return self._output, self._target

    @staticmethod
    def _count(output: Tensor) -> int:
        """N, the number of entries each replica's mean runs over."""
        return output.shape[-2] * output.shape[-1]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """Mean squared error, :math:`\\frac1N \\sum (\\hat y - y)^2`; backward :math:`\\frac2N (\\hat y - y)`.

    Example:
        >>> loss_fn = MSELoss()
        >>> loss_fn(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.0], [0.0]]))
        tensor(0.5000)
        >>> loss_fn.backward()
        tensor([[1.],
                [0.]])
    """

    threshold = 0.5

    def __init__(self) -> None:
        super().__init__()
        self._diff: Tensor | None = None

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        self._check(output, target)
        self._output, self._target = output, target
        # Backward needs ŷ − y too: keep it rather than subtract again.
        self._diff = output - target
        return self._diff.square().mean(dim=(-2, -1))

    def backward(self) -> Tensor:
        output, _ = self._saved()
        return self._diff * (2.0 / self._count(output))


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits ``z``: :math:`\\frac1N \\sum [\\log(1+e^{z}) - y z]`.

    Backward is :math:`\\frac1N (\\sigma(z) - y)`. The loss is computed as
    :math:`\\max(z, 0) - y z + \\log(1 + e^{-|z|})`, which never exponentiates a
    large positive number, so it stays finite and exact for logits of ±200 (the
    naive :math:`-y\\log\\sigma(z) - (1-y)\\log(1-\\sigma(z))` gives inf there).

    Example:
        >>> loss_fn = BCEWithLogitsLoss()
        >>> loss_fn(torch.tensor([[200.0]]), torch.tensor([[0.0]]))
        tensor(200.)
    """

    threshold = 0.0

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        self._check(output, target)
        self._output, self._target = output, target
        z = output
        per_entry = z.clamp_min(0) - z * target + torch.log1p(torch.exp(-z.abs()))
        return per_entry.mean(dim=(-2, -1))

    def backward(self) -> Tensor:
        output, target = self._saved()
        return (torch.sigmoid(output) - target).mul_(1.0 / self._count(output))
