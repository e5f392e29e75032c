"""minidl.Dropout: inverted dropout's statistics, its two modes, its backward, and bad input."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from oracle import close
from strategies import drop_probabilities, seeds, shapes

import minidl
from minidl.testing import gradcheck

f64 = torch.float64


def drop(p, seed=0):
    return minidl.Dropout(p, generator=torch.Generator().manual_seed(seed))


# -- against autograd -----------------------------------------------------------------


@given(p=drop_probabilities.filter(lambda p: p < 0.999), shape=shapes(), seed=seeds)
def test_forward_and_backward_match_autograd_of_the_masked_scaling(p, shape, seed):
    """Each output is 0 or x/(1−p); backward is autograd's gradient of x ↦ keep ⊙ x/(1−p) for that keep."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=f64) + 10.0  # never 0, so a dropped entry is recognisable
    grad_output = torch.randn(shape, generator=g, dtype=f64)
    module = minidl.Dropout(p, generator=g)

    y = module(x)
    keep = y != 0
    x_ref = x.clone().requires_grad_()
    y_ref = torch.where(keep, x_ref / (1 - p), 0.0)
    y_ref.backward(grad_output)
    close(y, y_ref.detach())
    close(module.backward(grad_output), x_ref.grad)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck(p, training):
    module = drop(p).train(training)
    assert gradcheck(module, torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(1), dtype=f64))


# -- statistics ------------------------------------------------------------------------

N = 200_000


@pytest.mark.parametrize("p", [0.05, 0.2, 0.5, 0.9])
def test_statistics(p):
    """Dropped fraction ≈ p, kept entries scaled by exactly 1/(1−p), mean preserved.

    The number dropped is Binomial(N, p): its fraction has standard deviation
    √(p(1−p)/N) (≤ 0.0011 for N = 200 000), and on ones the output mean is
    kept/(N(1−p)), of standard deviation √(p/((1−p)N)). A 5σ bound fails by
    chance with probability below 10⁻⁶.
    """
    x = torch.ones(N, dtype=f64)
    y = drop(p)(x)
    dropped = (y == 0).double().mean().item()
    assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / N)
    kept = y[y != 0]
    assert torch.equal(kept, torch.full_like(kept, 1 / (1 - p)))
    assert abs(y.mean().item() - 1.0) < 5 * math.sqrt(p / ((1 - p) * N))


def test_masks_are_independent_across_calls_and_entries():
    """Two forward passes draw two masks; their overlap is that of independent Bernoulli(1−p) draws."""
    p = 0.5
    module = drop(p)
    x = torch.ones(N, dtype=f64)
    m1, m2 = module(x) != 0, module(x) != 0
    assert not torch.equal(m1, m2)
    both = (m1 & m2).double().mean().item()
    assert abs(both - (1 - p) ** 2) < 5 * math.sqrt((1 - p) ** 2 * (1 - (1 - p) ** 2) / N)


# -- modes -----------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.2, 1.0])
def test_eval_mode_is_the_identity(p, gen):
    module = drop(p).eval()
    x = torch.randn(3, 5, 4, generator=gen, dtype=f64)
    g = torch.randn(3, 5, 4, generator=gen, dtype=f64)
    assert torch.equal(module(x), x)
    assert torch.equal(module.backward(g), g)


def test_eval_mode_draws_no_random_numbers():
    g = torch.Generator().manual_seed(0)
    module = minidl.Dropout(0.5, generator=g).eval()
    state = g.get_state()
    module(torch.ones(100))
    assert torch.equal(g.get_state(), state)


def test_p_zero_is_the_identity_in_training():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0), dtype=f64)
    module = drop(0.0)
    assert torch.equal(module(x), x)
    assert torch.equal(module.backward(x), x)


def test_p_one_drops_everything_without_nan():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0), dtype=f64)
    module = drop(1.0)
    y = module(x)
    grad_x = module.backward(torch.ones_like(x))
    assert torch.equal(y, torch.zeros_like(x)) and torch.equal(grad_x, torch.zeros_like(x))


