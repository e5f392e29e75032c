"""Training loop: shuffled mini-batches, a loss, an optimizer, and a per-epoch history.

One step on a mini-batch :math:`(X_b, y_b)` is the whole framework at work::

    y_hat = model(X_b)                    # forward, saving what backward needs
    loss = loss_fn(y_hat, y_b)
    optimizer.zero_grad()                 # gradients accumulate, so clear them first
    model.backward(loss_fn.backward())    # chain rule from the loss back to the input
    optimizer.step()                      # θ ← update(θ, ∂L/∂θ)

With replicated modules, ``X`` carries a leading replica axis and each replica
sees its own shuffle of its own data; everything else is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import trange

from .losses import Loss
from .module import Module, _is_count
from .optim import Optimizer


@dataclass
class History:
    """What :func:`train` records after each epoch.

    Attributes:
        loss: mean training loss over the epoch's mini-batches, shape
            ``(num_epochs,)`` or ``(num_epochs, R)``.
        train_error: fraction of misclassified training points at the end of each
            epoch (eval mode), same shape.
        test_error: the same on the test set, when one was given, else ``None``.
    """

    loss: Tensor
    train_error: Tensor
    test_error: Tensor | None = None


def error_rate(output: Tensor, target: Tensor, threshold: float = 0.5) -> Tensor:
    """Fraction of samples whose prediction ``output > threshold`` differs from the 0/1 ``target``.

    Shapes ``(n, 1)`` give a scalar, ``(R, n, 1)`` give ``(R,)``.
    Use ``loss_fn.threshold``: 0.5 for MSE on 0/1 targets, 0 for logits.
    """
    if output.shape != target.shape:
        raise ValueError(f"error_rate: output shape {tuple(output.shape)} and target shape {tuple(target.shape)} differ")
    wrong = (output > threshold) != (target > 0.5)
    return wrong.to(output.dtype).mean(dim=(-2, -1))


def evaluate(model: Module, X: Tensor, y: Tensor, threshold: float = 0.5) -> Tensor:
    """Error rate of ``model`` on ``(X, y)`` in eval mode; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        return error_rate(model(X), y, threshold)
    finally:
        model.train(was_training)


def _check_data(X: Tensor, y: Tensor, what: str) -> None:
    if X.dim() != y.dim() or X.shape[:-1] != y.shape[:-1]:
        raise ValueError(
            f"train: {what} inputs of shape {tuple(X.shape)} and targets of shape {tuple(y.shape)} "
            "do not describe the same samples"
        )


def train(
    model: Module,
    loss_fn: Loss,
    optimizer: Optimizer,
    X: Tensor,
    y: Tensor,
    *,
    num_epochs: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
    X_test: Tensor | None = None,
    y_test: Tensor | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> History:
    """Train ``model`` on shuffled mini-batches for ``num_epochs`` epochs.

    Args:
        model: a minidl module (a :class:`~minidl.Sequential`, usually).
        loss_fn: :class:`~minidl.MSELoss` or :class:`~minidl.BCEWithLogitsLoss`.
        optimizer: built on ``model.param()``.
        X, y: training data, ``(n, d)`` and ``(n, k)``, or ``(R, n, d)`` and ``(R, n, k)``.
        num_epochs: passes over the data.
        batch_size: samples per step; the last batch of an epoch may be smaller.
        generator: draws the shuffles (each replica gets its own permutation).
        shuffle: reshuffle at every epoch (default ``True``).
        X_test, y_test: optional test set, evaluated after every epoch.
        progress: show a tqdm progress bar over epochs (default ``True``).
        desc: the progress bar's label.

    Returns:
        A :class:`History` of per-epoch loss and error rates.

    Raises:
        FloatingPointError: when the loss of some replica becomes NaN or
            infinite; the message names the epoch and the replicas.
    """
    if not _is_count(num_epochs, minimum=0):
        raise ValueError(f"train: num_epochs must be a non-negative integer, got {num_epochs!r}")
    if not _is_count(batch_size):
        raise ValueError(f"train: batch_size must be a positive integer, got {batch_size!r}")
    _check_data(X, y, "training")
    if (X_test is None) != (y_test is None):
        raise ValueError("train: give both X_test and y_test, or neither")
    if X_test is not None:
        _check_data(X_test, y_test, "test")

    n = X.shape[-2]
    losses, train_errors, test_errors = [], [], []
    model.train()
    bar = trange(num_epochs, disable=not progress, desc=desc, leave=False)
    for epoch in bar:
        if shuffle:
            # One permutation per replica, drawn and applied with one operation each.
            order = torch.rand(X.shape[:-1], generator=generator, device=X.device).argsort(dim=-1)
            X_epoch = X.take_along_dim(order.unsqueeze(-1), dim=-2)
            y_epoch = y.take_along_dim(order.unsqueeze(-1), dim=-2)
        else:
            X_epoch, y_epoch = X, y
        batch_losses = []
        for start in range(0, n, batch_size):
            # Slices along the sample axis are views: no copy per batch.
            X_batch = X_epoch[..., start : start + batch_size, :]
            y_batch = y_epoch[..., start : start + batch_size, :]
            loss = loss_fn(model(X_batch), y_batch)
            optimizer.zero_grad()
            model.backward(loss_fn.backward())
            optimizer.step()
            batch_losses.append(loss)
        # One stack and one mean per epoch rather than one addition per step.
        epoch_loss = torch.stack(batch_losses).mean(dim=0)
        finite = torch.isfinite(epoch_loss)
        if not bool(finite.all()):
            bad = (~finite).nonzero().flatten().tolist() if finite.dim() else []
            which = f" in replicas {bad}" if bad else ""
            raise FloatingPointError(
                f"train: the loss became NaN or infinite at epoch {epoch + 1}{which}; "
                "lower the learning rate or check the data"
            )
        losses.append(epoch_loss)
        train_errors.append(evaluate(model, X, y, loss_fn.threshold))
        if X_test is not None:
            test_errors.append(evaluate(model, X_test, y_test, loss_fn.threshold))
        if progress:
            bar.set_postfix(loss=f"{epoch_loss.mean().item():.4f}")
    empty = torch.empty(0, *X.shape[:-2])
    return History(
        loss=torch.stack(losses) if losses else empty,
        train_error=torch.stack(train_errors) if train_errors else empty,
        test_error=(torch.stack(test_errors) if test_errors else empty) if X_test is not None else None,
    )
