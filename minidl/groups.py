"""Different networks in one stack of replicas: a module or a loss per block.

With ``replicas=R`` every :class:`~minidl.Linear` holds R independent layers. When
the R replicas are split into consecutive blocks of sizes :math:`r_1, \\dots,
r_K` (:math:`\\sum_k r_k = R`), each block can have its own activation or loss
while the Linear layers stay shared: the tensors are split along the replica
axis, each block is handled by its own object, and the pieces are concatenated
again:

.. math::

    y = \\bigl[\\, f_1(x_{1}) ;\\ f_2(x_{2}) ;\\ \\dots ;\\ f_K(x_{K}) \\,\\bigr],
    \\qquad
    \\frac{\\partial L}{\\partial x} = \\bigl[\\, f_1'(x_1) \\odot g_1 ;\\ \\dots \\,\\bigr],

where :math:`x_k` is block k of the input and :math:`g_k` block k of
``grad_output``. Nothing mixes replicas, so each block trains exactly as it would
alone. Consecutive blocks that use equal objects (same ``repr``) are merged, so a
stack of identical blocks costs no more than one module.

A learning rate per block comes from the loss: with plain SGD, multiplying the
gradient of replica r by :math:`c_r` turns the step :math:`-\\eta\\, g_r` into
:math:`-\\eta c_r\\, g_r`, a learning rate :math:`\\eta c_r` (``GroupedLoss(...,
scales=...)``). Adam divides by the gradient's own scale, so it needs one
optimizer, hence one stack, per learning rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .losses import Loss
from .module import Module

__all__ = ["GroupedLoss", "Identity", "ReplicaGroups", "merge_blocks"]


def merge_blocks(items: Sequence[object], sizes: Sequence[int]) -> tuple[list[object], list[int]]:
    """Merge consecutive blocks whose objects print the same (``repr``), adding their sizes."""
    if len(items) != len(sizes) or not items:
        raise ValueError(f"merge_blocks: got {len(items)} objects for {len(sizes)} block sizes")
    if any(not isinstance(s, int) or s <= 0 for s in sizes):
        raise ValueError(f"merge_blocks: block sizes must be positive integers, got {list(sizes)}")
    merged, merged_sizes = [items[0]], [sizes[0]]
    for item, size in zip(items[1:], sizes[1:]):
        if repr(item) == repr(merged[-1]):
            merged_sizes[-1] += size
        else:
            merged.append(item)
            merged_sizes.append(size)
    return merged, merged_sizes


class Identity(Module):
    """:math:`y = x`, :math:`\\partial L/\\partial x = \\partial L/\\partial y`: the "nothing here" block."""

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return x

    def backward(self, grad_output: Tensor) -> Tensor:
        return grad_output


class ReplicaGroups(Module):
    """Apply ``modules[k]`` to block k of the replica axis (axis 0) of the input.

    Args:
        modules: one parameter-free module per block (activations, dropout, identity).
        sizes: the number of replicas in each block.

    Example:
        >>> act = ReplicaGroups([ReLU(), Tanh()], [2, 3])   # replicas 0-1 ReLU, 2-4 Tanh
        >>> act(torch.randn(5, 10, 25)).shape
        torch.Size([5, 10, 25])
    """

    def __init__(self, modules: Sequence[Module], sizes: Sequence[int]) -> None:
        super().__init__()
        modules, sizes = merge_blocks(list(modules), list(sizes))
        for module in modules:
            if not isinstance(module, Module) or module.param():
                raise TypeError(f"ReplicaGroups: blocks must be parameter-free modules, got {module!r}")
        self.modules = modules
        self.sizes = sizes

    def _split(self, t: Tensor, what: str) -> tuple[Tensor, ...]:
        if t.shape[0] != sum(self.sizes):
            raise ValueError(f"{self!r}: {what} has {t.shape[0]} replicas, expected {sum(self.sizes)}")
        return t.split(self.sizes, dim=0)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        if len(self.modules) == 1:
            return self.modules[0](x)
        return torch.cat([m(part) for m, part in zip(self.modules, self._split(x, "the input"))])

    def backward(self, grad_output: Tensor) -> Tensor:
        if len(self.modules) == 1:
            return self.modules[0].backward(grad_output)
        parts = self._split(grad_output, "grad_output")
        return torch.cat([m.backward(g) for m, g in zip(self.modules, parts)])

    def extra_repr(self) -> str:
        return ", ".join(f"{size}×{module!r}" for module, size in zip(self.modules, self.sizes))


class GroupedLoss(Loss):
    """A loss per block of replicas; returns the ``(R,)`` per-replica losses, concatenated.

    Args:
        losses: one loss per block.
        sizes: the number of replicas in each block.
        scales: optional factor per block multiplying the *gradient* that
            ``backward`` returns (not the loss values): with SGD, block k then
            trains with learning rate ``lr * scales[k]``.

    ``threshold`` is a float when every block uses the same one, else a tensor of
    shape ``(R, 1, 1)`` that broadcasts in ``output > threshold``.

    Example:
        >>> loss_fn = GroupedLoss([MSELoss(), BCEWithLogitsLoss()], [20, 20])
        >>> loss_fn(output, target).shape            # output of shape (40, n, 1)
        torch.Size([40])
    """

    def __init__(self, losses: Sequence[Loss], sizes: Sequence[int], scales: Sequence[float] | None = None) -> None:
        super().__init__()
        scales = [1.0] * len(losses) if scales is None else [float(c) for c in scales]
        if len(scales) != len(losses):
            raise ValueError(f"GroupedLoss: got {len(scales)} scales for {len(losses)} losses")
        blocks, self.sizes = merge_blocks([(loss, c) for loss, c in zip(losses, scales)], list(sizes))
        self.losses = [loss for loss, _ in blocks]
        self.scales = [c for _, c in blocks]
        thresholds = [float(loss.threshold) for loss in self.losses]
        if len(set(thresholds)) == 1:
            self.threshold = thresholds[0]
        else:
            self.threshold = torch.tensor([t for t, r in zip(thresholds, self.sizes) for _ in range(r)]).view(-1, 1, 1)

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        self._check(output, target)
        if output.dim() != 3 or output.shape[0] != sum(self.sizes):
            raise ValueError(
                f"{self!r}: expected output of shape (R={sum(self.sizes)}, n, k), got {tuple(output.shape)}"
            )
        if isinstance(self.threshold, Tensor) and self.threshold.dtype != output.dtype:
            self.threshold = self.threshold.to(output.dtype)
        if len(self.losses) == 1:
            return self.losses[0](output, target)
        parts = zip(self.losses, output.split(self.sizes), target.split(self.sizes))
        return torch.cat([loss(o, t) for loss, o, t in parts])

    def backward(self) -> Tensor:
        grads = [loss.backward() if c == 1.0 else loss.backward() * c for loss, c in zip(self.losses, self.scales)]
        return grads[0] if len(grads) == 1 else torch.cat(grads)

    def __repr__(self) -> str:
        blocks = ", ".join(
            f"{size}×{loss!r}" + ("" if c == 1.0 else f"·{c:g}")
            for loss, c, size in zip(self.losses, self.scales, self.sizes)
        )
        return f"GroupedLoss({blocks})"
