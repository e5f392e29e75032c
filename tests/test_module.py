"""minidl.Module and minidl.Sequential: the contract, and a whole network against torch."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from oracle import close, report_network, to_torch
from strategies import replicas, seeds

import minidl
from minidl.testing import gradcheck

f64 = torch.float64

ACTIVATIONS = {
    "Tanh": minidl.Tanh,
    "ReLU": minidl.ReLU,
    "LeakyReLU": lambda: minidl.LeakyReLU(0.1),
    "ELU": lambda: minidl.ELU(0.5),
    "Sigmoid": lambda: minidl.Sigmoid(3.0),
}


class Recorder(minidl.Module):
    """Logs its calls, and adds its tag so that the order of composition shows in the result."""

    def __init__(self, tag: float, log: list) -> None:
        super().__init__()
        self.tag, self.log = tag, log

    def forward(self, x):
        self.log.append(("forward", self.tag))
        return 10 * x + self.tag

    def backward(self, grad_output):
        self.log.append(("backward", self.tag))
        return 10 * grad_output


# -- the base class ----------------------------------------------------------------------------


def test_base_class_contract():
    module = minidl.Module()
    assert module.training is True
    assert module.param() == []
    with pytest.raises(NotImplementedError, match="Module.forward"):
        module(torch.zeros(1))
    with pytest.raises(NotImplementedError, match="Module.backward"):
        module.backward(torch.zeros(1))
    assert repr(module) == "Module()"


def test_call_runs_forward():
    log: list = []
    assert Recorder(1.0, log)(torch.zeros(1)).item() == 1.0
    assert log == [("forward", 1.0)]


# -- Sequential ------------------------------------------------------------------------------------


def test_sequential_forward_in_order_and_backward_in_reverse():
    log: list = []
    model = minidl.Sequential(Recorder(1.0, log), Recorder(2.0, log), Recorder(3.0, log))
    # ((0·10 + 1)·10 + 2)·10 + 3 = 123: composition in the given order.
    assert model(torch.zeros(1)).item() == 123.0
    assert model.backward(torch.ones(1)).item() == 1000.0
    assert log == [("forward", 1.0), ("forward", 2.0), ("forward", 3.0), ("backward", 3.0), ("backward", 2.0), ("backward", 1.0)]


def test_sequential_param_concatenates_live_pairs_in_order():
    a, b = minidl.Linear(2, 3), minidl.Linear(3, 1, bias=False)
    model = minidl.Sequential(a, minidl.Tanh(), minidl.Sequential(b, minidl.ReLU()))
    expected = [(a.weight, a.grad_weight), (a.bias, a.grad_bias), (b.weight, b.grad_weight)]
    got = model.param()
    assert len(got) == 3
    assert all(v is ev and g is eg for (v, g), (ev, eg) in zip(got, expected))


def test_param_values_are_live():
    model = minidl.Sequential(minidl.Linear(2, 3), minidl.Tanh(), minidl.Linear(3, 1))
    for value, _ in model.param():
        value.zero_()  # through param(), not through the layers
    assert torch.equal(model(torch.rand(5, 2)), torch.zeros(5, 1))


def test_zero_grad_zeroes_in_place_and_backward_accumulates(gen):
    model = report_network(generator=gen, dtype=f64)
    x = torch.rand(7, 2, generator=gen, dtype=f64)
    grads = [grad for _, grad in model.param()]
    model(x)
    model.backward(torch.ones(7, 1, dtype=f64))
    once = [grad.clone() for grad in grads]
    model.backward(torch.ones(7, 1, dtype=f64))  # a second backward, same saved state
    for grad, first in zip(grads, once):
        close(grad, 2 * first)
    model.zero_grad()
    assert all(a is b for a, (_, b) in zip(grads, model.param()))
    assert not any(grad.any() for grad in grads)


def test_sequential_indexing_len_and_errors():
    layers = [minidl.Linear(2, 3), minidl.Tanh()]
    model = minidl.Sequential(*layers)
    assert len(model) == 2 and model[0] is layers[0] and model[-1] is layers[1]
    assert list(model) == layers
    assert minidl.Sequential().param() == []
    with pytest.raises(TypeError, match=r"Sequential: argument 1 is a Linear, expected a minidl Module"):
        minidl.Sequential(minidl.Tanh(), torch.nn.Linear(2, 3))
    with pytest.raises(TypeError, match=r"Sequential: argument 0 is a builtin_function_or_method"):
        minidl.Sequential(torch.tanh)


def test_sequential_repr_is_torchs():
    ours = minidl.Sequential(minidl.Linear(2, 25), minidl.Tanh(), minidl.Sequential(minidl.Linear(25, 1), minidl.ReLU()))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 25), torch.nn.Tanh(), torch.nn.Sequential(torch.nn.Linear(25, 1), torch.nn.ReLU()))
    assert repr(ours) == repr(theirs)
    assert repr(minidl.Sequential()) == repr(torch.nn.Sequential()) == "Sequential()"


def test_train_eval_reach_every_nested_module():
    model = minidl.Sequential(minidl.Linear(2, 3), minidl.Sequential(minidl.Dropout(0.2), minidl.Sequential(minidl.Tanh())))
    nested = [model, model[0], model[1], model[1][0], model[1][1], model[1][1][0]]
    assert model.eval() is model
    assert not any(m.training for m in nested)
    assert model.train() is model
    assert all(m.training for m in nested)


def test_to_and_double_reach_nested_modules():
    model = minidl.Sequential(minidl.Linear(2, 3), minidl.Sequential(minidl.Linear(3, 1)))
    assert model.double() is model
    assert all(v.dtype == f64 and g.dtype == f64 for v, g in model.param())
    assert model(torch.rand(4, 2, dtype=f64)).dtype == f64
    model.to(dtype=torch.float32)
    assert all(v.dtype == torch.float32 for v, _ in model.param())


# -- a whole network against torch autograd ------------------------------------------------------


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@given(R=replicas, n=st.integers(1, 9), seed=seeds)
def test_report_network_matches_torch(activation, R, n, seed):
    """The report's 2-25-25-25-1 network: output, grad input and every parameter gradient,
    replica by replica against its own torch copy."""
    g = torch.Generator().manual_seed(seed)
    model = report_network(generator=g, activation=ACTIVATIONS[activation], replicas=R, dtype=f64)
    lead = () if R is None else (R,)
    x = torch.rand(*lead, n, 2, generator=g, dtype=f64)
    grad_output = torch.randn(*lead, n, 1, generator=g, dtype=f64)
    y = model(x)
    grad_x = model.backward(grad_output)
    for r in [None] if R is None else range(R):
        pick = (lambda t: t) if r is None else (lambda t, r=r: t[r])
        reference = to_torch(model, r)
        x_ref = pick(x).clone().requires_grad_()
        y_ref = reference(x_ref)
        y_ref.backward(pick(grad_output))
        close(pick(y), y_ref.detach())
        close(pick(grad_x), x_ref.grad)
        for (_, grad), p in zip(model.param(), reference.parameters()):
            close(pick(grad), p.grad)


@pytest.mark.parametrize("R", [None, 2])
def test_gradcheck_on_a_network_with_every_module(R):
    g = torch.Generator().manual_seed(0)
    model = minidl.Sequential(
        minidl.Linear(3, 4, replicas=R, generator=g),
        minidl.Tanh(),
        minidl.Dropout(0.3, generator=g),
        minidl.Linear(4, 4, replicas=R, generator=g),
        minidl.ELU(0.7),
        minidl.Linear(4, 3, replicas=R, generator=g),
        minidl.LeakyReLU(0.2),
        minidl.Linear(3, 3, replicas=R, generator=g),
        minidl.Sigmoid(2.0),
        minidl.Linear(3, 2, replicas=R, bias=False, generator=g),
        minidl.ReLU(),
    )
    lead = () if R is None else (R,)
    assert gradcheck(model, torch.randn(*lead, 5, 3, generator=g, dtype=f64))


@pytest.mark.parametrize("R", [None, 3])
def test_everything_runs_on_the_device_of_its_parameters(R):
    """On the "meta" device (shapes only, no data) any tensor created on the CPU by mistake would raise."""
    device = "meta"
    model = minidl.Sequential(
        minidl.Linear(2, 5, replicas=R, device=device), minidl.Tanh(), minidl.Dropout(0.2),
        minidl.Linear(5, 5, replicas=R, device=device), minidl.ELU(0.3), minidl.LeakyReLU(0.1),
        minidl.Sigmoid(2.0), minidl.ReLU(), minidl.Linear(5, 1, replicas=R, device=device),
    )  # fmt: skip
    X, y = minidl.disk_dataset(10, replicas=R, device=device)
    for loss_fn in (minidl.MSELoss(), minidl.BCEWithLogitsLoss()):
        output = model(X)
        loss = loss_fn(output, y)
        grad_x = model.backward(loss_fn.backward())
        assert {t.device.type for t in (X, y, output, loss, grad_x)} == {device}
    for optimizer in (minidl.SGD(model.param(), lr=0.1), minidl.Adam(model.param())):
        optimizer.zero_grad()
        optimizer.step()
    assert {t.device.type for pair in model.param() for t in pair} == {device}
    assert minidl.error_rate(model.eval()(X), y).device.type == device
    model.to(dtype=torch.float64)
    assert all(v.device.type == device and v.dtype == f64 for v, _ in model.param())
