"""Tests of minidl/groups.py: a module or a loss per block of replicas."""

from __future__ import annotations

import pytest
import torch

import minidl
from minidl.groups import GroupedLoss, Identity, ReplicaGroups, merge_blocks


def test_replica_groups_apply_a_module_per_block():
    x = torch.randn(5, 4, 3, dtype=torch.float64)
    groups = ReplicaGroups([minidl.ReLU(), minidl.Tanh(), minidl.Tanh()], [2, 1, 2])
    assert groups.sizes == [2, 3]  # equal neighbours merged
    y = groups(x)
    torch.testing.assert_close(y[:2], x[:2].clamp_min(0))
    torch.testing.assert_close(y[2:], torch.tanh(x[2:]))
    assert minidl.testing.gradcheck(groups, x)
    with pytest.raises(ValueError, match="replicas"):
        groups(torch.randn(4, 4, 3))


def test_grouped_loss_and_thresholds():
    loss = GroupedLoss([minidl.MSELoss(), minidl.BCEWithLogitsLoss()], [2, 1])
    out, target = torch.randn(3, 4, 1), torch.randint(0, 2, (3, 4, 1)).float()
    values = loss(out, target)
    torch.testing.assert_close(values[:2], minidl.MSELoss()(out[:2], target[:2]))
    torch.testing.assert_close(values[2:], minidl.BCEWithLogitsLoss()(out[2:], target[2:]))
    assert loss.backward().shape == out.shape
    assert loss.threshold.view(-1).tolist() == [0.5, 0.5, 0.0]
    assert GroupedLoss([minidl.MSELoss(), minidl.MSELoss()], [1, 1]).threshold == 0.5


def test_grouped_loss_scales_the_gradient_only():
    out, target = torch.randn(3, 4, 1), torch.rand(3, 4, 1)
    plain, scaled = minidl.MSELoss(), GroupedLoss([minidl.MSELoss(), minidl.MSELoss()], [1, 2], scales=[1.0, 4.0])
    torch.testing.assert_close(scaled(out, target), plain(out, target))
    grad = plain.backward()
    torch.testing.assert_close(scaled.backward(), torch.cat([grad[:1], 4 * grad[1:]]))
    assert "·4" in repr(scaled)


def test_identity_and_merge_blocks():
    x = torch.randn(2, 3, 4)
    identity = Identity()
    assert identity(x) is x and identity.backward(x) is x
    assert merge_blocks(["a", "a", "b", "a"], [1, 2, 3, 4]) == (["a", "b", "a"], [3, 3, 4])
    with pytest.raises(ValueError, match="positive"):
        merge_blocks(["a"], [0])
    with pytest.raises(TypeError, match="parameter-free"):
        ReplicaGroups([minidl.Linear(2, 2)], [1])
