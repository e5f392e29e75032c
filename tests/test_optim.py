"""SGD and Adam: trajectories against torch.optim, the live-tensor contract, and bad arguments."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from oracle import close, to_torch
from strategies import betas, epsilons, learning_rates, seeds

import minidl

f64 = torch.float64
STEPS = 12


def small_model(seed=0, replicas=None):
    g = torch.Generator().manual_seed(seed)
    return minidl.Sequential(
        minidl.Linear(3, 5, replicas=replicas, generator=g, dtype=f64),
        minidl.Tanh(),
        minidl.Linear(5, 2, replicas=replicas, generator=g, dtype=f64),
        minidl.Tanh(),
        minidl.Linear(2, 1, bias=False, replicas=replicas, generator=g, dtype=f64),
    )


def optimizers(kind, model, reference, lr, betas_=(0.9, 0.999), eps=1e-8):
    """The same optimizer on both sides; torch's single-tensor loop, the one minidl's docstring follows."""
    if kind == "SGD":
        return minidl.SGD(model.param(), lr=lr), torch.optim.SGD(reference.parameters(), lr=lr)
    return (
        minidl.Adam(model.param(), lr=lr, betas=betas_, eps=eps),
        torch.optim.Adam(reference.parameters(), lr=lr, betas=betas_, eps=eps, foreach=False),
    )


# -- trajectories against torch.optim ---------------------------------------------------------


@given(
    kind=st.sampled_from(["SGD", "Adam"]),
    lr=learning_rates,
    betas_=betas,
    eps=epsilons,
    grad_scale=st.sampled_from([1e-6, 1.0, 100.0]),
    seed=seeds,
)
def test_trajectory_with_given_gradients_matches_torch(kind, lr, betas_, eps, grad_scale, seed):
    """Feed both optimizers the same gradients for 12 steps; the parameters agree after every step.

    Gradients of 1e-6 make ε matter in Adam's denominator; some are exactly 0.
    """
    model = small_model(seed % 1000)
    reference = to_torch(model)
    ours, theirs = optimizers(kind, model, reference, lr, betas_, eps)
    g = torch.Generator().manual_seed(seed)
    for _ in range(STEPS):
        for (_, grad), p in zip(model.param(), reference.parameters()):
            new = grad_scale * torch.randn(grad.shape, generator=g, dtype=f64)
            new[torch.rand(grad.shape, generator=g) < 0.1] = 0.0
            grad.copy_(new)
            p.grad = new.clone()
        ours.step()
        theirs.step()
        for (value, _), p in zip(model.param(), reference.parameters()):
            close(value, p.detach())


@pytest.mark.parametrize(
    ("kind", "lr", "betas_", "eps"),
    [
        ("SGD", 0.05, None, None),
        ("SGD", 0.5, None, None),
        ("Adam", 1e-3, (0.9, 0.999), 1e-8),
        ("Adam", 0.05, (0.5, 0.9), 1e-4),
        ("Adam", 0.01, (0.0, 0.0), 1e-6),
    ],
)
def test_training_trajectory_matches_torch(kind, lr, betas_, eps):
    """The whole step (forward, loss, backward, update) against torch with autograd, 12 mini-batches."""
    model = small_model(1)
    reference = to_torch(model)
    kwargs = {} if kind == "SGD" else {"betas_": betas_, "eps": eps}
    ours, theirs = optimizers(kind, model, reference, lr, **kwargs)
    loss_fn = minidl.MSELoss()
    g = torch.Generator().manual_seed(2)
    for _ in range(STEPS):
        X = torch.randn(8, 3, generator=g, dtype=f64)
        y = torch.rand(8, 1, generator=g, dtype=f64)
        loss = loss_fn(model(X), y)
        ours.zero_grad()
        model.backward(loss_fn.backward())
        ours.step()

        loss_ref = torch.nn.functional.mse_loss(reference(X), y)
        theirs.zero_grad()
        loss_ref.backward()
        theirs.step()

        close(loss, loss_ref.detach())
        for (value, grad), p in zip(model.param(), reference.parameters()):
            close(grad, p.grad)
            close(value, p.detach())


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_replicated_model_is_R_independent_torch_models(kind):
    """Optimizers work unchanged with replicas: replica r follows the trajectory of its own torch model."""
    R = 3
    model = small_model(4, replicas=R)
    references = [to_torch(model, r) for r in range(R)]
    ours = minidl.SGD(model.param(), lr=0.1) if kind == "SGD" else minidl.Adam(model.param(), lr=0.02)
    theirs = [
        torch.optim.SGD(m.parameters(), lr=0.1) if kind == "SGD" else torch.optim.Adam(m.parameters(), lr=0.02)
        for m in references
    ]
    loss_fn = minidl.MSELoss()
    g = torch.Generator().manual_seed(5)
    for _ in range(STEPS):
        X = torch.randn(R, 6, 3, generator=g, dtype=f64)
        y = torch.rand(R, 6, 1, generator=g, dtype=f64)
        loss_fn(model(X), y)
        ours.zero_grad()
        model.backward(loss_fn.backward())
        ours.step()
        for r, (reference, optimizer) in enumerate(zip(references, theirs)):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(reference(X[r]), y[r]).backward()
            optimizer.step()
            for (value, _), p in zip(model.param(), reference.parameters()):
                close(value[r], p.detach())


# -- the contract: live tensors, state beside the parameters ------------------------------------


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_step_updates_the_modules_own_tensors(kind):
    model = small_model()
    tensors = [(value, grad) for value, grad in model.param()]
    values_before = [value.clone() for value, _ in tensors]
    optimizer = minidl.SGD(model.param(), lr=0.1) if kind == "SGD" else minidl.Adam(model.param(), lr=0.1)
    # Building the optimizer changes neither the values nor which tensors the layers hold.
    assert all(a is b and c is d for (a, c), (b, d) in zip(tensors, model.param()))
    assert all(torch.equal(v, b) for (v, _), b in zip(tensors, values_before))
    for _, grad in model.param():
        grad.fill_(1.0)
    optimizer.step()
    # SGD: θ − η·1; Adam's first step: θ − η·g/(|g| + ε) with the bias-corrected moments m̂ = g, v̂ = g².
    step = 0.1 if kind == "SGD" else 0.1 / (1 + 1e-8)
    for (value, _), before in zip(model.param(), values_before):
        close(value, before - step)
    assert model[0].weight is tensors[0][0]


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_zero_grad_zeroes_the_modules_gradients_in_place(kind):
    model = small_model()
    optimizer = minidl.SGD(model.param(), lr=0.1) if kind == "SGD" else minidl.Adam(model.param())
    grads = [grad for _, grad in model.param()]
    model(torch.randn(4, 3, dtype=f64))
    model.backward(torch.ones(4, 1, dtype=f64))
    assert all(grad.any() for grad in grads)
    optimizer.zero_grad()
    assert all(a is b for a, (_, b) in zip(grads, model.param()))
    assert not any(grad.any() for grad in grads)
    # and the module's own backward still accumulates into the same tensors afterwards
    model(torch.randn(4, 3, dtype=f64))
    model.backward(torch.ones(4, 1, dtype=f64))
    assert all(grad.any() for grad in grads)


def test_adam_keeps_its_state_beside_the_parameters():
    model = small_model()
    attributes = [set(vars(m)) for m in model]
    optimizer = minidl.Adam(model.param(), lr=0.01)
    for _, grad in model.param():
        grad.fill_(0.5)
    optimizer.step()
    assert [set(vars(m)) for m in model] == attributes  # nothing stored on the layers
    assert [m.shape for m in optimizer.exp_avg] == [v.shape for v, _ in model.param()]
    assert [v.shape for v in optimizer.exp_avg_sq] == [v.shape for v, _ in model.param()]
    close(optimizer.exp_avg[0], torch.full_like(optimizer.exp_avg[0], 0.05))  # (1 − β₁)·g after one step


def test_two_optimizers_on_one_model_both_stay_live():
    """Building a second optimizer (on the model or on part of it) must not detach the first."""
    model = small_model()
    first = minidl.SGD(model.param(), lr=0.1)
    second = minidl.Adam(model[0].param(), lr=0.1)
    third = minidl.SGD(model.param(), lr=0.1)
    everything, first_layer = [True] * 5, [True, True, False, False, False]
    for optimizer, expected in ((first, everything), (second, first_layer), (third, everything)):
        before = [value.clone() for value, _ in model.param()]
        for _, grad in model.param():
            grad.fill_(1.0)
        optimizer.step()
        moved = [not torch.equal(value, b) for (value, _), b in zip(model.param(), before)]
        assert moved == expected


def test_adam_defaults_are_torchs():
    model = small_model()
    optimizer = minidl.Adam(model.param())
    defaults = torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults
    assert optimizer.lr == defaults["lr"] and optimizer.betas == defaults["betas"] and optimizer.eps == defaults["eps"]
    assert repr(optimizer) == "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08)"
    assert repr(minidl.SGD(model.param(), lr=0.1)) == "SGD(lr=0.1)"


# -- bad arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [minidl.SGD, minidl.Adam])
@pytest.mark.parametrize("lr", [0, 0.0, -0.1, -1, float("nan"), float("inf"), "0.1", None])
def test_learning_rate_must_be_positive(cls, lr):
    model = small_model()
    values = [value.clone() for value, _ in model.param()]
    with pytest.raises(ValueError, match=rf"{cls.__name__}: learning rate must be a positive number, got {lr!r}"):
        cls(model.param(), lr=lr)
    assert all(torch.equal(v, b) for (v, _), b in zip(model.param(), values))


@pytest.mark.parametrize("bad", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.999), (0.9, -0.5), (0.9, float("nan")), (0.9,), (0.9, 0.99, 0.9)])
def test_adam_betas_must_be_in_the_unit_interval(bad):
    with pytest.raises(ValueError, match=r"Adam: betas must be two numbers in \[0, 1\), got"):
        minidl.Adam(small_model().param(), betas=bad)


def test_adam_eps_must_be_non_negative():
    with pytest.raises(ValueError, match=r"Adam: eps must be non-negative, got -1e-08"):
        minidl.Adam(small_model().param(), eps=-1e-8)


@pytest.mark.parametrize("cls", [minidl.SGD, minidl.Adam])
def test_parameters_must_be_value_grad_pairs(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: got an empty parameter list"):
        cls([], lr=0.1)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: got an empty parameter list"):
        cls(minidl.Tanh().param(), lr=0.1)
    with pytest.raises(TypeError, match=rf"{cls.__name__}: parameter 0 is not a \(value, grad\) pair"):
        cls([torch.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match=r"pass model\.param\(\)"):
        cls(small_model(), lr=0.1)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: parameter 1 has value shape \(3,\) but grad shape \(2,\)"):
        cls([(torch.zeros(2), torch.zeros(2)), (torch.zeros(3), torch.zeros(2))], lr=0.1)


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_a_model_held_by_an_optimizer_still_works_everywhere(kind):
    """Whatever an optimizer does to store the parameters, gradcheck and copies of the model still work."""
    model = small_model(replicas=2)
    optimizer = minidl.SGD(model.param(), lr=0.1) if kind == "SGD" else minidl.Adam(model.param(), lr=0.1)
    x = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0), dtype=f64)
    assert minidl.testing.gradcheck(model, x)
    clone = copy.deepcopy(model)
    model(x)
    model.backward(torch.ones(2, 4, 1, dtype=f64))
    optimizer.step()
    # the copy is independent: the step moved the model, not the copy
    assert not torch.equal(clone[0].weight, model[0].weight)
    assert all(not grad.any() for _, grad in clone.param())
