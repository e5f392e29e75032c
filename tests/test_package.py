"""The package as a whole: its exports, no global side effects, and no autograd, torch.nn or torch.optim inside."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest
import torch
from oracle import report_network

import minidl

PACKAGE = pathlib.Path(minidl.__file__).parent
SOURCES = sorted(PACKAGE.glob("**/*.py"))
FORBIDDEN = ("torch.autograd", "torch.nn", "torch.optim", "torch.func")
# Switching autograd on or off globally is a side effect on torch's state as well.
GRAD_MODE = ("torch.set_grad_enabled", "torch.enable_grad", "torch.no_grad", "torch.inference_mode")


def dotted(node: ast.AST) -> str | None:
    """``torch.nn.functional`` for the attribute chain torch → nn → functional, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def forbidden_uses(source: str) -> list[str]:
    """Every import or attribute access of a forbidden torch module (docstrings and comments do not count)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Attribute):
            names = [dotted(node) or ""]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"getattr", "__import__"}:
            names = [".".join(str(a.value) for a in node.args if isinstance(a, ast.Constant))]
            names += ["torch." + n for n in names]
        for name in names:
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN + GRAD_MODE):
                found.append(f"line {node.lineno}: {name}")
        # Asking autograd to track a tensor: x.requires_grad_(), x.requires_grad = True, f(..., requires_grad=True).
        if isinstance(node, ast.Attribute) and node.attr in {"requires_grad", "requires_grad_", "retain_grad"}:
            found.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.keyword) and node.arg == "requires_grad":
            found.append(f"line {node.value.lineno}: requires_grad=")
    return found


def test_the_scan_finds_what_it_looks_for():
    """A scan that cannot fail is worthless: it flags each form of the forbidden uses."""
    assert forbidden_uses("import torch.nn as nn")
    assert forbidden_uses("from torch import autograd")
    assert forbidden_uses("from torch.optim import Adam")
    assert forbidden_uses("import torch\ny = torch.nn.functional.relu(x)")
    assert forbidden_uses("import torch\ntorch.func.grad(f)")
    assert forbidden_uses("import torch\nwith torch.set_grad_enabled(False): pass")
    assert forbidden_uses("getattr(torch, 'nn')")
    assert forbidden_uses("w = torch.zeros(3, requires_grad=True)")
    assert forbidden_uses("w.requires_grad_()")
    assert not forbidden_uses('"""Exactly the update of ``torch.optim.Adam``."""\nimport torch  # not torch.nn\nx = torch.tanh')


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_autograd_nn_optim_or_func_inside_minidl(path):
    assert forbidden_uses(path.read_text()) == []


def test_import_leaves_torch_global_state_alone(minidl_import_effect):
    """Grad mode, default dtype, inference mode, determinism flag and global RNG are unchanged by ``import minidl``.

    conftest imports minidl first and records the state around that import; if
    something imported minidl even earlier, check in a fresh interpreter instead.
    """
    if minidl_import_effect is not None:
        before, after = minidl_import_effect
        assert before[0] is True  # grad mode was on, so the check below is not vacuous
        assert after == before
        return
    code = (
        "import torch\n"
        "state = lambda: (torch.is_grad_enabled(), torch.get_default_dtype(), torch.is_inference_mode_enabled(),"
        " torch.are_deterministic_algorithms_enabled(), torch.initial_seed(), torch.get_rng_state().tolist())\n"
        "before = state()\n"
        "import minidl\n"
        "assert state() == before, (before, state())\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_training_builds_no_autograd_graph(gen):
    """Parameters never require grad, and nothing a model computes carries a grad_fn, with grad mode on."""
    assert torch.is_grad_enabled()
    model = report_network(generator=gen)
    model.modules.insert(1, minidl.Dropout(0.2, generator=gen))
    X, y = minidl.disk_dataset(64, generator=gen)
    loss_fn = minidl.BCEWithLogitsLoss()
    optimizer = minidl.Adam(model.param(), lr=0.01)
    minidl.train(model, loss_fn, optimizer, X, y, num_epochs=2, batch_size=16, generator=gen, progress=False)
    tensors = [t for pair in model.param() for t in pair] + optimizer.exp_avg + optimizer.exp_avg_sq
    assert not any(t.requires_grad for t in tensors)
    output = model(X)
    loss = loss_fn(output, y)
    grad = model.backward(loss_fn.backward())
    assert all(t.grad_fn is None and not t.requires_grad for t in (output, loss, grad))


def test_public_api():
    for name in minidl.__all__:
        assert hasattr(minidl, name), name
    expected = {
        "Module", "Sequential", "Linear", "ReLU", "Tanh", "Sigmoid", "ELU", "LeakyReLU", "Dropout",
        "MSELoss", "BCEWithLogitsLoss", "SGD", "Adam", "init", "disk_dataset", "train", "error_rate",
        "evaluate", "History", "testing",
    }  # fmt: skip
    assert expected <= set(minidl.__all__)
    for name in ["gradcheck", "assert_close", "exercise", "ExerciseNotDone", "GradcheckError"]:
        assert hasattr(minidl.testing, name), name
    for name in ["uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]:
        assert hasattr(minidl.init, name), name
