"""MSELoss and BCEWithLogitsLoss against torch.nn.functional, with replicas, at extreme logits, on bad input."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from oracle import close
from strategies import batch_shapes, seeds

import minidl
from minidl.testing import gradcheck

f64 = torch.float64

LOSSES = {
    "MSELoss": (minidl.MSELoss, F.mse_loss),
    "BCEWithLogitsLoss": (minidl.BCEWithLogitsLoss, F.binary_cross_entropy_with_logits),
}


def draw_pair(shape, seed, scale=3.0, soft=False):
    """Outputs (or logits) and 0/1 targets, or targets anywhere in [0, 1] when ``soft``."""
    g = torch.Generator().manual_seed(seed)
    output = scale * torch.randn(shape, generator=g, dtype=f64)
    target = torch.rand(shape, generator=g, dtype=f64)
    return output, (target if soft else (target < 0.5).to(f64))


# -- PyTorch as oracle --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
@given(shape=batch_shapes(), seed=seeds, scale=st.sampled_from([0.1, 3.0, 30.0]), soft=st.booleans())
def test_matches_torch_per_replica(name, shape, seed, scale, soft):
    """The loss of each replica is torch's mean loss on that replica alone, and so is its gradient."""
    make, reference = LOSSES[name]
    output, target = draw_pair(shape, seed, scale, soft)
    loss_fn = make()
    loss = loss_fn(output, target)
    grad = loss_fn.backward()
    assert grad.shape == output.shape
    if len(shape) == 2:
        assert loss.shape == ()
        pairs = [(loss, grad, output, target)]
    else:
        assert loss.shape == (shape[0],)
        pairs = list(zip(loss, grad, output, target))
    for loss_r, grad_r, output_r, target_r in pairs:
        output_ref = output_r.clone().requires_grad_()
        loss_ref = reference(output_ref, target_r)
        loss_ref.backward()
        close(loss_r, loss_ref.detach())
        close(grad_r, output_ref.grad)


@pytest.mark.parametrize("name", list(LOSSES))
@given(shape=batch_shapes(), seed=seeds)
def test_replicated_gradient_is_each_replicas_own(name, shape, seed):
    """d(Σ_r loss_r)/d output is what backward returns: replicas do not see each other."""
    make, _ = LOSSES[name]
    output, target = draw_pair(shape, seed)
    loss_fn = make()
    loss_fn(output, target)
    grad = loss_fn.backward()
    for r in range(shape[0] if len(shape) == 3 else 0):
        alone = make()
        alone(output[r], target[r])
        close(grad[r], alone.backward())


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("shape", [(6, 1), (5, 3), (3, 4, 2)])
def test_gradcheck(name, shape):
    output, target = draw_pair(shape, 5, scale=2.0, soft=True)
    assert gradcheck(LOSSES[name][0](), output, target)


@pytest.mark.parametrize("dtype", [torch.float32, f64])
def test_bce_is_finite_and_exact_for_logits_of_200(dtype):
    logits = torch.tensor([[200.0], [-200.0], [200.0], [-200.0]], dtype=dtype)
    target = torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=dtype)
    loss_fn = minidl.BCEWithLogitsLoss()
    # Per entry: 200, 200, log(1 + e⁻²⁰⁰) ≈ 1.4e-87, and again ≈ 1.4e-87: the mean is 100 to all digits.
    loss = loss_fn(logits, target)
    grad = loss_fn.backward()
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    assert loss.item() == 100.0
    # d/dz = (σ(z) − y)/N: exactly ±1/4 for the wrong ones, and 0 (to e⁻²⁰⁰) for the right ones.
    close(grad.double(), torch.tensor([[0.25], [-0.25], [0.0], [0.0]], dtype=f64))
    ref = logits.clone().requires_grad_()
    F.binary_cross_entropy_with_logits(ref, target).backward()
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(logits, target))
    torch.testing.assert_close(grad, ref.grad)


def test_bce_single_entries_at_extremes():
    loss_fn = minidl.BCEWithLogitsLoss()
    assert loss_fn(torch.tensor([[200.0]]), torch.tensor([[0.0]])).item() == 200.0
    assert loss_fn(torch.tensor([[-200.0]]), torch.tensor([[1.0]])).item() == 200.0
    tiny = loss_fn(torch.tensor([[200.0]], dtype=f64), torch.tensor([[1.0]], dtype=f64)).item()
    assert 0 < tiny < 1e-86  # log(1 + e⁻²⁰⁰), not rounded to 0 nor to inf


