"""The Module contract: ``forward`` computes, ``backward`` propagates gradients.

Every layer of minidl is a :class:`Module`. A module maps an input tensor ``x`` to
an output ``y = f(x; θ)``. Given ``grad_output`` :math:`= \\partial L / \\partial y`,
``backward`` applies the chain rule twice:

.. math::

    \\frac{\\partial L}{\\partial \\theta} \\mathrel{+}= \\frac{\\partial L}{\\partial y}
    \\frac{\\partial y}{\\partial \\theta},
    \\qquad
    \\frac{\\partial L}{\\partial x} = \\frac{\\partial L}{\\partial y}
    \\frac{\\partial y}{\\partial x}.

It accumulates the first into the parameter gradients and returns the second,
which is the ``grad_output`` of the module before it.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

ParamPair = tuple[Tensor, Tensor]


def _is_count(value: object, minimum: int = 1) -> bool:
    """``value`` is an ``int`` (not a ``bool``, which Python counts as one) of at least ``minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


class Module:
    """Base class of every layer.

    Subclasses implement ``forward(x)`` (save what ``backward`` needs, overwriting
    what the previous call saved) and ``backward(grad_output)`` (accumulate
    parameter gradients with ``+=``, return the gradient w.r.t. the input).
    Modules with parameters override ``param()``.

    Attributes:
        training: ``True`` in training mode (the default), ``False`` after
            ``eval()``. Only :class:`~minidl.Dropout` behaves differently.
    """

    def __init__(self) -> None:
        self.training = True

    # -- the contract -------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, grad_output: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def param(self) -> list[ParamPair]:
        """The live ``(value, grad)`` pairs of this module; empty if it has none."""
        return []

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    # -- conveniences shared by every module --------------------------------
    def children(self) -> Iterator[Module]:
        """The modules held directly by this one (attributes, lists or tuples)."""
        for value in vars(self).values():
            if isinstance(value, Module):
                yield value
            elif isinstance(value, (list, tuple)):
                yield from (v for v in value if isinstance(v, Module))

    def zero_grad(self) -> None:
        """Set every parameter gradient to zero, in place."""
        for _, grad in self.param():
            grad.zero_()

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every nested module."""
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (``train(False)``) recursively."""
        return self.train(False)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Module:
        """Move or cast every floating tensor attribute, recursively, like ``torch.nn.Module.to``.

        Build optimizers after calling this: they hold the tensors they were given.
        """
        for name, value in vars(self).items():
            if isinstance(value, Tensor) and value.is_floating_point():
                setattr(self, name, value.to(device=device, dtype=dtype))
        for child in self.children():
            child.to(device=device, dtype=dtype)
        return self

    def double(self) -> Module:
        """Cast every floating tensor to float64 (what gradient checks use)."""
        return self.to(dtype=torch.float64)

    # -- checks shared by subclasses (raise before any state changes) -------
    def _check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{type(self).__name__}: expected a floating-point input, got dtype {x.dtype}")

    def _check_grad_output(self, grad_output: Tensor, saved: Tensor | None, name: str = "output") -> None:
        if saved is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward: there is no saved {name}")
        if not isinstance(grad_output, Tensor):
            raise TypeError(f"{type(self).__name__}.backward: expected a torch.Tensor, got {type(grad_output).__name__}")
        if not grad_output.is_floating_point():
            raise TypeError(
                f"{type(self).__name__}.backward: expected a floating-point grad_output, got dtype {grad_output.dtype}"
            )
        if grad_output.shape != saved.shape:
            raise ValueError(
                f"{type(self).__name__}.backward: grad_output has shape {tuple(grad_output.shape)}, "
                f"expected the {name} shape {tuple(saved.shape)}"
            )

    # -- printing in torch's style ------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Sequential(Module):
    """A chain of modules: ``forward`` in order, ``backward`` in reverse.

    For :math:`y = f_K(\\dots f_2(f_1(x)))`, backward is the chain rule applied
    from the end: :math:`g_K = \\partial L/\\partial y`, then each module turns
    :math:`g_k` into :math:`g_{k-1} = g_k \\, \\partial f_k / \\partial x_k`.

    Example:
        >>> model = Sequential(Linear(2, 25), Tanh(), Linear(25, 1))
        >>> y_hat = model(X)                       # (n, 1)
        >>> grad_X = model.backward(loss_fn.backward())
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(module).__name__}, expected a minidl Module")
        self.modules = list(modules)

    def forward(self, x: Tensor) -> Tensor:
        for module in self.modules:
            x = module(x)
        return x

    def backward(self, grad_output: Tensor) -> Tensor:
        for module in reversed(self.modules):
            grad_output = module.backward(grad_output)
        return grad_output

    def param(self) -> list[ParamPair]:
        return [pair for module in self.modules for pair in module.param()]

    def __getitem__(self, index: int) -> Module:
        return self.modules[index]

    def __len__(self) -> int:
        return len(self.modules)

    def __repr__(self) -> str:
        lines = [f"  ({i}): {module!r}".replace("\n", "\n  ") for i, module in enumerate(self.modules)]
        return "Sequential(\n" + "\n".join(lines) + "\n)" if lines else "Sequential()"
