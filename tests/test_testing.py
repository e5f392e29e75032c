"""minidl.testing: assert_close's messages, exercise(), and a gradcheck that fails when it should."""

from __future__ import annotations

import re

import pytest
import torch

import minidl
from minidl.testing import ExerciseNotDone, GradcheckError, assert_close, exercise, gradcheck

f64 = torch.float64


# -- assert_close ------------------------------------------------------------------------------


def test_assert_close_message_names_the_worst_entry():
    expected = torch.zeros(4, 5)
    actual = expected.clone()
    expected[3, 1] = 0.57
    actual[3, 1] = 0.12
    actual[0, 0] = 1e-3  # also wrong, but less
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, name="grad_weight")
    assert str(info.value) == "grad_weight[3, 1] is 0.12, expected 0.57 (2 of 20 entries differ)"


def test_assert_close_passes_within_tolerance_and_fails_outside():
    x = torch.tensor([1.0, 100.0], dtype=f64)
    assert_close(x * (1 + 1e-5), x)  # default rtol 1e-4
    assert_close(x + 1e-3, x, rtol=0, atol=2e-3)
    with pytest.raises(AssertionError, match=r"tensor\[1\] is 100\.1, expected 100"):
        assert_close(x + torch.tensor([0.0, 0.1], dtype=f64), x)
    with pytest.raises(AssertionError, match=r"tensor\[0\] is 1\.001, expected 1"):
        assert_close(x + torch.tensor([1e-3, 0.0], dtype=f64), x, rtol=0, atol=1e-4)


def test_assert_close_scalars_nan_and_types():
    assert_close(torch.tensor(2.0), torch.tensor(2.0))
    with pytest.raises(AssertionError, match=r"^loss\[\] is 3, expected 2 "):
        assert_close(torch.tensor(3.0), torch.tensor(2.0), name="loss")
    assert_close(torch.tensor([float("nan")]), torch.tensor([float("nan")]))
    with pytest.raises(AssertionError, match=r"y\[1\] is nan, expected 2"):
        assert_close(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]), name="y")
    with pytest.raises(AssertionError, match=r"y\[0\] is 1, expected nan"):
        assert_close(torch.tensor([1.0]), torch.tensor([float("nan")]), name="y")
    with pytest.raises(AssertionError, match=r"y\[0\] is inf, expected 1"):
        assert_close(torch.tensor([float("inf")]), torch.tensor([1.0]), name="y")
    # float32 against float64 compares values, not dtypes
    assert_close(torch.tensor([0.1], dtype=torch.float32), torch.tensor([0.1], dtype=f64))
    assert_close(torch.zeros(0, 3), torch.zeros(0, 3))


def test_assert_close_shape_and_type_messages():
    with pytest.raises(AssertionError, match=re.escape("grad_bias has shape (3, 1), expected (3,)")):
        assert_close(torch.zeros(3, 1), torch.zeros(3), name="grad_bias")
    with pytest.raises(AssertionError, match=re.escape("out is a NoneType, expected a tensor of shape (2, 2)")):
        assert_close(None, torch.zeros(2, 2), name="out")
    with pytest.raises(AssertionError, match=re.escape("out is a list, expected a tensor of shape (2,)")):
        assert_close([0.0, 0.0], torch.zeros(2), name="out")


# -- exercise() ---------------------------------------------------------------------------------------


def stub(*args):
    raise NotImplementedError("write Linear.backward")


def test_exercise_turns_a_stub_into_not_done_yet(capsys):
    with pytest.raises(ExerciseNotDone) as info, exercise("Linear.backward"):
        stub(torch.zeros(1))
    message = str(info.value)
    assert "Exercise 'Linear.backward' is not done yet" in message
    assert "write Linear.backward" in message  # the stub's own hint is kept
    assert isinstance(info.value, AssertionError)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no NotImplementedError traceback
    assert "✓" not in capsys.readouterr().out


def test_exercise_prints_a_tick_on_success(capsys):
    with exercise("Tanh.backward"):
        assert_close(torch.ones(2), torch.ones(2))
    assert capsys.readouterr().out == "✓ Tanh.backward: correct\n"


def test_exercise_lets_a_wrong_answer_through_with_its_message(capsys):
    with pytest.raises(AssertionError, match=r"grad_input\[1\] is 5, expected 2") as info, exercise("ReLU.backward"):
        assert_close(torch.tensor([1.0, 5.0]), torch.tensor([1.0, 2.0]), name="grad_input")
    assert not isinstance(info.value, ExerciseNotDone)
    with pytest.raises(ZeroDivisionError), exercise("division"):
        1 / 0  # noqa: B018
    assert capsys.readouterr().out == ""


# -- gradcheck: passes on correct code, fails on broken code -------------------------------------------


class WrongWeightGradient(minidl.Linear):
    """grad_weight off by a factor 2 (2 Gᵀ X instead of Gᵀ X)."""

    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.grad_weight *= 2
        return grad_input


class OneWrongEntry(minidl.Linear):
    """Correct everywhere except grad_weight[1, 2]: the message must point at that entry."""

    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.grad_weight[1, 2] += 0.5
        return grad_input


