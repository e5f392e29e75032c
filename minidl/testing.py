"""Checking backward passes: central finite differences, and messages that say what is wrong.

For a module :math:`y = f(x; \\theta)` and a fixed random direction :math:`v`,
the scalar :math:`L = \\sum_i v_i y_i` has :math:`\\partial L/\\partial y = v`.
Each entry of the input and of every parameter is then nudged by :math:`\\pm h`:

.. math::

    \\frac{\\partial L}{\\partial x_j} \\approx \\frac{L(x + h e_j) - L(x - h e_j)}{2h},

with an error of order :math:`h^2`. In float64 with :math:`h = 10^{-6}` that is
far below the tolerance, so a mismatch is a bug in ``backward``.

The exercises of the book use :func:`assert_close` and :func:`exercise`.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Iterator

import torch
from torch import Tensor

from .losses import Loss
from .module import Module

__all__ = ["ExerciseNotDone", "GradcheckError", "assert_close", "exercise", "gradcheck"]


class GradcheckError(AssertionError):
    """A hand-written gradient disagrees with finite differences."""


class ExerciseNotDone(AssertionError):
    """An exercise stub still raises ``NotImplementedError``."""


def _fmt_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def assert_close(actual: Tensor, expected: Tensor, *, name: str = "tensor", rtol: float = 1e-4, atol: float = 1e-6) -> None:
    """Raise ``AssertionError`` naming the worst entry if ``actual`` is not close to ``expected``.

    The message reads like ``grad_weight[3, 1] is 0.1200, expected 0.5700``.
    """
    if not isinstance(actual, Tensor):
        raise AssertionError(f"{name} is a {type(actual).__name__}, expected a tensor of shape {tuple(expected.shape)}")
    if actual.shape != expected.shape:
        raise AssertionError(f"{name} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
    actual64, expected64 = actual.detach().double().cpu(), expected.detach().double().cpu()
    excess = (actual64 - expected64).abs() - (atol + rtol * expected64.abs())
    excess = torch.where(torch.isnan(actual64) != torch.isnan(expected64), torch.inf, excess.nan_to_num(nan=-1.0))
    if excess.numel() == 0 or excess.max() <= 0:
        return
    index = tuple(int(i) for i in torch.unravel_index(excess.argmax(), excess.shape))
    raise AssertionError(
        f"{name}{_fmt_index(index)} is {actual64[index].item():.6g}, expected {expected64[index].item():.6g} "
        f"({int((excess > 0).sum())} of {excess.numel()} entries differ)"
    )


@contextlib.contextmanager
def exercise(title: str) -> Iterator[None]:
    """Wrap an exercise's check: a stub left as is reports "not done yet", a pass prints a tick.

    Example:
        >>> with exercise("Tanh.backward"):
        ...     assert_close(my_tanh_backward(y, g), expected, name="grad_input")
        ✓ Tanh.backward: correct
    """
    try:
        yield
    except NotImplementedError as err:
        raise ExerciseNotDone(f"Exercise {title!r} is not done yet: complete the stub above ({err})") from None
    print(f"✓ {title}: correct")


def _generators(module: object) -> list[torch.Generator]:
    """Every ``torch.Generator`` a module tree holds (Dropout's), to replay its random draws."""
    found = [v for v in vars(module).values() if isinstance(v, torch.Generator)]
    if isinstance(module, Module):
        for child in module.children():
            found += _generators(child)
    return found


def _tensor_names(module: object, prefix: str = "") -> dict[int, str]:
    """Map ``id(tensor)`` to its attribute path (``modules[2].grad_weight``) for readable messages."""
    names: dict[int, str] = {}
    for attr, value in vars(module).items():
        if isinstance(value, Tensor):
            names.setdefault(id(value), prefix + attr)
        elif isinstance(value, Module):
            names.update(_tensor_names(value, f"{prefix}{attr}."))
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, Module):
                    names.update(_tensor_names(item, f"{prefix}{attr}[{i}]."))
    return names


def gradcheck(
    module: Module | Loss,
    x: Tensor,
    target: Tensor | None = None,
    *,
    eps: float = 1e-6,
    rtol: float = 1e-4,
    atol: float = 1e-7,
    seed: int = 0,
) -> bool:
    """Compare ``module.backward`` with central finite differences, in float64.

    Checks the gradient w.r.t. the input ``x`` and w.r.t. every parameter of
    ``module``. For a loss, pass ``gradcheck(loss_fn, output, target)``; only the
    gradient w.r.t. ``output`` is checked. The module is copied and cast to
    float64, so the original is left untouched. Random draws (Dropout) are
    replayed identically for every evaluation.

    Returns:
        ``True`` when every gradient matches.

    Raises:
        GradcheckError: naming the tensor, its worst index, and both values.

    Example:
        >>> gradcheck(Linear(3, 2), torch.randn(5, 3))
        True
    """
    is_loss = isinstance(module, Loss)
    if is_loss and target is None:
        raise ValueError("gradcheck: a loss needs gradcheck(loss_fn, output, target)")
    module = copy.deepcopy(module)
    if isinstance(module, Module):
        module.double()
    x = x.detach().clone().double()
    target = None if target is None else target.detach().double()
    generators = _generators(module)
    states = [g.get_state() for g in generators]
    global_state = torch.get_rng_state()
    name = type(module).__name__

    def evaluate() -> Tensor:
        for g, s in zip(generators, states):
            g.set_state(s)
        torch.set_rng_state(global_state)
        return module(x, target) if is_loss else module(x)

    out = evaluate()
    direction = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)

    def objective() -> float:
        return float((evaluate() * direction).sum())

    # Analytical gradients from one forward and one backward.
    evaluate()
    if is_loss:
        grad_x = module.backward() * (direction.unsqueeze(-1).unsqueeze(-1) if direction.dim() else direction)
        checked = [("grad_input", x, grad_x)]
    else:
        module.zero_grad()
        grad_x = module.backward(direction)
        checked = [("grad_input", x, grad_x)]
        names = _tensor_names(module)
        for i, (value, grad) in enumerate(module.param()):
            checked.append((names.get(id(grad), f"param()[{i}] gradient"), value, grad.clone()))

    for label, tensor, analytical in checked:
        numerical = torch.zeros_like(tensor)
        # Index entry by entry rather than through tensor.view(-1), which fails on a
        # non-contiguous tensor (a transposed input, say).
        for index in itertools.product(*(range(size) for size in tensor.shape)):
            saved = tensor[index].item()
            tensor[index] = saved + eps
            plus = objective()
            tensor[index] = saved - eps
            minus = objective()
            tensor[index] = saved
            numerical[index] = (plus - minus) / (2 * eps)
        try:
            assert_close(analytical, numerical, name=label, rtol=rtol, atol=atol)
        except AssertionError as err:
            raise GradcheckError(f"{name}: {err} (finite differences)") from None
    return True
