"""Optimizers: they update the ``(value, grad)`` pairs that ``model.param()`` returns.

The state an optimizer needs (Adam's moments) lives here, in lists parallel to
the parameters, not on the layers: a layer computes gradients, an optimizer
decides what to do with them, and either can change without the other.

**Packing, for speed.** Every tensor operation costs some microseconds of
overhead however small its tensor, and the report's network has eight
parameter tensors: Adam's seven operations per tensor make 56 per step. So an
optimizer *packs* the parameters it is given: it copies all the values into one
flat vector and all the gradients into another, and makes each layer's tensor a
window on its slice (``Tensor.set_`` moves a tensor's storage, keeping the
tensor object and its numbers). The layers notice nothing: ``layer.weight`` is
still ``layer.weight``, and ``backward`` still accumulates into
``layer.grad_weight`` in place. But the optimizer can now update every
parameter with one operation on the flat vectors, six in all for Adam.

The update is element-wise, so applying it to the packed vector or to each
parameter in turn gives the same numbers. The optimizer's loops therefore run
over *blocks*: one block, the two flat vectors, when the parameters could be
packed; one block per parameter otherwise (parameters of several dtypes or
devices, or tensors that are views of something larger, such as parameters an
earlier optimizer packed together with others). One thing packing cannot see: a
view taken of a parameter *before* the optimizer was built (``row =
layer.weight[0]``) keeps looking at the old storage, so take views after.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from .module import ParamPair


def _offsets(tensors: list[Tensor]) -> list[int]:
    """Where each tensor starts in the flat vector that holds them one after the other."""
    offsets = [0]
    for t in tensors[:-1]:
        offsets.append(offsets[-1] + t.numel())
    return offsets


def _is_packed(tensors: list[Tensor]) -> bool:
    """The tensors fill one storage, one after the other, in this order (an earlier optimizer packed them)."""
    storage = tensors[0].untyped_storage()
    return storage.nbytes() == sum(t.numel() * t.element_size() for t in tensors) and all(
        t.is_contiguous() and t.untyped_storage().data_ptr() == storage.data_ptr() and t.storage_offset() == offset
        for t, offset in zip(tensors, _offsets(tensors))
    )


def _can_pack(tensors: list[Tensor]) -> bool:
    """Packing is safe: one dtype and device, and each tensor is the whole of its own storage
    (so no other tensor is looking at its numbers), or they are packed already."""
    first = tensors[0]
    if any(t.dtype != first.dtype or t.device != first.device for t in tensors):
        return False
    owns_storage = all(
        t.is_contiguous() and t.storage_offset() == 0 and t.untyped_storage().nbytes() == t.numel() * t.element_size()
        for t in tensors
    )
    distinct = len({t.untyped_storage().data_ptr() for t in tensors}) == len(tensors)
    return (owns_storage and distinct) or _is_packed(tensors)


def _pack(tensors: list[Tensor]) -> Tensor:
    """Move ``tensors`` into one flat vector, one after the other, and return it (see the module's docstring)."""
    if not _is_packed(tensors):
        flat = torch.cat([t.reshape(-1) for t in tensors])
        for t, offset in zip(tensors, _offsets(tensors)):
            t.set_(flat.untyped_storage(), offset, t.shape)  # the same tensor object and numbers, now in `flat`
    total = sum(t.numel() for t in tensors)
    return tensors[0].new_empty(0).set_(tensors[0].untyped_storage(), 0, (total,))


class Optimizer:
    """Base class: holds the parameter pairs; ``zero_grad()`` clears their gradients in place.

    Attributes:
        params: the ``(value, grad)`` pairs, as given.
        blocks: the ``(value, grad)`` pairs the updates run over: one pair of flat
            vectors holding every parameter when they could be packed (see the
            module's docstring), else ``params`` itself.
    """

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
        if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
            raise ValueError(f"{name}: learning rate must be a positive number, got {lr!r}")
        self.params = params
        self.lr = float(lr)
        values, grads = [value for value, _ in params], [grad for _, grad in params]
        if _can_pack(values) and _can_pack(grads):
            self.blocks: list[ParamPair] = [(_pack(values), _pack(grads))]  # one block: all parameters at once
        else:
            self.blocks = params  # one block per parameter

    def zero_grad(self) -> None:
        """Set every gradient to zero, in place (the tensors the modules hold)."""
        for _, grad in self.blocks:
            grad.zero_()

    def _per_parameter(self, block_tensors: list[Tensor]) -> list[Tensor]:
        """Views of per-block state (one tensor per block) shaped like each parameter."""
        if self.blocks is self.params:
            return block_tensors
        sizes = [value.numel() for value, _ in self.params]
        return [part.view_as(value) for part, (value, _) in zip(block_tensors[0].split(sizes), self.params)]

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
        # A block is all the parameters packed in one flat vector, or one parameter
        # (see the module's docstring).
        for value, grad in self.blocks:
            value.add_(grad, alpha=-self.lr)  # θ ← θ − η g, in place


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with exactly the update of ``torch.optim.Adam``.

    At step :math:`t`, for each parameter θ with gradient :math:`g`:

    .. math::

        m_t &= \\beta_1 m_{t-1} + (1 - \\beta_1)\\, g \\\\
        v_t &= \\beta_2 v_{t-1} + (1 - \\beta_2)\\, g^2 \\\\
        \\hat m_t &= m_t / (1 - \\beta_1^t), \\qquad \\hat v_t = v_t / (1 - \\beta_2^t) \\\\
        \\theta_t &= \\theta_{t-1} - \\eta\\, \\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon)

    with :math:`m_0 = v_0 = 0`. The bias corrections undo the pull of those zeros
    towards 0 in the first steps. ``step`` applies them to scalars, as the
    paper's remark after its Algorithm 1 suggests: with
    :math:`c_1 = 1 - \\beta_1^t` and :math:`c_2 = 1 - \\beta_2^t`,

    .. math::

        \\theta_t = \\theta_{t-1} - \\frac{\\eta \\sqrt{c_2}}{c_1}\\,
        \\frac{m_t}{\\sqrt{v_t} + \\epsilon \\sqrt{c_2}},

    the same update (multiply the numerator and the denominator of the last line
    above by :math:`\\sqrt{c_2}`) with no vector :math:`\\hat m_t` or
    :math:`\\hat v_t`. It equals ``torch.optim.Adam``'s update to rounding, so the
    two produce the same trajectory to rounding.

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
        # The moments, one pair per block (so flat, when the parameters are packed) ...
        self._m = [torch.zeros_like(value) for value, _ in self.blocks]
        self._v = [torch.zeros_like(value) for value, _ in self.blocks]
        # ... and seen per parameter, parallel to params: exp_avg[i] is m for parameter i.
        self.exp_avg = self._per_parameter(self._m)
        self.exp_avg_sq = self._per_parameter(self._v)
        # Room for √v + ε √c₂, kept from step to step: a new vector at every step costs an
        # allocation and, for many replicas, fresh memory pages from the system.
        self._denom = [torch.empty_like(value) for value, _ in self.blocks]

    def step(self) -> None:
        beta1, beta2 = self.betas
        self.t += 1
        # Both bias corrections on scalars (see the class docstring):
        # √c₂ / c₁ in the step size, √c₂ in ε.
        sqrt_c2 = math.sqrt(1 - beta2**self.t)
        step_size = self.lr * sqrt_c2 / (1 - beta1**self.t)
        eps = self.eps * sqrt_c2
        # One block holds every parameter when they could be packed.
        blocks = zip(self.blocks, self._m, self._v, self._denom)
        for (value, grad), m, v, denom in blocks:
            # m ← β₁ m + (1 − β₁) g,  v ← β₂ v + (1 − β₂) g²
            m.lerp_(grad, 1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            # θ ← θ − step_size · m / (√v + ε √c₂)
            torch.sqrt(v, out=denom).add_(eps)
            value.addcdiv_(m, denom, value=-step_size)

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps})"
