"""PyTorch as the oracle: torch.nn copies of minidl modules, and tolerances for comparing them.

Tests may use torch.nn, torch.autograd and torch.optim; minidl may not.
"""

from __future__ import annotations

import functools

import torch

import minidl

# float64 everywhere: the two implementations differ only by the order of roundings.
close = functools.partial(torch.testing.assert_close, rtol=1e-10, atol=1e-12)


class TorchSigmoid(torch.nn.Module):
    """The report's σ_λ(x) = 1 / (1 + exp(−λx)), as autograd sees it."""

    def __init__(self, slope: float) -> None:
        super().__init__()
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.slope * x)


def to_torch(module: minidl.Module, replica: int | None = None) -> torch.nn.Module:
    """A torch.nn copy of a minidl module (replica ``r`` of a replicated one), with equal weights."""
    if isinstance(module, minidl.Sequential):
        return torch.nn.Sequential(*(to_torch(m, replica) for m in module))
    if isinstance(module, minidl.Linear):
        weight = module.weight if replica is None else module.weight[replica]
        layer = torch.nn.Linear(
            module.in_features, module.out_features, bias=module.bias is not None, dtype=weight.dtype
        )
        with torch.no_grad():
            layer.weight.copy_(weight)
            if module.bias is not None:
                layer.bias.copy_(module.bias if replica is None else module.bias[replica])
        return layer
    if isinstance(module, minidl.ReLU):
        return torch.nn.ReLU()
    if isinstance(module, minidl.Tanh):
        return torch.nn.Tanh()
    if isinstance(module, minidl.Sigmoid):
        return TorchSigmoid(module.slope)
    if isinstance(module, minidl.ELU):
        return torch.nn.ELU(module.alpha)
    if isinstance(module, minidl.LeakyReLU):
        return torch.nn.LeakyReLU(module.negative_slope)
    raise TypeError(f"no torch counterpart for {module!r}")


def report_network(*, generator: torch.Generator, activation=minidl.Tanh, replicas: int | None = None, dtype=None):
    """The report's 2-25-25-25-1 network."""
    sizes = [2, 25, 25, 25, 1]
    layers: list[minidl.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(minidl.Linear(n_in, n_out, replicas=replicas, generator=generator, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(activation())
    return minidl.Sequential(*layers)
