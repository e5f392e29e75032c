"""Optimizers: they update the ``(value, grad)`` pairs that ``model.param()`` returns.

The state an optimizer needs (Adam's moments) lives here, in lists parallel to
the parameters, not on the layers: a layer computes gradients, an optimizer
decides what to do with them, and either can change without the other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from .module import ParamPair


class Optimizer:
    """Base class: holds the parameter pairs; ``zero_grad()`` clears their gradients in place."""

    def __init__(self, params: Iterable[ParamPair], lr: float) -> None:
        name = type(self).__name__
        params = list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        for i, pair in enumerate(params):
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(t, Tensor) for t in pair)):
                raise TypeError(f"{name}: parameter {i} is not a (value, grad) pair of tensors; pass model.param()")
            if pair[0].shape != pair[1].shape:
                raise ValueError(
                    f"{name}: parameter {i} has value shape {tuple(pair[0].shape)} but grad shape {tuple(pair[1].shape)}"
                )
        if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
            raise ValueError(f"{name}: learning rate must be a positive number, got {lr!r}")
        self.params = params
        self.lr = float(lr)

    def zero_grad(self) -> None:
        """Set every gradient to zero, in place (the tensors the modules hold)."""
        for _, grad in self.params:
            grad.zero_()

    def step(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr})"


class SGD(Optimizer):
    """Stochastic gradient descent with a constant learning rate: :math:`\\theta \\leftarrow \\theta - \\eta\\, g`.

    Args:
        params: ``model.param()``.
        lr: the learning rate η > 0.

    Example:
        >>> optimizer = SGD(model.param(), lr=0.1)
        >>> optimizer.zero_grad(); model.backward(loss_fn.backward()); optimizer.step()
    """

    def step(self) -> None:
        for value, grad in self.params:
            value.add_(grad, alpha=-self.lr)


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with exactly the update of ``torch.optim.Adam``.

    At step :math:`t`, for each parameter θ with gradient :math:`g`:

    .. math::

        m_t &= \\beta_1 m_{t-1} + (1 - \\beta_1)\\, g \\\\
        v_t &= \\beta_2 v_{t-1} + (1 - \\beta_2)\\, g^2 \\\\
        \\hat m_t &= m_t / (1 - \\beta_1^t), \\qquad \\hat v_t = v_t / (1 - \\beta_2^t) \\\\
        \\theta_t &= \\theta_{t-1} - \\eta\\, \\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon)

    with :math:`m_0 = v_0 = 0`. The bias corrections undo the pull of those zeros
    towards 0 in the first steps. The operations are ordered as torch orders
    them, so the two produce the same trajectory to rounding.

    Args:
        params: ``model.param()``.
        lr: the learning rate η (default 1e-3).
        betas: (β₁, β₂), each in [0, 1) (default (0.9, 0.999)).
        eps: ε > 0 added to the denominator (default 1e-8).

    Example:
        >>> optimizer = Adam(model.param(), lr=1e-3)
    """

    def __init__(
        self,
        params: Iterable[ParamPair],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas!r}")
        if not eps >= 0.0:
            raise ValueError(f"Adam: eps must be non-negative, got {eps!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.t = 0
        self.exp_avg = [torch.zeros_like(value) for value, _ in self.params]
        self.exp_avg_sq = [torch.zeros_like(value) for value, _ in self.params]

    def step(self) -> None:
        beta1, beta2 = self.betas
        self.t += 1
        bias_correction1 = 1 - beta1**self.t
        bias_correction2_sqrt = math.sqrt(1 - beta2**self.t)
        step_size = self.lr / bias_correction1
        for (value, grad), m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            m.lerp_(grad, 1 - beta1)  # m ← β₁ m + (1 − β₁) g
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # v ← β₂ v + (1 − β₂) g²
            denom = (v.sqrt() / bias_correction2_sqrt).add_(self.eps)  # √v̂ + ε
            value.addcdiv_(m, denom, value=-step_size)  # θ ← θ − η m̂ / (√v̂ + ε)

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps})"
