"""benchmarks/training_speed.py: its command line runs a tiny schedule and writes valid JSON.

The speed targets themselves are checked by running the script (``--check``), not here: the
suite runs on a busy machine, where only a long run measures ratios reliably.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "training_speed.py"


@pytest.fixture(scope="module")
def training_speed():
    spec = importlib.util.spec_from_file_location("training_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_writes_the_table_and_valid_json(training_speed, tmp_path, capsys):
    output = tmp_path / "speed.json"
    threads = torch.get_num_threads()
    status = training_speed.main(
        ["--epochs", "1", "--repeats", "1", "--replicas", "3", "--func-replicas", "2", "--output", str(output)]
    )
    assert status == 0
    assert torch.get_num_threads() == threads, "the benchmark must restore the number of threads"

    result = json.loads(output.read_text())
    assert set(result) >= {"contenders", "ratios", "config"}
    expected = [("minidl", 1), ("minidl-replicas", 3), ("torch.nn", 1), ("torch.func", 2)]
    assert [(c["name"], c["replicas"]) for c in result["contenders"]] == expected
    for c in result["contenders"]:
        assert math.isfinite(c["seconds_per_model"]) and c["seconds_per_model"] > 0, c
        assert len(c["runs"]) == 1 and c["seconds_per_model"] == c["runs"][0]
    assert set(result["ratios"]) == {"minidl", "minidl-replicas(R=3)", "torch.nn", "torch.func(R=2)"}
    assert result["ratios"]["minidl-replicas(R=3)"] == 1.0, "without R = 20 the reference is the first replicated run"
    assert result["config"]["num_epochs"] == 1
    assert result["config"]["steps_per_model"] == 100
    assert result["config"]["threads"] == 1
    assert set(result["targets"]) == {"torch.nn / minidl"}, "targets need their contenders in the line-up"

    table = capsys.readouterr().out
    for name in ("minidl-replicas", "torch.nn", "torch.func", "ms per model"):
        assert name in table


def test_contenders_train_the_same_network(training_speed):
    """Every contender's network has the report's 1401 parameters per model."""
    import minidl

    torch_params = sum(p.numel() for p in training_speed.torch_model().parameters())
    g = torch.Generator().manual_seed(0)
    model = minidl.Sequential(
        minidl.Linear(2, 25, generator=g), minidl.Tanh(),
        minidl.Linear(25, 25, generator=g), minidl.Tanh(),
        minidl.Linear(25, 25, generator=g), minidl.Tanh(),
        minidl.Linear(25, 1, generator=g),
    )  # fmt: skip
    assert torch_params == sum(v.numel() for v, _ in model.param()) == 1401


def test_bad_arguments_are_refused(training_speed, tmp_path):
    with pytest.raises(SystemExit):
        training_speed.main(["--epochs", "0", "--output", str(tmp_path / "x.json")])
    with pytest.raises(ValueError, match="clock"):
        training_speed.run_benchmark(1, 1, [("minidl", 1)], clock="sundial")
