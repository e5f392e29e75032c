"""Inverted dropout (Srivastava et al., 2014).

In training mode each unit is kept with probability :math:`1 - p` and scaled by
:math:`1/(1-p)`, so that its expectation is unchanged:

.. math::

    m_i \\sim \\text{Bernoulli}(1 - p), \\qquad
    y = \\frac{m \\odot x}{1 - p}, \\qquad
    \\mathbb E[y] = x, \\qquad
    \\frac{\\partial L}{\\partial x} = \\frac{m \\odot \\partial L/\\partial y}{1 - p}.

In evaluation mode it is the identity, so nothing needs rescaling at test time.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode, scale the rest by 1/(1−p).

    ``forward`` saves the scaled mask :math:`m/(1-p)`; ``backward`` multiplies
    ``grad_output`` by the same mask. In eval mode both are the identity.

    Args:
        p: probability of *dropping* an element, in [0, 1] (default 0.5, as torch;
            the report uses 0.2).
        generator: the ``torch.Generator`` that draws the masks.

    Example:
        >>> drop = Dropout(0.2, generator=torch.Generator().manual_seed(0))
        >>> drop.eval()(torch.ones(3))
        tensor([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p is the drop probability and must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.generator = generator
        self._mask: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        if not self.training or self.p == 0.0:
            self._mask = torch.ones((), dtype=x.dtype, device=x.device).expand_as(x)
            return x
        if self.p == 1.0:
            self._mask = torch.zeros_like(x)
        else:
            keep = torch.rand(x.shape, generator=self.generator, dtype=x.dtype, device=x.device) >= self.p
            self._mask = keep.to(x.dtype).div_(1.0 - self.p)
        return x * self._mask

    def backward(self, grad_output: Tensor) -> Tensor:
        self._check_grad_output(grad_output, self._mask)
        return grad_output * self._mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
