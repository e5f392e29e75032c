"""Tests of minidl/reproduce.py, minidl/groups.py and the ``python -m minidl reproduce`` command."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

import minidl
from minidl.groups import Identity, ReplicaGroups
from minidl.reproduce import (
    REPORT_TABLE1,
    REPORT_TABLE2,
    ReproConfig,
    Setting,
    build_stack,
    format_table,
    reproduce,
    summarize,
)

TABLE1 = ["ReLU", "Sigmoid", "ELU", "Leaky-ReLU", "Tanh"]
TABLE2 = ["Cross-Entropy loss", "MSE Loss and dropout", "Cross-Entropy Loss and dropout"]
ROW_KEYS = {"model", "train_error_mean", "train_error_std", "test_error_mean", "test_error_std"}
SMALL = ReproConfig(rounds=3, num_epochs=2, n_train=100, n_test=100)


def _check_rows(rows: list[dict], names: list[str], rounds: int) -> None:
    assert [row["model"] for row in rows] == names
    for row in rows:
        assert set(row) == ROW_KEYS
        for key in ROW_KEYS - {"model"}:
            assert isinstance(row[key], float) and math.isfinite(row[key]), (row["model"], key)
        assert 0.0 <= row["train_error_mean"] <= 100.0 and 0.0 <= row["test_error_mean"] <= 100.0
        # The standard deviation of values in [0, 100] is at most 50·√(n/(n−1)).
        assert 0.0 <= row["test_error_std"] <= 50 * math.sqrt(rounds / (rounds - 1)) + 1e-9


# -- the command ------------------------------------------------------------------------------------
def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m minidl reproduce ARGS --no-progress`` in a fresh interpreter, as a user runs it."""
    cmd = [sys.executable, "-m", "minidl", "reproduce", *args, "--no-progress"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_command_writes_the_schema(tmp_path):
    path = tmp_path / "out" / "tables.json"
    done = _run("--rounds", "2", "--epochs", "2", "--batch-size", "50", "--seed", "3", "--json", str(path))
    assert done.returncode == 0, done.stderr
    for name in TABLE1 + TABLE2:
        assert name in done.stdout
    assert "Trained 16 networks in" in done.stdout
    assert "33.15 ± 22.x" in done.stdout  # the report's numbers are printed beside ours
    data = json.loads(path.read_text())
    assert set(data) == {"config", "table1", "table2", "seconds"}
    assert isinstance(data["seconds"], float) and data["seconds"] > 0
    _check_rows(data["table1"], TABLE1, rounds=2)
    _check_rows(data["table2"], TABLE2, rounds=2)
    config = data["config"]
    assert (config["rounds"], config["num_epochs"], config["batch_size"], config["seed"]) == (2, 2, 50, 3)
    every_setting = ("sgd_lr", "adam_lr", "init_scale", "output_activation", "dropout", "ddof", "hidden")
    every_setting += ("n_train", "n_test", "sigmoid_slope", "elu_alpha", "leaky_slope", "dropout_placement")
    for key in every_setting:
        assert key in config, key
    assert config["hidden"] == [25, 25, 25] and config["dropout"] == 0.2 and config["sigmoid_slope"] == 3.0


def test_command_options_reach_the_config(tmp_path):
    path = tmp_path / "t.json"
    done = _run(
        *("--rounds", "2", "--epochs", "1", "--batch-size", "100", "--sgd-lr", "0.01", "--adam-lr", "0.002"),
        *("--init-scale", "2", "--linear-output", "--json", str(path)),
    )
    assert done.returncode == 0, done.stderr
    config = json.loads(path.read_text())["config"]
    chosen = (config["sgd_lr"], config["adam_lr"], config["init_scale"], config["output_activation"])
    assert chosen == (0.01, 0.002, 2.0, False)


def test_command_rejects_bad_values():
    done = _run("--rounds", "0", timeout=120)
    assert done.returncode == 2 and "rounds must be a positive integer" in done.stderr


# -- the experiment ---------------------------------------------------------------------------------
def test_reproduce_is_deterministic_given_the_seed():
    a = reproduce(SMALL, progress=False)
    b = reproduce(SMALL, progress=False)
    c = reproduce(ReproConfig(rounds=3, num_epochs=2, n_train=100, n_test=100, seed=1), progress=False)
    assert a.table1 == b.table1 and a.table2 == b.table2
    assert a.table1 != c.table1
    _check_rows(a.table1, TABLE1, rounds=3)
    _check_rows(a.table2, TABLE2, rounds=3)
    assert set(a.to_json()) == {"config", "table1", "table2", "seconds"}
    json.dumps(a.to_json())  # JSON-ready


def test_trained_shapes_and_blocks():
    result = reproduce(SMALL, progress=False)
    table1, table2 = result.trained
    assert result.result("Tanh") is table1 and result.result("Cross-Entropy loss") is table2
    R = 5 * SMALL.rounds
    assert table1.history.loss.shape == table1.history.train_error.shape == (SMALL.num_epochs, R)
    assert table1.final_train_error.shape == table1.final_test_error.shape == (R,)
    assert table1.X.shape == (SMALL.rounds, SMALL.n_train, 2) and table1.y_test.shape == (SMALL.rounds, SMALL.n_test, 1)
    assert table1.dead_at_init.shape == table1.dead_after.shape == (R, 4)
    assert table1.block("Tanh") == slice(12, 15)
    assert table1.test_error("Tanh").shape == (SMALL.rounds,)
    assert table2.outputs("Cross-Entropy loss", torch.rand(7, 2)).shape == (SMALL.rounds, 7, 1)
    # Both tables train on the same rounds' data sets (a paired design).
    assert torch.equal(table1.X, table2.X) and torch.equal(table1.y_test, table2.y_test)
    with pytest.raises(KeyError, match="no setting named"):
        table1.block("GELU")


def _replay(settings, config, block, steps=3):
    """Copy block ``block`` of a stack into a one-block stack, train both for ``steps`` steps, compare."""
    rounds = config.rounds
    stack, loss_stack, opt_stack = build_stack(settings, config, torch.Generator().manual_seed(2))
    single, loss_single, opt_single = build_stack([settings[block]], config, torch.Generator().manual_seed(3))
    rows = slice(block * rounds, (block + 1) * rounds)
    for (value, _), (value_single, _) in zip(stack.param(), single.param()):
        value_single.copy_(value[rows])
    stack.eval(), single.eval()  # no dropout masks, so both compute the same function
    K = len(settings)
    X = torch.rand(rounds, 10, 2, generator=torch.Generator().manual_seed(1))
    y = minidl.data.disk_label(X)
    for _ in range(steps):
        out_stack, out_single = stack(X.repeat(K, 1, 1)), single(X)
        torch.testing.assert_close(out_stack[rows], out_single)
        loss_stack(out_stack, y.repeat(K, 1, 1)), loss_single(out_single, y)
        opt_stack.zero_grad(), opt_single.zero_grad()
        stack.backward(loss_stack.backward()), single.backward(loss_single.backward())
        opt_stack.step(), opt_single.step()
    for (value, _), (value_single, _) in zip(stack.param(), single.param()):
        torch.testing.assert_close(value[rows], value_single)


def test_blocks_train_as_they_would_alone():
    """A block in a mixed stack follows the trajectory of the same setting trained on its own."""
    config = ReproConfig(rounds=2)
    t1, t2 = config.table1(), config.table2()
    _replay(t1, config, block=1)  # Sigmoid among the other activations, SGD
    _replay(t2, config, block=2)  # cross-entropy and dropout among MSE, Adam
    # A learning rate per block through the loss's gradient scales (SGD only).
    mixed = [Setting("slow", "relu", lr=0.01), Setting("fast", "tanh", lr=0.3, loss="cross_entropy")]
    _replay(mixed, config, block=1)
    _replay(mixed, config, block=0)


def test_one_optimizer_per_stack():
    config = ReproConfig(rounds=2)
    with pytest.raises(ValueError, match="one optimizer"):
        build_stack(config.table1()[:1] + config.table2()[:1], config)
    with pytest.raises(ValueError, match="one learning rate"):
        build_stack(
            [Setting("a", "tanh", optimizer="adam", lr=1e-3), Setting("b", "tanh", optimizer="adam", lr=1e-2)], config
        )


def test_init_scale_and_output_activation():
    config = ReproConfig(rounds=2)
    base = Setting("a", "relu")
    settings = [base, Setting("b", "relu", init_scale=3.0), Setting("c", "relu", output_activation=False)]
    model, _, _ = build_stack(settings, config, torch.Generator().manual_seed(0))
    first = model[0]
    bound = 1 / math.sqrt(2)
    assert first.weight[:2].abs().max() <= bound and first.weight[2:4].abs().max() > bound
    assert first.weight[2:4].abs().max() <= 3 * bound
    out_act = model[-1]
    assert isinstance(out_act, ReplicaGroups) and out_act.sizes == [4, 2]
    assert isinstance(out_act.modules[1], Identity)


def test_same_init_shares_the_parameters_of_equal_scales():
    config = ReproConfig(rounds=3)
    settings = [
        Setting("a", "relu"),
        Setting("b", "relu", init_scale=2.0),
        Setting("c", "tanh", lr=0.1),
        Setting("d", "relu", lr=0.2, init_scale=2.0),
    ]
    model, _, _ = build_stack(settings, config, torch.Generator().manual_seed(0), same_init=True)
    for layer in (model[0], model[-2]):
        for value in (layer.weight, layer.bias):
            torch.testing.assert_close(value[6:9], value[:3])  # c starts as a
            torch.testing.assert_close(value[9:12], value[3:6])  # d starts as b
            assert not torch.equal(value[3:6], 2 * value[:3])  # different scales: independent draws
            assert not torch.equal(value[0], value[1])  # rounds differ
        assert layer.weight[3:6].abs().max() > 1 / math.sqrt(layer.in_features)  # b is scaled


def test_table_settings_follow_the_config():
    config = ReproConfig(sgd_lr=0.1, adam_lr=0.01, dropout=0.3, output_activation=False)
    t1, t2 = config.table1(), config.table2()
    assert [s.name for s in t1] == TABLE1 and [s.name for s in t2] == TABLE2
    assert all(s.optimizer == "sgd" and s.lr == 0.1 and s.loss == "mse" and s.dropout == 0 for s in t1)
    assert all(s.optimizer == "adam" and s.lr == 0.01 and s.activation == "tanh" for s in t2)
    assert [s.loss for s in t2] == ["cross_entropy", "mse", "cross_entropy"]
    assert [s.dropout for s in t2] == [0.0, 0.3, 0.3]
    assert not any(s.output_activation for s in t1 + t2)


@pytest.mark.parametrize("bad", [{"rounds": 0}, {"num_epochs": -1}, {"batch_size": 2.5}, {"rounds": 1, "ddof": 1}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        ReproConfig(**bad)


def test_summarize_uses_ddof():
    row = summarize("x", torch.tensor([1.0, 3.0]), torch.tensor([0.0, 10.0]), ddof=1)
    assert row == {
        "model": "x",
        "train_error_mean": 2.0,
        "train_error_std": pytest.approx(math.sqrt(2.0), abs=1e-6),
        "test_error_mean": 5.0,
        "test_error_std": pytest.approx(math.sqrt(50.0), abs=1e-6),
    }
    # float32 noise is rounded away: 3 rounds at 2.7 % each give exactly 2.7.
    assert summarize("x", torch.full((3,), 2.7), torch.full((3,), 2.7))["test_error_mean"] == 2.7
    assert summarize("x", torch.tensor([1.0, 3.0]), torch.tensor([0.0, 10.0]), ddof=0)["test_error_std"] == 5.0


def test_report_numbers_and_format():
    assert list(REPORT_TABLE1) == TABLE1 and list(REPORT_TABLE2) == TABLE2
    assert REPORT_TABLE1["ReLU"].std_bounds() == (22.0, 23.0)
    assert REPORT_TABLE1["Sigmoid"].std_bounds() == (13.83, 13.83)
    rows = [summarize(n, torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])) for n in TABLE1]
    text = format_table(rows, REPORT_TABLE1)
    assert "Leaky-ReLU" in text and "4.45 ± 1.08" in text and "3.50 ± 0.71" in text
    md = format_table(rows, REPORT_TABLE1, style="markdown")
    assert md.splitlines()[0].startswith("| Model |") and len(md.splitlines()) == 2 + len(TABLE1)
    table = format_table(rows, REPORT_TABLE1, style="html")
    assert table.startswith("<table>") and table.count("<tr>") == 1 + len(TABLE1) and "4.45 ± 1.08" in table
    with pytest.raises(ValueError, match="style"):
        format_table(rows, REPORT_TABLE1, style="latex")
