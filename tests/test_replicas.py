"""Replicas: R networks trained in one pass of tensor operations are R independent trainings.

A replicated training and R separate single-model trainings, from the same initial weights on
the same data, must end with the same parameters: each replica's gradient is exactly its own
(matmuls per replica, sums over the sample axis -2, per-replica loss means), and the optimizers'
updates are element-wise, so packing every replica into one flat vector changes nothing.

With dropout, the masks must match too. A replicated Dropout draws one (R, n, k) block of
uniforms per step; torch fills a tensor from its generator in order, so replica r's slice of
that block is what a generator at the same state draws for an (n, k) tensor after skipping
r·n·k numbers. Each single model's Dropout is given such a generator before every step.
"""

from __future__ import annotations

import pytest
import torch

import minidl

f64 = torch.float64
R, N, BATCH, WIDTH = 4, 24, 8, 6


def network(replicas, *, dropout, dtype, seed=0):
    """2-6-6-1 with Tanh, and a Dropout (own generator) after each hidden layer when ``dropout``."""
    g = torch.Generator().manual_seed(seed)
    layers = []
    for k, fan_in in enumerate((2, WIDTH)):
        layers += [minidl.Linear(fan_in, WIDTH, replicas=replicas, generator=g, dtype=dtype), minidl.Tanh()]
        if dropout:
            layers.append(minidl.Dropout(0.3, generator=torch.Generator().manual_seed(100 + k)))
    return minidl.Sequential(*layers, minidl.Linear(WIDTH, 1, replicas=replicas, generator=g, dtype=dtype))


def copy_replica(replicated, r, single):
    """Set ``single``'s parameters to replica ``r`` of ``replicated``."""
    for (value, _), (rep_value, _) in zip(single.param(), replicated.param()):
        value.copy_(rep_value[r])


def make_optimizer(kind, model):
    return minidl.SGD(model.param(), lr=0.1) if kind == "SGD" else minidl.Adam(model.param(), lr=0.01)


