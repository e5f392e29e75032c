r"""Element-wise activations and their derivatives.

Each activation applies :math:`y = f(x)` element by element, so its backward is
an element-wise product, :math:`\partial L/\partial x = \partial L/\partial y
\odot f'(x)`. Each saves the one tensor its derivative is written in:

============  ===============================================  =============================================  =====
module        :math:`f(x)`                                     :math:`f'(x)`                                  saves
============  ===============================================  =============================================  =====
ReLU          :math:`\max(0, x)`                               :math:`\mathbb 1[x > 0]`                       x
Tanh          :math:`\tanh x`                                  :math:`1 - y^2`                                y
Sigmoid(λ)    :math:`1 / (1 + e^{-\lambda x})`                 :math:`\lambda\, y (1 - y)`                    y
ELU(α)        :math:`x` if :math:`x > 0` else                  :math:`1` if :math:`x > 0` else                x
              :math:`\alpha (e^x - 1)`                         :math:`\alpha e^x`
LeakyReLU(β)  :math:`x` if :math:`x > 0` else :math:`\beta x`  :math:`1` if :math:`x > 0` else :math:`\beta`  x
============  ===============================================  =============================================  =====

ELU and LeakyReLU also keep the mask :math:`x > 0` with which forward picked a
branch, so that backward picks with the same mask instead of computing it again.
None has parameters, so none overrides ``param()``; all work on any shape,
with or without a leading replica axis.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .module import Module


class ReLU(Module):
    """Rectified linear unit, :math:`y = \\max(0, x)`, :math:`y' = \\mathbb 1[x > 0]`.

    A unit whose input is negative for every sample gets zero gradient: it is
    *dead* and stops learning (the report's "dying ReLU").

    Example:
        >>> ReLU()(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def __init__(self) -> None:
        super().__init__()
        self._x: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        self._x = x
        return x.clamp_min(0)

    def backward(self, grad_output: Tensor) -> Tensor:
        self._check_grad_output(grad_output, self._x, "input")
        # g ⊙ 1[x > 0] as "g, with zeros where x ≤ 0": multiplying by the boolean mask
        # would first convert it to floats, one more operation.
        return grad_output.masked_fill(self._x <= 0, 0.0)


class Tanh(Module):
    """Hyperbolic tangent, :math:`y = \\tanh x`, with :math:`y' = 1 - y^2` (so it saves ``y``).

    Example:
        >>> Tanh()(torch.tensor([0.0]))
        tensor([0.])
    """

    def __init__(self) -> None:
        super().__init__()
        self._y: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        # tanh x = 2 σ(2x) − 1 (see Sigmoid): the same function, through the sigmoid,
        # because torch's CPU kernel for sigmoid is several times faster than its
        # kernel for tanh (5× on the 500,000 entries of an evaluation of 20 replicas).
        # In float32 the two agree within 2.5e-7, two roundings of numbers near 1.
        # x + x rather than 2 * x: an operation with a Python number first turns the
        # number into a tensor, which costs as much as a small addition.
        s = (x + x).sigmoid_()  # σ(2x), in place: one new tensor in all
        self._y = s.add_(s).sub_(1)  # 2σ(2x) − 1
        return self._y

    def backward(self, grad_output: Tensor) -> Tensor:
        self._check_grad_output(grad_output, self._y)
        y = self._y
        # g ⊙ (1 − y²) as g − (g ⊙ y) ⊙ y: two tensor operations (a product, then
        # addcmul's fused g + value · a ⊙ b) instead of three. Each operation has a
        # fixed cost, and a training step is dozens of small ones.
        return torch.addcmul(grad_output, grad_output * y, y, value=-1)


class Sigmoid(Module):
    """Logistic sigmoid with slope λ, :math:`y = 1/(1 + e^{-\\lambda x})`, :math:`y' = \\lambda y (1 - y)`.

    The report's equation (1); ``slope=1`` is the usual sigmoid, and
    :math:`\\tanh x = 2\\,\\sigma_{\\lambda=2}(x) - 1`.

    Args:
        slope: λ > 0 (default 1.0). The report uses λ = 3.

    Example:
        >>> Sigmoid(slope=3.0)(torch.tensor([0.0]))
        tensor([0.5000])
    """

    def __init__(self, slope: float = 1.0) -> None:
        super().__init__()
        if not slope > 0:
            raise ValueError(f"Sigmoid: slope must be positive, got {slope!r}")
        self.slope = float(slope)
        self._y: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        self._y = torch.sigmoid(self.slope * x)
        return self._y

    def backward(self, grad_output: Tensor) -> Tensor:
        self._check_grad_output(grad_output, self._y)
        y = self._y
        # λ g ⊙ y ⊙ (1 − y) as λ (t − t ⊙ y) with t = g ⊙ y: three tensor operations
        # instead of five (see Tanh.backward).
        t = grad_output * y
        return torch.addcmul(t, t, y, value=-1).mul_(self.slope)

    def extra_repr(self) -> str:
        return f"slope={self.slope}"


class ELU(Module):
    """Exponential linear unit (Clevert et al., 2016), the report's equation (2).

    :math:`y = x` for :math:`x > 0`, else :math:`\\alpha (e^x - 1)`;
    :math:`y' = 1` for :math:`x > 0`, else :math:`\\alpha e^x`.

    Args:
        alpha: α, the negative saturation value is −α (default 1.0; the report uses 0.01).

    Example:
        >>> ELU(alpha=1.0)(torch.tensor([-100.0, 2.0]))
        tensor([-1., 2.])
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)
        self._x: Tensor | None = None
        self._positive: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        # The mask x > 0 picks the branch; backward picks with the same mask.
        self._x, self._positive = x, x > 0
        # expm1 is exact for small |x|, where exp(x) - 1 loses digits.
        return torch.where(self._positive, x, self.alpha * torch.expm1(x))

    def backward(self, grad_output: Tensor) -> Tensor:
        self._check_grad_output(grad_output, self._x, "input")
        # g where x > 0, else g ⊙ α e^x.
        return torch.where(self._positive, grad_output, grad_output * torch.exp(self._x).mul_(self.alpha))

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class LeakyReLU(Module):
    """Leaky rectifier (Maas et al., 2013), the report's equation (3): :math:`y = \\max(\\beta x, x)`.

    :math:`y = x` for :math:`x > 0`, else :math:`\\beta x`; :math:`y' = 1` for
    :math:`x > 0`, else :math:`\\beta`. The small slope keeps a gradient flowing
    through negative inputs, so units cannot die.

    Args:
        negative_slope: β (default 0.01, as torch and the report).

    Example:
        >>> LeakyReLU(0.1)(torch.tensor([-1.0, 2.0]))
        tensor([-0.1000,  2.0000])
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)
        self._x: Tensor | None = None
        self._positive: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        # The mask x > 0 picks the branch; backward picks with the same mask.
        self._x, self._positive = x, x > 0
        return torch.where(self._positive, x, self.negative_slope * x)

    def backward(self, grad_output: Tensor) -> Tensor:
        self._check_grad_output(grad_output, self._x, "input")
        # Select between g and βg: torch.where(x > 0, 1.0, β) would make β a float32 scalar tensor
        # and round it, losing digits on float64 inputs.
        return torch.where(self._positive, grad_output, self.negative_slope * grad_output)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"
