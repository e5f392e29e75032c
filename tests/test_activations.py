"""minidl's activations against torch autograd, by finite differences, and on bad input."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from oracle import close
from strategies import alphas, negative_slopes, shapes, slopes, tensors

import minidl
from minidl.testing import gradcheck

f64 = torch.float64

# (minidl module, the same function for torch autograd); hyper-parameters are drawn by hypothesis.
CASES = {
    "ReLU": (st.just(None), lambda _: minidl.ReLU(), lambda _: F.relu),
    "Tanh": (st.just(None), lambda _: minidl.Tanh(), lambda _: torch.tanh),
    "Sigmoid": (slopes, lambda lam: minidl.Sigmoid(slope=lam), lambda lam: lambda x: torch.sigmoid(lam * x)),
    "ELU": (alphas, lambda a: minidl.ELU(alpha=a), lambda a: lambda x: F.elu(x, alpha=a)),
    "LeakyReLU": (
        negative_slopes,
        lambda b: minidl.LeakyReLU(negative_slope=b),
        lambda b: lambda x: F.leaky_relu(x, negative_slope=b),
    ),
}


# One fresh module per test (non-default hyper-parameters), so no test sees another's saved state.
MODULES = {
    "ReLU": minidl.ReLU,
    "Tanh": minidl.Tanh,
    "Sigmoid": lambda: minidl.Sigmoid(3.0),
    "ELU": lambda: minidl.ELU(0.5),
    "LeakyReLU": lambda: minidl.LeakyReLU(0.1),
}
each_module = pytest.mark.parametrize("name", list(MODULES))


# -- PyTorch as oracle ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
@given(data=st.data())
def test_forward_and_backward_match_torch(name, data):
    """Any shape (with or without a replica axis), any hyper-parameter, including inputs exactly at 0."""
    hyper, make, reference = CASES[name]
    h = data.draw(hyper, label="hyper-parameter")
    shape = data.draw(shapes(), label="shape")
    x = data.draw(tensors(shape), label="x")
    grad_output = data.draw(tensors(shape, zeros=False), label="grad_output")
    module = make(h)

    y = module(x)
    grad_x = module.backward(grad_output)

    x_ref = x.clone().requires_grad_()
    y_ref = reference(h)(x_ref)
    y_ref.backward(grad_output)
    close(y, y_ref.detach())
    close(grad_x, x_ref.grad)


def test_hyper_parameters_change_the_result():
    """The default value hides a module that ignores its hyper-parameter: check a non-default one."""
    x = torch.tensor([-2.0, -0.5, 0.5], dtype=f64)
    close(minidl.ELU(alpha=0.01)(x), F.elu(x, alpha=0.01))
    close(minidl.LeakyReLU(0.3)(x), torch.tensor([-0.6, -0.15, 0.5], dtype=f64))
    close(minidl.Sigmoid(slope=3.0)(x), torch.sigmoid(3 * x))
    assert not torch.equal(minidl.Sigmoid(slope=3.0)(x), minidl.Sigmoid()(x))


def test_tanh_is_a_scaled_sigmoid_with_slope_two():
    """tanh x = 2 σ₂(x) − 1, as the report and the docstring say."""
    x = torch.linspace(-5, 5, 101, dtype=f64)
    close(minidl.Tanh()(x), 2 * minidl.Sigmoid(slope=2.0)(x) - 1)


def test_tanh_is_accurate_in_single_precision():
    """Tanh computes 2σ(2x) − 1 (faster than torch.tanh on a CPU): within 2.5e-7 of tanh, two roundings near 1."""
    x = torch.linspace(-12, 12, 240_001)
    y = minidl.Tanh()(x)
    assert (y.double() - torch.tanh(x.double())).abs().max() <= 2.5e-7
    assert y[x.abs() > 10].abs().eq(1).all() and minidl.Tanh()(torch.zeros(3)).eq(0).all()


@each_module
def test_single_precision(name, gen):
    module = MODULES[name]()
    x = torch.randn(4, 3, generator=gen)
    y = module(x)
    assert y.dtype == torch.float32 and module.backward(torch.ones_like(y)).dtype == torch.float32


@each_module
@pytest.mark.parametrize("shape", [(5, 3), (2, 5, 3)], ids=["single", "replicas"])
def test_gradcheck(name, shape):
    module = MODULES[name]()
    # Normals of scale 1 are never within 1e-6 of the kink at 0.
    assert gradcheck(module, torch.randn(shape, generator=torch.Generator().manual_seed(3), dtype=f64))


@each_module
@pytest.mark.parametrize("dtype", [torch.float32, f64])
def test_finite_for_large_inputs(name, dtype):
    """Saturating functions stay finite (no inf·0 = NaN) for inputs of ±200 and beyond."""
    module = MODULES[name]()
    x = torch.tensor([-1000.0, -200.0, 0.0, 200.0, 1000.0], dtype=dtype)
    y = module(x)
    grad_x = module.backward(torch.ones_like(x))
    assert torch.isfinite(y).all() and torch.isfinite(grad_x).all()


# -- behaviour -----------------------------------------------------------------------


@each_module
def test_no_parameters(name):
    module = MODULES[name]()
    assert module.param() == []
    module.zero_grad()  # nothing to do, and no error


@each_module
def test_forward_overwrites_the_saved_tensor(name, gen):
    module = MODULES[name]()
    x1, x2 = torch.randn(3, 2, generator=gen, dtype=f64), torch.randn(4, 2, generator=gen, dtype=f64)
    g = torch.randn(4, 2, generator=gen, dtype=f64)
    module(x1)
    module(x2)
    fresh = MODULES[name]()
    fresh(x2)
    close(module.backward(g), fresh.backward(g))


@each_module
def test_forward_leaves_its_input_unchanged(name, gen):
    module = MODULES[name]()
    x = torch.randn(4, 3, generator=gen, dtype=f64)
    before = x.clone()
    module(x)
    module.backward(torch.ones_like(x))
    assert torch.equal(x, before)


def test_reprs_in_torch_style():
    assert repr(minidl.ReLU()) == repr(torch.nn.ReLU()) == "ReLU()"
    assert repr(minidl.Tanh()) == repr(torch.nn.Tanh()) == "Tanh()"
    assert repr(minidl.ELU(0.01)) == repr(torch.nn.ELU(0.01)) == "ELU(alpha=0.01)"
    assert repr(minidl.LeakyReLU()) == repr(torch.nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(minidl.Sigmoid(3)) == "Sigmoid(slope=3.0)"


def test_defaults_are_torch_defaults():
    assert minidl.ELU().alpha == torch.nn.ELU().alpha == 1.0
    assert minidl.LeakyReLU().negative_slope == torch.nn.LeakyReLU().negative_slope == 0.01
    assert minidl.Sigmoid().slope == 1.0


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("slope", [0.0, -1.0, float("nan")])
def test_sigmoid_slope_must_be_positive(slope):
    with pytest.raises(ValueError, match=r"Sigmoid: slope must be positive, got"):
        minidl.Sigmoid(slope=slope)


@each_module
def test_backward_before_forward_raises_runtime_error(name):
    module = MODULES[name]()
    with pytest.raises(RuntimeError, match=rf"{name}\.backward called before forward"):
        module.backward(torch.ones(2, 3))


@each_module
@pytest.mark.parametrize(
    ("bad", "got"),
    [(torch.zeros(4, 3, dtype=torch.int64), "int64"), (torch.zeros(4, 3, dtype=torch.bool), "bool"), ([1.0, 2.0], "list")],
)
def test_non_floating_input_raises_type_error_and_keeps_state(name, bad, got, gen):
    module = MODULES[name]()
    x = torch.randn(4, 3, generator=gen, dtype=f64)
    g = torch.randn(4, 3, generator=gen, dtype=f64)
    module(x)
    expected = module.backward(g)
    with pytest.raises(TypeError, match=rf"{name}: expected a .*{got}"):
        module(bad)
    close(module.backward(g), expected)


@each_module
@pytest.mark.parametrize("wrong", [(4, 2), (3, 3), (4, 3, 1), (12,)])
def test_grad_output_of_wrong_shape_raises_value_error(name, wrong, gen):
    module = MODULES[name]()
    x = torch.randn(4, 3, generator=gen, dtype=f64)
    g = torch.randn(4, 3, generator=gen, dtype=f64)
    module(x)
    expected = module.backward(g)
    pattern = rf"{name}\.backward: grad_output has shape {re.escape(str(wrong))}, expected .*\(4, 3\)"
    with pytest.raises(ValueError, match=pattern):
        module.backward(torch.ones(wrong, dtype=f64))
    close(module.backward(g), expected)


@each_module
@pytest.mark.parametrize("bad_grad", [torch.ones(4, 3, dtype=torch.int64), [[1.0] * 3] * 4], ids=["int64", "list"])
def test_non_floating_grad_output_raises_type_error(name, bad_grad, gen):
    module = MODULES[name]()
    module(torch.randn(4, 3, generator=gen, dtype=f64))
    with pytest.raises(TypeError, match=rf"{name}\.backward"):
        module.backward(bad_grad)
