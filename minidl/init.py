"""In-place initialisers, in the manner of ``torch.nn.init``, each taking a ``generator``.

A weight has shape ``(out_features, in_features)``, or ``(R, out_features,
in_features)`` with replicas: the last axis is the fan-in, the one before it the
fan-out, and leading axes are independent replicas.

.. math::

    \\text{Xavier: } \\operatorname{Var}(w) = \\frac{2\\,\\text{gain}^2}{\\text{fan\\_in} + \\text{fan\\_out}},
    \\qquad
    \\text{Kaiming: } \\operatorname{Var}(w) = \\frac{\\text{gain}^2}{\\text{fan\\_in}}.

A uniform law on :math:`[-a, a]` has variance :math:`a^2/3`, hence the bounds below.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain torch.nn.init recommends for a nonlinearity (``"tanh"`` is 5/3, ``"relu"`` is √2)."""
    linear = {"linear", "identity", "sigmoid"}
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(tensor: Tensor) -> tuple[int, int]:
    if tensor.dim() < 2:
        raise ValueError(f"fan-in and fan-out need a tensor of at least 2 dimensions, got shape {tuple(tensor.shape)}")
    return tensor.shape[-1], tensor.shape[-2]


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, *, generator: torch.Generator | None = None) -> Tensor:
    """Fill ``tensor`` from U(a, b)."""
    if not a < b:
        raise ValueError(f"uniform_: expected a < b, got a={a}, b={b}")
    return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: torch.Generator | None = None) -> Tensor:
    """Fill ``tensor`` from N(mean, std²)."""
    if std < 0:
        raise ValueError(f"normal_: expected std >= 0, got {std}")
    return tensor.normal_(mean, std, generator=generator)


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill ``tensor`` with ``value``."""
    return tensor.fill_(value)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros."""
    return tensor.zero_()


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, *, generator: torch.Generator | None = None) -> Tensor:
    """Glorot and Bengio (2010): U(−a, a) with a = gain·√(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return tensor.uniform_(-bound, bound, generator=generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, *, generator: torch.Generator | None = None) -> Tensor:
    """Glorot and Bengio (2010): N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return tensor.normal_(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator=generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    nonlinearity: str = "leaky_relu",
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """He et al. (2015): U(−b, b) with b = gain·√(3 / fan_in); ``a`` is the leaky slope."""
    fan_in, _ = _fans(tensor)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan_in)
    return tensor.uniform_(-bound, bound, generator=generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    nonlinearity: str = "leaky_relu",
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """He et al. (2015): N(0, std²) with std = gain / √fan_in; ``a`` is the leaky slope."""
    fan_in, _ = _fans(tensor)
    return tensor.normal_(0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan_in), generator=generator)
