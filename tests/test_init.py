"""minidl.init: bounds and variances of each initialiser, torch.nn.init as oracle, fans, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from minidl import init

# A (fan_out, fan_in) = (300, 200) weight: 60 000 draws.
FAN_OUT, FAN_IN = 300, 200
N = FAN_OUT * FAN_IN


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def check_moments(w: torch.Tensor, mean: float, var: float, kurtosis: float) -> None:
    """Sample mean and variance within five standard errors of the law's.

    The sample mean has standard deviation √(var/N); the sample variance has relative
    standard deviation √((κ − 1)/N), with κ = 1.8 for a uniform law and 3 for a
    normal one. Five of them: a false alarm has probability below 10⁻⁶.
    """
    w = w.double().flatten()
    n = w.numel()
    assert abs(w.mean().item() - mean) < 5 * math.sqrt(var / n)
    assert abs(w.var().item() / var - 1) < 5 * math.sqrt((kurtosis - 1) / n)


def test_uniform():
    w = torch.empty(FAN_OUT, FAN_IN)
    assert init.uniform_(w, -2.0, 3.0, generator=seeded()) is w
    assert w.min() >= -2.0 and w.max() <= 3.0
    check_moments(w, 0.5, 25 / 12, 1.8)


def test_normal():
    w = torch.empty(FAN_OUT, FAN_IN)
    assert init.normal_(w, 1.5, 0.2, generator=seeded()) is w
    check_moments(w, 1.5, 0.04, 3.0)


def test_constant_and_zeros():
    w = torch.empty(3, 4)
    assert init.constant_(w, 0.7) is w and torch.equal(w, torch.full((3, 4), 0.7))
    assert init.zeros_(w) is w and not w.any()


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier_uniform(gain):
    w = init.xavier_uniform_(torch.empty(FAN_OUT, FAN_IN), gain, generator=seeded())
    bound = gain * math.sqrt(6 / (FAN_IN + FAN_OUT))
    assert w.abs().max() <= bound and w.abs().max() > 0.999 * bound
    check_moments(w, 0.0, 2 * gain**2 / (FAN_IN + FAN_OUT), 1.8)


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier_normal(gain):
    w = init.xavier_normal_(torch.empty(FAN_OUT, FAN_IN), gain, generator=seeded())
    check_moments(w, 0.0, 2 * gain**2 / (FAN_IN + FAN_OUT), 3.0)


@pytest.mark.parametrize(("a", "nonlinearity", "gain"), [(0.0, "leaky_relu", math.sqrt(2)), (0.2, "leaky_relu", math.sqrt(2 / 1.04)), (0.0, "relu", math.sqrt(2)), (0.0, "tanh", 5 / 3), (0.0, "linear", 1.0)])
def test_kaiming(a, nonlinearity, gain):
    w = init.kaiming_uniform_(torch.empty(FAN_OUT, FAN_IN), a, nonlinearity, generator=seeded())
    bound = gain * math.sqrt(3 / FAN_IN)
    assert w.abs().max() <= bound * (1 + 1e-6) and w.abs().max() > 0.999 * bound
    check_moments(w, 0.0, gain**2 / FAN_IN, 1.8)
    w = init.kaiming_normal_(torch.empty(FAN_OUT, FAN_IN), a, nonlinearity, generator=seeded(1))
    check_moments(w, 0.0, gain**2 / FAN_IN, 3.0)


# -- torch.nn.init as oracle: same generator state, same numbers ------------------------------

ORACLE = [
    ("uniform_", (-0.3, 0.7), {}),
    ("normal_", (0.1, 2.0), {}),
    ("xavier_uniform_", (1.5,), {}),
    ("xavier_normal_", (0.5,), {}),
    ("kaiming_uniform_", (), {"a": 0.0, "nonlinearity": "leaky_relu"}),
    ("kaiming_uniform_", (), {"a": math.sqrt(5)}),  # torch.nn.Linear's own initialisation
    ("kaiming_normal_", (), {"a": 0.1, "nonlinearity": "leaky_relu"}),
    ("kaiming_normal_", (), {"nonlinearity": "tanh"}),
    ("kaiming_normal_", (), {"nonlinearity": "relu"}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), ORACLE, ids=[f"{n}{a}{k}" for n, a, k in ORACLE])
@pytest.mark.parametrize("shape", [(5, 3), (25, 2), (1, 25)])
def test_matches_torch_nn_init_for_2d_weights(name, args, kwargs, shape):
    ours = getattr(init, name)(torch.empty(shape, dtype=torch.float64), *args, generator=seeded(3), **kwargs)
    theirs = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), *args, generator=seeded(3), **kwargs)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("nonlinearity", ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"])
@pytest.mark.parametrize("param", [None, 0.2])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))
    assert init.calculate_gain("identity") == 1.0


# -- replicas: the fans are the last two axes -----------------------------------------------------


@pytest.mark.parametrize("name", ["xavier_uniform_", "kaiming_uniform_"])
def test_fans_of_replica_weights_are_the_last_two_axes(name):
    """A (R, out, in) weight gets the bound of an (out, in) one, whatever R.

    torch.nn.init would read (R, out, in) as a convolution kernel (fan_in = out·in),
    which is wrong for R stacked layers.
    """
    R, out, n_in = 400, 3, 5
    w = getattr(init, name)(torch.empty(R, out, n_in, dtype=torch.float64), generator=seeded())
    single = getattr(init, name)(torch.empty(out, n_in, dtype=torch.float64), generator=seeded())
    bound = math.sqrt(6 / (out + n_in)) if name == "xavier_uniform_" else math.sqrt(2) * math.sqrt(3 / n_in)
    # 6000 draws: the largest is within 0.1 % of the bound with probability 1 − (1 − 0.001)^6000 > 0.997.
    assert w.abs().max() <= bound and w.abs().max() > 0.995 * bound
    assert single.abs().max() <= bound
    check_moments(w, 0.0, bound**2 / 3, 1.8)
    assert not torch.equal(w[0], w[1])  # each replica its own draw


@pytest.mark.parametrize("name", ["xavier_normal_", "kaiming_normal_"])
def test_normal_fans_of_replica_weights(name):
    R, out, n_in = 400, 3, 5
    w = getattr(init, name)(torch.empty(R, out, n_in, dtype=torch.float64), generator=seeded())
    var = 2 / (out + n_in) if name == "xavier_normal_" else 2 / n_in
    check_moments(w, 0.0, var, 3.0)


# -- determinism and bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"])
def test_generator_determinism(name):
    draw = getattr(init, name)
    a = draw(torch.empty(4, 6), generator=seeded(11))
    b = draw(torch.empty(4, 6), generator=seeded(11))
    c = draw(torch.empty(4, 6), generator=seeded(12))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"uniform_: expected a < b, got a=1.0, b=1.0"):
        init.uniform_(torch.empty(3), 1.0, 1.0)
    with pytest.raises(ValueError, match=r"normal_: expected std >= 0, got -1"):
        init.normal_(torch.empty(3), 0.0, -1)
    for name in ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]:
        with pytest.raises(ValueError, match=r"fan-in and fan-out need a tensor of at least 2 dimensions, got shape \(5,\)"):
            getattr(init, name)(torch.empty(5))
    with pytest.raises(ValueError, match=r"calculate_gain: unsupported nonlinearity 'softmax'"):
        init.calculate_gain("softmax")
