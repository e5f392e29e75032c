"""Linear: the fully connected layer ``y = x Wᵀ + b``.

For a mini-batch ``x`` of shape ``(n, in)``, weight ``W`` of shape ``(out, in)``
and bias ``b`` of shape ``(out,)``:

.. math::

    Y = X W^\\top + \\mathbf{1} b^\\top,
    \\qquad
    \\frac{\\partial L}{\\partial W} = G^\\top X,
    \\qquad
    \\frac{\\partial L}{\\partial b} = G^\\top \\mathbf{1},
    \\qquad
    \\frac{\\partial L}{\\partial X} = G W,

where :math:`G = \\partial L/\\partial Y` has shape ``(n, out)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import init
from .module import Module, ParamPair, _is_count


class Linear(Module):
    """Fully connected layer, ``y = x Wᵀ + b``, with a hand-written backward.

    Forward:  ``Y = X Wᵀ + b``.
    Backward: ``grad_weight += Gᵀ X``, ``grad_bias += Σₙ G``, returns ``G W``.

    Shapes:
        Without replicas, ``X`` is ``(n, in_features)``, ``weight`` is
        ``(out_features, in_features)``, ``bias`` is ``(out_features,)`` and the
        output is ``(n, out_features)``.

        With ``replicas=R``, ``X`` is ``(R, n, in_features)``, ``weight`` is
        ``(R, out_features, in_features)``, ``bias`` is ``(R, out_features)`` and
        the output is ``(R, n, out_features)``: R independent layers in one. The
        same code serves both cases, because every operation works on the last
        two axes (``x @ W.mT``, sums over the sample axis ``-2``) and matmul
        broadcasts over any leading axis.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias (default ``True``).
        replicas: number R of independent copies, or ``None`` for one layer.
        generator: the ``torch.Generator`` used for the initialisation.
        device, dtype: where and how the parameters are created.

    The default initialisation is torch's: weight and bias from
    U(−1/√in, 1/√in).

    Example:
        >>> layer = Linear(2, 25, generator=torch.Generator().manual_seed(0))
        >>> layer
        Linear(in_features=2, out_features=25, bias=True)
        >>> layer(torch.rand(10, 2)).shape
        torch.Size([10, 25])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        replicas: int | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not _is_count(value):
                raise ValueError(f"Linear: {name} must be a positive integer, got {value!r}")
        if replicas is not None and not _is_count(replicas):
            raise ValueError(f"Linear: replicas must be a positive integer or None, got {replicas!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.replicas = replicas
        lead = () if replicas is None else (replicas,)
        factory = {"device": device, "dtype": dtype if dtype is not None else torch.get_default_dtype()}
        self.weight = torch.empty(*lead, out_features, in_features, **factory)
        self.grad_weight = torch.zeros_like(self.weight)
        self.bias = torch.empty(*lead, out_features, **factory) if bias else None
        self.grad_bias = torch.zeros_like(self.bias) if bias else None
        self._x: Tensor | None = None
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """torch's default: weight and bias from U(−1/√in, 1/√in)."""
        bound = 1.0 / math.sqrt(self.in_features)
        init.uniform_(self.weight, -bound, bound, generator=generator)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        ndim = 2 if self.replicas is None else 3
        if x.dim() != ndim or (self.replicas is not None and x.shape[0] != self.replicas):
            expected = "(n, in_features)" if self.replicas is None else f"(R={self.replicas}, n, in_features)"
            raise ValueError(f"{self!r}: expected input of shape {expected}, got {tuple(x.shape)}")
        if x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected {self.in_features} input features, got {x.shape[-1]}")
        if x.dtype != self.weight.dtype or x.device != self.weight.device:
            raise TypeError(
                f"{self!r}: input is {x.dtype} on {x.device}, parameters are {self.weight.dtype} on {self.weight.device}"
            )
        self._x = x
        if self.bias is None:
            return x @ self.weight.mT
        # baddbmm/addmm fuse the product and the bias: one tensor operation instead of two.
        if self.replicas is None:
            return torch.addmm(self.bias, x, self.weight.mT)
        return torch.baddbmm(self.bias.unsqueeze(-2), x, self.weight.mT)

    def backward(self, grad_output: Tensor) -> Tensor:
        x = self._x
        if x is None:
            raise RuntimeError(f"{self!r}.backward called before forward: there is no saved input")
        if not isinstance(grad_output, Tensor) or grad_output.dtype != x.dtype:
            got = f"dtype {grad_output.dtype}" if isinstance(grad_output, Tensor) else f"a {type(grad_output).__name__}"
            raise TypeError(f"{self!r}.backward: expected grad_output of dtype {x.dtype} like the input, got {got}")
        if grad_output.shape[:-1] != x.shape[:-1] or grad_output.shape[-1] != self.out_features:
            expected = (*x.shape[:-1], self.out_features)
            raise ValueError(
                f"{self!r}.backward: grad_output has shape {tuple(grad_output.shape)}, expected the output shape {expected}"
            )
        # ∂L/∂W = Gᵀ X, accumulated in place (no temporary): grad_weight ← grad_weight + Gᵀ X.
        if self.replicas is None:
            self.grad_weight.addmm_(grad_output.mT, x)
        else:
            self.grad_weight.baddbmm_(grad_output.mT, x)
        if self.grad_bias is not None:
            # ∂L/∂b = Σ over the sample axis of G.
            self.grad_bias += grad_output.sum(-2)
        # ∂L/∂X = G W (mm/bmm rather than @, whose general broadcasting adds views).
        if self.out_features == 1:
            # With one output, G W is an outer product, (n, 1) times (1, in): the
            # broadcast product computes it, where bmm over a length-1 sum is slow
            # on the CPU (15 µs against 2 µs for 20 replicas of the report's last layer).
            return grad_output * self.weight
        if self.replicas is None:
            return torch.mm(grad_output, self.weight)
        return torch.bmm(grad_output, self.weight)

    def param(self) -> list[ParamPair]:
        pairs = [(self.weight, self.grad_weight)]
        if self.bias is not None:
            pairs.append((self.bias, self.grad_bias))
        return pairs

    def extra_repr(self) -> str:
        replicas = "" if self.replicas is None else f", replicas={self.replicas}"
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}{replicas}"