class WrongBiasGradient(minidl.Linear):
    """grad_bias as a mean over the samples instead of a sum."""

    def backward(self, grad_output):
        before = self.grad_bias.clone()
        grad_input = super().backward(grad_output)
        self.grad_bias.copy_(before + grad_output.mean(-2))
        return grad_input


class WrongTanh(minidl.Tanh):
    """1 − y instead of 1 − y²: a wrong input gradient."""

    def backward(self, grad_output):
        return grad_output * (1 - self._y)


class WrongMSE(minidl.MSELoss):
    """Forgets the 2 in 2(ŷ − y)/N."""

    def backward(self):
        return super().backward() / 2


class WrongBCE(minidl.BCEWithLogitsLoss):
    """Forgets to divide by N."""

    def backward(self):
        output, _ = self._saved()
        return super().backward() * output.shape[-2] * output.shape[-1]


def x_for(*shape):
    return torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=f64)


@pytest.mark.parametrize(
    ("module", "x", "pattern"),
    [
        (WrongWeightGradient(3, 4), x_for(5, 3), r"^WrongWeightGradient: grad_weight\[\d+, \d+\] is .+, expected .+ \(finite differences\)$"),
        (WrongWeightGradient(3, 4, replicas=2), x_for(2, 5, 3), r"grad_weight\[\d+, \d+, \d+\] is"),
        (OneWrongEntry(3, 4), x_for(5, 3), r"grad_weight\[1, 2\] is .+, expected .+ \(1 of 12 entries differ\)"),
        (WrongBiasGradient(3, 4), x_for(5, 3), r"grad_bias\[\d+\] is"),
        (WrongTanh(), x_for(5, 3), r"^WrongTanh: grad_input\[\d+, \d+\] is"),
        (minidl.Sequential(minidl.Linear(3, 4), minidl.Tanh(), OneWrongEntry(4, 3)), x_for(5, 3),
         r"^Sequential: modules\[2\]\.grad_weight\[1, 2\] is"),
        (minidl.Sequential(minidl.Linear(3, 4), WrongTanh(), minidl.Linear(4, 1)), x_for(5, 3),
         r"^Sequential: grad_input\[\d+, \d+\] is"),
    ],
    ids=["weight", "weight-replicas", "one-entry", "bias", "input", "nested-weight", "nested-input"],
)
def test_gradcheck_fails_on_a_broken_backward_naming_tensor_and_index(module, x, pattern):
    with pytest.raises(GradcheckError, match=pattern):
        gradcheck(module, x)


@pytest.mark.parametrize("loss", [WrongMSE(), WrongBCE()], ids=["MSE", "BCE"])
@pytest.mark.parametrize("shape", [(5, 1), (3, 4, 2)])
def test_gradcheck_fails_on_a_broken_loss(loss, shape):
    target = (torch.rand(shape, generator=torch.Generator().manual_seed(1)) < 0.5).to(f64)
    with pytest.raises(GradcheckError, match=rf"^{type(loss).__name__}: grad_input\[[\d, ]+\] is .+, expected "):
        gradcheck(loss, x_for(*shape), target)


def test_gradcheck_error_is_an_assertion_error_with_both_values():
    try:
        gradcheck(OneWrongEntry(3, 4), x_for(5, 3))
    except GradcheckError as err:
        assert isinstance(err, AssertionError)
        analytical, numerical = map(float, re.search(r"is (\S+), expected (\S+)", str(err)).groups())
        assert abs(analytical - numerical - 0.5) < 1e-4
    else:
        pytest.fail("gradcheck accepted a wrong gradient")


def test_gradcheck_leaves_the_module_untouched():
    layer = minidl.Linear(3, 2)  # float32
    x = torch.randn(4, 3)
    layer(x)
    layer.backward(torch.ones(4, 2))
    state = [t.clone() for pair in layer.param() for t in pair]
    assert gradcheck(layer, x)
    assert layer.weight.dtype == torch.float32
    assert all(torch.equal(a, b) for a, b in zip(state, [t for pair in layer.param() for t in pair]))
    assert x.dtype == torch.float32


def test_gradcheck_replays_dropouts_random_draws():
    g = torch.Generator().manual_seed(0)
    model = minidl.Sequential(minidl.Linear(3, 6, generator=g), minidl.Dropout(0.5, generator=g), minidl.Linear(6, 2, generator=g))
    state = g.get_state()
    assert gradcheck(model, x_for(4, 3))
    assert torch.equal(g.get_state(), state)  # the caller's generator is not advanced


def test_gradcheck_accepts_any_memory_layout():
    """A transposed (non-contiguous) input is a valid tensor like any other."""
    assert gradcheck(minidl.Linear(3, 2), x_for(3, 5).T)
    assert gradcheck(minidl.Tanh(), x_for(4, 3)[:, ::2])


def test_gradcheck_needs_a_target_for_a_loss():
    with pytest.raises(ValueError, match=r"gradcheck: a loss needs gradcheck\(loss_fn, output, target\)"):
        gradcheck(minidl.MSELoss(), x_for(3, 1))