def test_backward_reuses_the_mask_of_the_last_forward():
    module = drop(0.5)
    x = torch.ones(1000, dtype=f64)
    module(x)
    y2 = module(x)  # a second forward draws a new mask, which backward must use
    g1 = module.backward(torch.ones_like(x))
    g2 = module.backward(3 * torch.ones_like(x))
    close(g1, y2)
    close(g2, 3 * y2)


def test_train_and_eval_reach_nested_modules():
    inner = drop(0.5)
    model = minidl.Sequential(minidl.Linear(2, 3), minidl.Sequential(minidl.Tanh(), inner), drop(0.3))
    assert model.eval() is model
    assert not model.training and not model[1].training and not inner.training and not model[2].training
    assert model.train() is model
    assert model.training and model[1].training and inner.training and model[2].training
    model.train(False)
    assert not inner.training
    x = torch.rand(20, 2)
    assert torch.equal(model(x), model(x))  # eval: deterministic


def test_works_on_replicas_unchanged():
    x = torch.ones(4, 1000, 3, dtype=f64)
    y = drop(0.25)(x)
    assert y.shape == x.shape
    per_replica = (y == 0).double().mean(dim=(-2, -1))
    assert not torch.equal(y[0], y[1])
    assert (per_replica - 0.25).abs().max() < 5 * math.sqrt(0.25 * 0.75 / 3000)


@given(p=st.floats(0.01, 0.99), seed=seeds)
def test_same_seed_same_mask(p, seed):
    x = torch.ones(64, 3)
    assert torch.equal(drop(p, seed)(x), drop(p, seed)(x))


def test_different_seeds_different_masks():
    x = torch.ones(64, 3)
    assert not torch.equal(drop(0.5, 0)(x), drop(0.5, 1)(x))


def test_single_precision_and_repr():
    y = drop(0.2)(torch.ones(10))
    assert y.dtype == torch.float32
    assert repr(minidl.Dropout(0.2)) == "Dropout(p=0.2)"
    assert minidl.Dropout().p == torch.nn.Dropout().p == 0.5
    assert minidl.Dropout().param() == []


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [-0.1, 1.1, 2.0, float("nan"), float("inf")])
def test_p_outside_the_unit_interval_raises(p):
    with pytest.raises(ValueError, match=rf"Dropout: p is the drop probability and must be in \[0, 1\], got {p!r}"):
        minidl.Dropout(p)


def test_backward_before_forward_raises_runtime_error():
    with pytest.raises(RuntimeError, match=r"Dropout\.backward called before forward"):
        drop(0.5).backward(torch.ones(3))


@pytest.mark.parametrize("bad", [torch.ones(4, 3, dtype=torch.int64), [1.0, 2.0]], ids=["int64", "list"])
def test_non_floating_input_raises_and_changes_nothing(bad):
    g = torch.Generator().manual_seed(0)
    module = minidl.Dropout(0.5, generator=g)
    x = torch.ones(4, 3, dtype=f64)
    y = module(x)
    state = g.get_state()
    with pytest.raises(TypeError, match=r"Dropout: expected a"):
        module(bad)
    assert torch.equal(g.get_state(), state)  # no random numbers consumed
    close(module.backward(torch.ones_like(x)), y)  # the mask is the one of the last successful forward


def test_grad_output_of_wrong_shape_raises_and_changes_nothing():
    module = drop(0.5)
    x = torch.ones(4, 3, dtype=f64)
    y = module(x)
    with pytest.raises(ValueError, match=r"Dropout\.backward: grad_output has shape \(4, 2\), expected .*\(4, 3\)"):
        module.backward(torch.ones(4, 2, dtype=f64))
    with pytest.raises(TypeError, match=r"Dropout\.backward"):
        module.backward(torch.ones(4, 3, dtype=torch.int64))
    close(module.backward(torch.ones_like(x)), y)
