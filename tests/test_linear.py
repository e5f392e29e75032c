"""minidl.Linear against torch.nn.Linear, by finite differences, and on bad input."""

from __future__ import annotations

import math
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from oracle import close, to_torch
from strategies import batch_sizes, features, replicas, seeds

import minidl
from minidl.testing import gradcheck

f64 = torch.float64


def make(n_in, n_out, *, bias=True, R=None, seed=0, dtype=f64):
    return minidl.Linear(n_in, n_out, bias=bias, replicas=R, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# -- PyTorch as oracle ---------------------------------------------------------


@given(n=batch_sizes, n_in=features, n_out=features, bias=st.booleans(), R=replicas, seed=seeds)
def test_forward_and_backward_match_torch(n, n_in, n_out, bias, R, seed):
    """A replicated Linear is R separate torch Linear layers: outputs, grad input and every grad agree."""
    check_against_torch(n, n_in, n_out, bias, R, seed)


@pytest.mark.parametrize("R", [None, 1, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_single_output_matches_torch(R, bias):
    """out_features = 1, the report's output layer, has its own path in backward (an outer product)."""
    check_against_torch(10, 25, 1, bias, R, seed=4)
    lead = () if R is None else (R,)
    assert gradcheck(make(5, 1, bias=bias, R=R), torch.randn(*lead, 7, 5, generator=torch.Generator().manual_seed(2), dtype=f64))


def check_against_torch(n, n_in, n_out, bias, R, seed):
    g = torch.Generator().manual_seed(seed)
    layer = minidl.Linear(n_in, n_out, bias=bias, replicas=R, generator=g, dtype=f64)
    lead = () if R is None else (R,)
    x = torch.randn(*lead, n, n_in, generator=g, dtype=f64)
    grad_output = torch.randn(*lead, n, n_out, generator=g, dtype=f64)

    y = layer(x)
    grad_x = layer.backward(grad_output)

    for r in range(1) if R is None else range(R):
        pick = (lambda t: t) if R is None else (lambda t, r=r: t[r])
        reference = to_torch(layer, None if R is None else r)
        x_r = pick(x).clone().requires_grad_()
        y_r = reference(x_r)
        y_r.backward(pick(grad_output))
        close(pick(y), y_r.detach())
        close(pick(grad_x), x_r.grad)
        close(pick(layer.grad_weight), reference.weight.grad)
        if bias:
            close(pick(layer.grad_bias), reference.bias.grad)
    assert y.shape == (*lead, n, n_out)
    assert grad_x.shape == x.shape


def test_single_precision_matches_torch(gen):
    layer = minidl.Linear(3, 4, generator=gen)
    x = torch.randn(5, 3, generator=gen)
    reference = to_torch(layer)
    torch.testing.assert_close(layer(x), reference(x).detach())
    assert layer(x).dtype == torch.float32


@pytest.mark.parametrize("R", [None, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck(R, bias):
    layer = make(3, 4, bias=bias, R=R)
    lead = () if R is None else (R,)
    assert gradcheck(layer, torch.randn(*lead, 5, 3, generator=torch.Generator().manual_seed(1), dtype=f64))


# -- initialisation and attributes --------------------------------------------------


def test_shapes_and_attributes():
    layer = make(2, 25, R=None)
    assert layer.weight.shape == (25, 2) and layer.bias.shape == (25,)
    assert layer.grad_weight.shape == (25, 2) and layer.grad_bias.shape == (25,)
    assert not layer.grad_weight.any() and not layer.grad_bias.any()
    rep = make(2, 25, R=4)
    assert rep.weight.shape == (4, 25, 2) and rep.bias.shape == (4, 25)
    no_bias = make(2, 25, bias=False)
    assert no_bias.bias is None and no_bias.grad_bias is None
    assert [v.shape for v, _ in no_bias.param()] == [(25, 2)]


def test_default_init_is_torch_uniform():
    """weight and bias ~ U(−1/√in, 1/√in): inside the bounds, mean 0 and variance bound²/3.

    60 000 draws: the mean has standard deviation bound/√(3·60000), the sample
    variance relative standard deviation √(0.8/60000) ≈ 0.0037 (uniform
    kurtosis 1.8); five of those make a false alarm essentially impossible.
    """
    n_in, n_out, R = 16, 25, 150
    layer = make(n_in, n_out, R=R, dtype=torch.float32)
    bound = 1 / math.sqrt(n_in)
    w = layer.weight.double().flatten()
    assert w.abs().max() <= bound and layer.bias.abs().max() <= bound
    assert w.abs().max() > 0.99 * bound  # and it fills the interval
    assert abs(w.mean()) < 5 * bound / math.sqrt(3 * w.numel())
    assert abs(w.var() / (bound**2 / 3) - 1) < 5 * math.sqrt(0.8 / w.numel())


def test_generator_determinism():
    a, b, c = make(3, 4, R=2, seed=7), make(3, 4, R=2, seed=7), make(3, 4, R=2, seed=8)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not torch.equal(a.weight, c.weight)


def test_replicas_are_initialised_independently():
    layer = make(3, 4, R=3)
    assert not torch.equal(layer.weight[0], layer.weight[1])
    assert not torch.equal(layer.bias[1], layer.bias[2])


def test_dtype_and_to():
    layer = minidl.Linear(3, 2, dtype=f64)
    assert layer.weight.dtype == f64 and layer.grad_weight.dtype == f64 and layer.bias.dtype == f64
    layer32 = minidl.Linear(3, 2)
    assert layer32.weight.dtype == torch.get_default_dtype()
    layer32.double()
    assert all(v.dtype == f64 and g.dtype == f64 for v, g in layer32.param())
    assert layer32(torch.randn(4, 3, dtype=f64)).dtype == f64


def test_repr_matches_torch():
    assert repr(minidl.Linear(2, 25)) == repr(torch.nn.Linear(2, 25)) == "Linear(in_features=2, out_features=25, bias=True)"
    assert repr(minidl.Linear(3, 1, bias=False)) == repr(torch.nn.Linear(3, 1, bias=False))
    assert repr(minidl.Linear(2, 25, replicas=20)) == "Linear(in_features=2, out_features=25, bias=True, replicas=20)"


# -- the Module contract ------------------------------------------------------------


def test_param_returns_live_tensors(gen):
    layer = make(3, 2)
    (w, gw), (b, gb) = layer.param()
    assert w is layer.weight and gw is layer.grad_weight and b is layer.bias and gb is layer.grad_bias
    w.zero_()
    b.fill_(2.0)
    assert torch.equal(layer(torch.randn(4, 3, generator=gen, dtype=f64)), torch.full((4, 2), 2.0, dtype=f64))


@pytest.mark.parametrize("R", [None, 2])
def test_backward_accumulates_and_zero_grad_is_in_place(R, gen):
    layer = make(3, 2, R=R)
    lead = () if R is None else (R,)
    x = torch.randn(*lead, 5, 3, generator=gen, dtype=f64)
    g = torch.randn(*lead, 5, 2, generator=gen, dtype=f64)
    layer(x)
    layer.backward(g)
    once_w, once_b = layer.grad_weight.clone(), layer.grad_bias.clone()
    layer.backward(g)
    close(layer.grad_weight, 2 * once_w)
    close(layer.grad_bias, 2 * once_b)
    grads = [grad for _, grad in layer.param()]
    layer.zero_grad()
    assert all(a is b for a, b in zip(grads, (layer.grad_weight, layer.grad_bias)))  # the same tensors
    assert not layer.grad_weight.any() and not layer.grad_bias.any()


def test_forward_overwrites_the_saved_input(gen):
    layer, fresh = make(3, 2), make(3, 2)
    x1, x2 = torch.randn(4, 3, generator=gen, dtype=f64), torch.randn(6, 3, generator=gen, dtype=f64)
    g = torch.randn(6, 2, generator=gen, dtype=f64)
    layer(x1)
    layer(x2)
    grad_x = layer.backward(g)
    fresh(x2)
    close(grad_x, fresh.backward(g))
    close(layer.grad_weight, fresh.grad_weight)


# -- bad input: a clear error, raised before any state changes -------------------


def assert_state(layer, x_saved, grads_before):
    """The layer still holds the earlier input and gradients: a backward gives the expected result."""
    assert all(torch.equal(a, b) for a, b in zip([g for _, g in layer.param()], grads_before))
    reference = make(layer.in_features, layer.out_features, R=layer.replicas)
    for (v, _), (rv, _) in zip(layer.param(), reference.param()):
        rv.copy_(v)
    g = torch.ones(*x_saved.shape[:-1], layer.out_features, dtype=f64)
    reference(x_saved)
    close(layer.backward(g), reference.backward(g))


@pytest.mark.parametrize(
    ("R", "bad", "pattern"),
    [
        (None, torch.zeros(5, 4, dtype=f64), r"Linear\(in_features=3.*expected 3 input features, got 4"),
        (None, torch.zeros(5, 2, dtype=f64), r"Linear\(in_features=3.*expected 3 input features, got 2"),
        (None, torch.zeros(5, dtype=f64), r"Linear\(in_features=3.*expected input of shape \(n, in_features\), got \(5,\)"),
        (None, torch.zeros(2, 5, 3, dtype=f64), r"Linear\(.*got \(2, 5, 3\)"),
        (2, torch.zeros(5, 3, dtype=f64), r"Linear\(.*replicas=2\).*\(R=2, n, in_features\), got \(5, 3\)"),
        (2, torch.zeros(3, 5, 3, dtype=f64), r"Linear\(.*\(R=2, n, in_features\), got \(3, 5, 3\)"),
        (2, torch.zeros(2, 5, 4, dtype=f64), r"Linear\(.*expected 3 input features, got 4"),
    ],
)
def test_wrong_input_shape_raises_value_error_and_keeps_state(R, bad, pattern, gen):
    layer = make(3, 2, R=R)
    lead = () if R is None else (R,)
    x = torch.randn(*lead, 4, 3, generator=gen, dtype=f64)
    layer(x)
    with pytest.raises(ValueError, match=pattern):
        layer(bad)
    assert_state(layer, x, [torch.zeros_like(g) for _, g in layer.param()])


@pytest.mark.parametrize(
    ("bad", "pattern"),
    [
        (torch.zeros(4, 3, dtype=torch.int64), r"Linear.*floating.*torch\.int64"),
        (torch.zeros(4, 3, dtype=torch.bool), r"Linear.*floating.*torch\.bool"),
        ([[0.0, 0.0, 0.0]], r"Linear.*torch\.Tensor.*list"),
        (torch.zeros(4, 3, dtype=torch.float32), r"Linear.*torch\.float32.*parameters are torch\.float64"),
    ],
)
def test_wrong_input_type_raises_type_error_and_keeps_state(bad, pattern, gen):
    layer = make(3, 2)
    x = torch.randn(4, 3, generator=gen, dtype=f64)
    layer(x)
    with pytest.raises(TypeError, match=pattern):
        layer(bad)
    assert_state(layer, x, [torch.zeros_like(g) for _, g in layer.param()])


def test_backward_before_forward_raises_runtime_error():
    layer = make(3, 2)
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=3, out_features=2.*backward called before forward"):
        layer.backward(torch.zeros(4, 2, dtype=f64))
    assert not layer.grad_weight.any() and not layer.grad_bias.any()


@pytest.mark.parametrize("R", [None, 2])
@pytest.mark.parametrize("wrong", [(4, 3), (5, 2), (4, 2, 1), (2,)])
def test_grad_output_of_wrong_shape_raises_and_keeps_grads(R, wrong, gen):
    layer = make(3, 2, R=R)
    lead = () if R is None else (R,)
    x = torch.randn(*lead, 4, 3, generator=gen, dtype=f64)
    layer(x)
    layer.backward(torch.ones(*lead, 4, 2, dtype=f64))
    before = [g.clone() for _, g in layer.param()]
    expected = re.escape(str((*lead, 4, 2)))
    got = re.escape(str((*lead, *wrong)))
    with pytest.raises(ValueError, match=rf"Linear\(.*grad_output has shape {got}, expected the output shape {expected}"):
        layer.backward(torch.ones(*lead, *wrong, dtype=f64))
    assert_state(layer, x, before)


@pytest.mark.parametrize(
    ("bad_grad", "got"),
    [
        (torch.ones(4, 2, dtype=torch.int64), "dtype torch.int64"),
        (torch.ones(4, 2, dtype=torch.bool), "dtype torch.bool"),
        (torch.ones(4, 2, dtype=torch.float32), "dtype torch.float32"),
        ([[1.0, 1.0]] * 4, "a list"),
    ],
)
def test_grad_output_of_wrong_type_raises_type_error_and_keeps_grads(bad_grad, got, gen):
    layer = make(3, 2)
    x = torch.randn(4, 3, generator=gen, dtype=f64)
    layer(x)
    pattern = rf"Linear\(in_features=3.*\.backward: expected grad_output of dtype torch\.float64 .*, got {got}"
    with pytest.raises(TypeError, match=pattern):
        layer.backward(bad_grad)
    assert_state(layer, x, [torch.zeros_like(g) for _, g in layer.param()])


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        ((0, 3), {}, r"Linear: in_features must be a positive integer, got 0"),
        ((-2, 3), {}, r"Linear: in_features must be a positive integer, got -2"),
        ((3, 0), {}, r"Linear: out_features must be a positive integer, got 0"),
        ((3, 2.5), {}, r"Linear: out_features must be a positive integer, got 2.5"),
        ((3, 2), {"replicas": 0}, r"Linear: replicas must be a positive integer or None, got 0"),
        ((3, 2), {"replicas": -1}, r"Linear: replicas must be a positive integer or None, got -1"),
    ],
)
def test_non_positive_sizes_raise_value_error(args, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        minidl.Linear(*args, **kwargs)