def test_mse_example_from_the_docstring():
    loss_fn = minidl.MSELoss()
    assert loss_fn(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.0], [0.0]])).item() == 0.5
    assert torch.equal(loss_fn.backward(), torch.tensor([[1.0], [0.0]]))


# -- behaviour -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
def test_backward_leaves_output_and_target_unchanged_and_repeats(name):
    output, target = draw_pair((5, 2), 0)
    before = output.clone(), target.clone()
    loss_fn = LOSSES[name][0]()
    loss_fn(output, target)
    g1 = loss_fn.backward()
    g2 = loss_fn.backward()
    assert torch.equal(output, before[0]) and torch.equal(target, before[1])
    assert torch.equal(g1, g2)


@pytest.mark.parametrize("name", list(LOSSES))
def test_forward_overwrites_the_saved_pair(name):
    make = LOSSES[name][0]
    loss_fn, fresh = make(), make()
    loss_fn(*draw_pair((4, 1), 0))
    second = draw_pair((7, 1), 1)
    loss_fn(*second)
    fresh(*second)
    close(loss_fn.backward(), fresh.backward())


def test_thresholds_and_reprs():
    assert minidl.MSELoss().threshold == 0.5
    assert minidl.BCEWithLogitsLoss().threshold == 0.0
    assert repr(minidl.MSELoss()) == repr(torch.nn.MSELoss()) == "MSELoss()"
    assert repr(minidl.BCEWithLogitsLoss()) == repr(torch.nn.BCEWithLogitsLoss()) == "BCEWithLogitsLoss()"


# -- bad input: clear errors, no state change ------------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize(
    ("out_shape", "target_shape"), [((5, 1), (5,)), ((5,), (5, 1)), ((5, 1), (1, 5)), ((2, 5, 1), (5, 1)), ((5, 2), (5, 1))]
)
def test_different_shapes_raise_value_error_and_keep_state(name, out_shape, target_shape):
    """Never broadcast: an (n, 1) output against an (n,) target would silently give an (n, n) loss."""
    loss_fn = LOSSES[name][0]()
    output, target = draw_pair((3, 1), 0)
    loss_fn(output, target)
    expected = loss_fn.backward()
    pattern = (
        rf"{name}: output shape {re.escape(str(out_shape))} and target shape {re.escape(str(target_shape))} differ"
    )
    with pytest.raises(ValueError, match=pattern):
        loss_fn(torch.zeros(out_shape), torch.zeros(target_shape))
    close(loss_fn.backward(), expected)


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("shape", [(5,), (2, 2, 2, 2), ()])
def test_wrong_number_of_dimensions_raises_value_error(name, shape):
    with pytest.raises(ValueError, match=rf"{name}: expected output of shape \(n, k\) or \(R, n, k\)"):
        LOSSES[name][0]()(torch.zeros(shape), torch.zeros(shape))


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize(
    ("output", "target", "pattern"),
    [
        (torch.zeros(3, 1), torch.zeros(3, 1, dtype=torch.int64), r"target must be floating point, got dtype torch\.int64"),
        (torch.zeros(3, 1, dtype=torch.int32), torch.zeros(3, 1), r"output must be floating point, got dtype torch\.int32"),
        (torch.zeros(3, 1), torch.zeros(3, 1, dtype=torch.bool), r"target must be floating point, got dtype torch\.bool"),
        ([[0.0]] * 3, torch.zeros(3, 1), r"output must be a torch\.Tensor, got list"),
    ],
)
def test_non_floating_inputs_raise_type_error_and_keep_state(name, output, target, pattern):
    loss_fn = LOSSES[name][0]()
    saved = draw_pair((3, 1), 0)
    loss_fn(*saved)
    expected = loss_fn.backward()
    with pytest.raises(TypeError, match=rf"{name}: {pattern}"):
        loss_fn(output, target)
    close(loss_fn.backward(), expected)


@pytest.mark.parametrize("name", list(LOSSES))
def test_backward_before_forward_raises_runtime_error(name):
    with pytest.raises(RuntimeError, match=rf"{name}\.backward called before the loss was computed"):
        LOSSES[name][0]().backward()
