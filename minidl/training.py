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

import math
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


def _check_shapes(output: Tensor, target: Tensor, name: str) -> None:
    if output.shape != target.shape:
        raise ValueError(f"{name}: output shape {tuple(output.shape)} and target shape {tuple(target.shape)} differ")


def _count_wrong(output: Tensor, target: Tensor, threshold: float) -> Tensor:
    """Misclassified samples per replica: a count, shape ``()`` or ``(R,)``."""
    return ((output > threshold) != (target > 0.5)).sum(dim=(-2, -1))


def error_rate(output: Tensor, target: Tensor, threshold: float = 0.5) -> Tensor:
    """Fraction of samples whose prediction ``output > threshold`` differs from the 0/1 ``target``.

    Shapes ``(n, 1)`` give a scalar, ``(R, n, 1)`` give ``(R,)``.
    Use ``loss_fn.threshold``: 0.5 for MSE on 0/1 targets, 0 for logits.
    """
    _check_shapes(output, target, "error_rate")
    return _count_wrong(output, target, threshold).to(output.dtype) / (output.shape[-2] * output.shape[-1])


# An evaluation runs over chunks of about this many rows (samples × replicas), and
# at least EVAL_MIN_CHUNK samples; see evaluate.
EVAL_ROWS = 4096
EVAL_MIN_CHUNK = 32


def evaluate(
    model: Module, X: Tensor, y: Tensor, threshold: float = 0.5, *, chunk_size: int | None = None
) -> Tensor:
    """Error rate of ``model`` on ``(X, y)`` in eval mode; the model's mode is restored after.

    The forward pass runs over chunks of ``chunk_size`` samples, by default as many
    as make about 4,096 rows over all the replicas (204 samples for 20 replicas,
    the whole set for one model). One pass over a whole data set would make large
    intermediate tensors, 2 MB per layer for 20 replicas of 1,000 points: the
    memory allocator gives such blocks back to the system when they are freed and
    gets fresh ones, page by page, for the next evaluation, and in training those
    page faults cost more time than the arithmetic. Chunks of a few hundred
    kilobytes are reused from one to the next. The counts are exact, so the error
    rate is :func:`error_rate` of the whole output.
    """
    if chunk_size is None:
        chunk_size = max(EVAL_MIN_CHUNK, EVAL_ROWS // math.prod(X.shape[:-2]))
    elif not _is_count(chunk_size):
        raise ValueError(f"evaluate: chunk_size must be a positive integer or None, got {chunk_size!r}")
    _check_data(X, y, "evaluate", "the")
    was_training = model.training
    model.eval()
    try:
        wrong = torch.zeros(X.shape[:-2], dtype=torch.long, device=X.device)
        for X_chunk, y_chunk in zip(X.split(chunk_size, dim=-2), y.split(chunk_size, dim=-2)):
            output = model(X_chunk)
            _check_shapes(output, y_chunk, "evaluate")
            wrong = wrong + _count_wrong(output, y_chunk, threshold)
    finally:
        model.train(was_training)
    return wrong.to(X.dtype) / (y.shape[-2] * y.shape[-1])


def _permutations(lead: torch.Size, n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """One random permutation of ``range(n)`` per replica, shape ``(*lead, n)``.

    ``torch.randperm``, as torch's ``RandomSampler`` shuffles. Sorting random keys
    would draw every replica's permutation in one operation, but torch's CPU sort
    is slow: 0.8 ms for 20 × 1,000 keys, ten times the 20 calls to randperm.
    """
    perms = [torch.randperm(n, generator=generator, device=device) for _ in range(math.prod(lead))]
    return torch.stack(perms).reshape(*lead, n)


def _check_data(X: Tensor, y: Tensor, caller: str, what: str) -> None:
    if X.dim() != y.dim() or X.shape[:-1] != y.shape[:-1]:
        raise ValueError(
            f"{caller}: {what} inputs of shape {tuple(X.shape)} and targets of shape {tuple(y.shape)} "
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
    _check_data(X, y, "train", "training")
    if (X_test is None) != (y_test is None):
        raise ValueError("train: give both X_test and y_test, or neither")
    if X_test is not None:
        _check_data(X_test, y_test, "train", "test")

    n = X.shape[-2]
    losses, train_errors, test_errors = [], [], []
    model.train()
    bar = trange(num_epochs, disable=not progress, desc=desc, leave=False)
    for epoch in bar:
        if shuffle:
            order = _permutations(X.shape[:-2], n, generator, X.device)
            # One gather each for X and y applies every replica's permutation at once.
            X_epoch = X.gather(-2, order.unsqueeze(-1).expand(X.shape))
            y_epoch = y.gather(-2, order.unsqueeze(-1).expand(y.shape))
        else:
            X_epoch, y_epoch = X, y
        batch_losses = []
        # The mini-batches: views along the sample axis, no copy.
        X_batches = X_epoch.split(batch_size, dim=-2)
        y_batches = y_epoch.split(batch_size, dim=-2)
        for X_batch, y_batch in zip(X_batches, y_batches):
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