def data(dtype, seed=1):
    """R different training sets (replica r trains on X[r]), so a mix-up between replicas shows."""
    return minidl.disk_dataset(N, replicas=R, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def dropouts(model):
    return [m for m in model.modules if isinstance(m, minidl.Dropout)]


def sequential_draws_hold(dtype):
    """torch.rand(R, n, k) is R consecutive torch.rand(n, k) from the same generator."""
    block = torch.rand(3, 5, 4, generator=torch.Generator().manual_seed(0), dtype=dtype)
    g = torch.Generator().manual_seed(0)
    return torch.equal(block, torch.stack([torch.rand(5, 4, generator=g, dtype=dtype) for _ in range(3)]))


def train_by_hand(model, optimizer, X, y, num_epochs, before_step=None):
    loss_fn = minidl.MSELoss()
    for _ in range(num_epochs):
        for step, start in enumerate(range(0, N, BATCH)):
            if before_step is not None:
                before_step(step, start)
            loss_fn(model(X[..., start : start + BATCH, :]), y[..., start : start + BATCH, :])
            optimizer.zero_grad()
            model.backward(loss_fn.backward())
            optimizer.step()


def assert_replicas_match(replicated, singles, dtype):
    rtol, atol = (1e-10, 1e-12) if dtype == f64 else (1e-4, 1e-6)
    for r, single in enumerate(singles):
        for i, ((value, _), (rep_value, _)) in enumerate(zip(single.param(), replicated.param())):
            minidl.testing.assert_close(rep_value[r], value, name=f"replica {r}, parameter {i}", rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [f64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_replicated_train_equals_separate_trainings(kind, dtype):
    """minidl.train(shuffle=False) on R replicas ends where R single-model trainings end."""
    X, y = data(dtype)
    replicated = network(R, dropout=False, dtype=dtype)
    singles = [network(None, dropout=False, dtype=dtype, seed=10 + r) for r in range(R)]
    for r, single in enumerate(singles):
        copy_replica(replicated, r, single)
    options = {"num_epochs": 3, "batch_size": BATCH, "shuffle": False, "progress": False}
    history = minidl.train(replicated, minidl.MSELoss(), make_optimizer(kind, replicated), X, y, **options)
    single_losses = []
    for r, single in enumerate(singles):
        single_history = minidl.train(single, minidl.MSELoss(), make_optimizer(kind, single), X[r], y[r], **options)
        single_losses.append(single_history.loss)
    assert_replicas_match(replicated, singles, dtype)
    minidl.testing.assert_close(history.loss, torch.stack(single_losses, dim=-1), name="history.loss", rtol=1e-4)


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_replicas_train_independently_with_shuffling(kind):
    """Per-replica shuffles drawn as minidl.train draws them, applied by hand to both sides."""
    X, y = data(f64)
    replicated = network(R, dropout=False, dtype=f64)
    singles = [network(None, dropout=False, dtype=f64, seed=10 + r) for r in range(R)]
    for r, single in enumerate(singles):
        copy_replica(replicated, r, single)
    rep_opt, single_opts = make_optimizer(kind, replicated), [make_optimizer(kind, s) for s in singles]
    g = torch.Generator().manual_seed(5)
    for _ in range(3):
        order = torch.rand(R, N, generator=g, dtype=f64).argsort(dim=-1).unsqueeze(-1)
        X_epoch, y_epoch = X.take_along_dim(order, dim=-2), y.take_along_dim(order, dim=-2)
        train_by_hand(replicated, rep_opt, X_epoch, y_epoch, 1)
        for r, (single, opt) in enumerate(zip(singles, single_opts)):
            train_by_hand(single, opt, X_epoch[r], y_epoch[r], 1)
    assert_replicas_match(replicated, singles, f64)


@pytest.mark.parametrize("dtype", [f64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_replicas_with_dropout_equal_separate_trainings(kind, dtype):
    """Two Dropout layers: each single model replays its replica's slice of every mask."""
    if not sequential_draws_hold(dtype):
        pytest.skip("this torch does not fill tensors from a generator in order; masks cannot be replayed")
    X, y = data(dtype)
    replicated = network(R, dropout=True, dtype=dtype)
    singles = [network(None, dropout=True, dtype=dtype, seed=10 + r) for r in range(R)]
    for r, single in enumerate(singles):
        copy_replica(replicated, r, single)
    rep_drops = dropouts(replicated)
    rep_opt = make_optimizer(kind, replicated)
    single_opts = [make_optimizer(kind, s) for s in singles]

    num_epochs = 3
    # Record the replicated Dropouts' generator states before each of their draws.
    states = []
    train_by_hand(
        replicated,
        rep_opt,
        X,
        y,
        num_epochs,
        before_step=lambda step, start: states.append([d.generator.get_state() for d in rep_drops]),
    )
    assert any(bool((d._mask == 0).any()) for d in rep_drops), "dropout should have dropped something"

    for r, (single, opt) in enumerate(zip(singles, single_opts)):
        steps = iter(states)

        def replay(step, start, single=single, r=r, steps=steps):
            batch = min(BATCH, N - start)
            for drop, state in zip(dropouts(single), next(steps)):
                drop.generator.set_state(state)
                torch.rand(r * batch * WIDTH, generator=drop.generator, dtype=dtype)  # skip replicas 0..r-1

        train_by_hand(single, opt, X[r], y[r], num_epochs, before_step=replay)
    assert_replicas_match(replicated, singles, dtype)


def test_a_replica_is_a_single_model_with_its_weights():
    """Forward and backward of replica r equal those of a single model holding replica r's weights."""
    X, y = data(f64)
    replicated = network(R, dropout=False, dtype=f64)
    loss_fn = minidl.MSELoss()
    loss = loss_fn(replicated(X), y)
    replicated.zero_grad()
    grad_X = replicated.backward(loss_fn.backward())
    assert loss.shape == (R,)
    for r in range(R):
        single = network(None, dropout=False, dtype=f64, seed=10 + r)
        copy_replica(replicated, r, single)
        single_loss = loss_fn(single(X[r]), y[r])
        single.zero_grad()
        single_grad_X = single.backward(loss_fn.backward())
        minidl.testing.assert_close(loss[r], single_loss, name=f"loss[{r}]", rtol=1e-12)
        minidl.testing.assert_close(grad_X[r], single_grad_X, name=f"grad_X[{r}]", rtol=1e-10, atol=1e-14)
        for i, ((_, grad), (_, rep_grad)) in enumerate(zip(single.param(), replicated.param())):
            minidl.testing.assert_close(rep_grad[r], grad, name=f"replica {r} gradient {i}", rtol=1e-10, atol=1e-14)
