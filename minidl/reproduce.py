"""The report's experiments: every configuration, every round, trained as stacks of replicas.

The report (Orgiazzi, Villa and Karsunky, 2021) trains a 2-25-25-25-1 network on
the disk problem in eight configurations, 20 rounds each (a round is a fresh
initialisation, a fresh training set and a fresh test set of 1,000 points), for
100 epochs with mini-batches of 10, and reports the train and test error in
percent, mean ± standard deviation over the rounds:

- Table I, MSE loss: ReLU, Sigmoid (λ = 3), ELU (α = 0.01), Leaky-ReLU (β = 0.01), Tanh;
- Table II, Tanh: cross-entropy loss; MSE loss and dropout; cross-entropy loss and dropout (p = 0.2).

A configuration is a :class:`Setting`; the settings the report leaves open are
the fields of :class:`ReproConfig`, with the defaults argued in their comments.
:func:`train_settings` trains any list of settings as consecutive blocks of
``rounds`` replicas of one network (see :mod:`minidl.groups`), and
:func:`reproduce` trains the report's eight and returns both tables.

Example:
    >>> result = reproduce(ReproConfig(rounds=2, num_epochs=1), progress=False)
    >>> [row["model"] for row in result.table1]
    ['ReLU', 'Sigmoid', 'ELU', 'Leaky-ReLU', 'Tanh']
"""

from __future__ import annotations

import dataclasses
import html
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .activations import ELU, LeakyReLU, ReLU, Sigmoid, Tanh
from .data import disk_dataset
from .diagnostics import dead_units
from .dropout import Dropout
from .groups import GroupedLoss, Identity, ReplicaGroups
from .linear import Linear
from .losses import BCEWithLogitsLoss, MSELoss
from .module import Module, Sequential
from .optim import SGD, Adam, Optimizer
from .training import History, evaluate, train

__all__ = [
    "REPORT_TABLE1",
    "REPORT_TABLE2",
    "ReportRow",
    "ReproConfig",
    "Reproduction",
    "Setting",
    "Trained",
    "build_stack",
    "format_table",
    "reproduce",
    "summarize",
    "train_settings",
]


@dataclass(frozen=True)
class Setting:
    """One configuration, one row of a table: what may differ between blocks of replicas.

    Attributes:
        name: the row's name, as in the report.
        activation: ``"relu"``, ``"sigmoid"``, ``"elu"``, ``"leaky_relu"`` or ``"tanh"``.
        loss: ``"mse"`` (output read with threshold 0.5) or ``"cross_entropy"``
            (the output is a logit, :class:`~minidl.BCEWithLogitsLoss`, threshold 0).
        optimizer: ``"sgd"`` (constant learning rate) or ``"adam"``.
        lr: the learning rate.
        dropout: drop probability after each hidden activation (0 for none).
        init_scale: s, weights and biases drawn from U(−s/√fan_in, s/√fan_in).
        output_activation: apply the activation after the output layer too.
    """

    name: str
    activation: str
    loss: str = "mse"
    optimizer: str = "sgd"
    lr: float = 0.05
    dropout: float = 0.0
    init_scale: float = 1.0
    output_activation: bool = True


@dataclass(frozen=True)
class ReproConfig:
    """Every setting of the reproduction; the report states the first five.

    Attributes:
        rounds: independent rounds per configuration (report: 20).
        num_epochs: epochs per round (report: 100).
        batch_size: mini-batch size (report: 10).
        n_train, n_test: points in each round's training and test set (report: 1,000).
        hidden: hidden layer widths (report: 25, 25, 25).
        seed: seeds the one ``torch.Generator`` that draws data, initialisations,
            shuffles and dropout masks.
        sgd_lr: Table I's optimizer is SGD with a constant learning rate (Adam
            came later, Section IV). The authors' code uses 0.005 on a *summed*
            squared error; on minidl's *mean* over a batch of 10 that is 0.05.
        adam_lr, adam_betas, adam_eps: Table II came after Adam was added; its
            optimizer is torch's Adam with torch's defaults (the authors' code
            passes lr 1e-3).
        init_scale: weights and biases from U(−s/√fan_in, s/√fan_in); s = 1 is
            torch's default and the authors' code.
        output_activation: for the MSE rows, apply the activation after the
            output layer as well, as the authors' code does (ReLU after the last
            Linear of the ReLU network); ``False`` gives a linear output. The
            cross-entropy rows always output a plain logit: the authors squashed
            two outputs with Tanh before a softmax, which one logit cannot mimic,
            and a squashed logit caps the confidence.
        sigmoid_slope, elu_alpha, leaky_slope: λ = 3, α = 0.01, β = 0.01 (report).
        dropout: p = 0.2 after each hidden activation, for the dropout rows (report:
            the rate; the authors' code: the place).
        ddof: the standard deviation over rounds divides by ``rounds - ddof``
            (1, as ``torch.std`` which the authors used).
    """

    rounds: int = 20
    num_epochs: int = 100
    batch_size: int = 10
    n_train: int = 1000
    n_test: int = 1000
    hidden: tuple[int, ...] = (25, 25, 25)
    seed: int = 0
    sgd_lr: float = 0.05
    adam_lr: float = 1e-3
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    init_scale: float = 1.0
    output_activation: bool = True
    sigmoid_slope: float = 3.0
    elu_alpha: float = 0.01
    leaky_slope: float = 0.01
    dropout: float = 0.2
    ddof: int = 1

    def __post_init__(self) -> None:
        for name in ("rounds", "num_epochs", "batch_size", "n_train", "n_test"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"ReproConfig: {name} must be a positive integer, got {value!r}")
        if not 0 <= self.ddof < self.rounds:
            raise ValueError(f"ReproConfig: ddof={self.ddof} needs rounds > ddof, got rounds={self.rounds}")

    def table1(self) -> list[Setting]:
        """Table I: the five activations with the MSE loss and SGD."""
        names = {"ReLU": "relu", "Sigmoid": "sigmoid", "ELU": "elu", "Leaky-ReLU": "leaky_relu", "Tanh": "tanh"}
        return [self._setting(name, act, "mse", "sgd", 0.0) for name, act in names.items()]

    def table2(self) -> list[Setting]:
        """Table II: Tanh with cross-entropy, MSE and dropout, cross-entropy and dropout; Adam."""
        rows = [
            ("Cross-Entropy loss", "cross_entropy", 0.0),
            ("MSE Loss and dropout", "mse", self.dropout),
            ("Cross-Entropy Loss and dropout", "cross_entropy", self.dropout),
        ]
        return [self._setting(name, "tanh", loss, "adam", p) for name, loss, p in rows]

    def _setting(self, name: str, activation: str, loss: str, optimizer: str, dropout: float) -> Setting:
        lr = self.sgd_lr if optimizer == "sgd" else self.adam_lr
        # A cross-entropy output is a logit: squashing it would cap the confidence (tanh: σ(1) = 73 %).
        output_activation = self.output_activation and loss == "mse"
        return Setting(name, activation, loss, optimizer, lr, dropout, self.init_scale, output_activation)

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-ready, with the fixed choices spelled out."""
        settings = dataclasses.asdict(self)
        settings["hidden"] = list(self.hidden)
        settings["adam_betas"] = list(self.adam_betas)
        settings.update(
            architecture="-".join(str(w) for w in (2, *self.hidden, 1)),
            init=f"weights and biases from U(-s/sqrt(fan_in), s/sqrt(fan_in)), s = {self.init_scale}",
            table1_optimizer=f"SGD, constant lr {self.sgd_lr}",
            table2_optimizer=f"Adam, lr {self.adam_lr}, betas {tuple(self.adam_betas)}, eps {self.adam_eps}",
            mse_threshold=0.5,
            cross_entropy="BCEWithLogitsLoss on one output, a plain logit (no activation after it), threshold 0",
            output_activation_applies_to="the MSE rows",
            dropout_placement="after each hidden activation",
            loss_reduction="mean over the mini-batch",
            data="each round draws its own training and test sets; round k uses the same sets in every configuration",
            dtype=str(torch.get_default_dtype()).removeprefix("torch."),
        )
        return settings


def _activation(name: str, config: ReproConfig) -> Module:
    makers = {
        "relu": ReLU,
        "tanh": Tanh,
        "sigmoid": lambda: Sigmoid(config.sigmoid_slope),
        "elu": lambda: ELU(config.elu_alpha),
        "leaky_relu": lambda: LeakyReLU(config.leaky_slope),
    }
    if name not in makers:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(makers)}")
    return makers[name]()


def _loss(name: str) -> MSELoss | BCEWithLogitsLoss:
    if name not in ("mse", "cross_entropy"):
        raise ValueError(f"unknown loss {name!r}; expected 'mse' or 'cross_entropy'")
    return MSELoss() if name == "mse" else BCEWithLogitsLoss()


def build_stack(
    settings: list[Setting],
    config: ReproConfig,
    generator: torch.Generator | None = None,
    *,
    same_init: bool = False,
) -> tuple[Sequential, GroupedLoss, Optimizer]:
    """The network, loss and optimizer of ``len(settings)`` blocks of ``config.rounds`` replicas each.

    The settings must share the optimizer; with SGD each block may have its own
    learning rate (through the loss's gradient scales, see :mod:`minidl.groups`),
    with Adam they must share it too. With ``same_init``, round k of every block
    starts from the same parameters as round k of the first block with the same
    ``init_scale``, so that such blocks differ only by their other settings.
    """
    kinds = {s.optimizer for s in settings}
    if len(kinds) != 1 or not kinds <= {"sgd", "adam"}:
        raise ValueError(f"settings in one stack need one optimizer, 'sgd' or 'adam'; got {sorted(kinds)}")
    kind = kinds.pop()
    if kind == "adam" and len({s.lr for s in settings}) != 1:
        raise ValueError("Adam settings in one stack need one learning rate; train the others in another stack")
    rounds, R = config.rounds, config.rounds * len(settings)
    sizes = [rounds] * len(settings)
    widths = (2, *config.hidden, 1)
    layers: list[Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        linear = Linear(fan_in, fan_out, replicas=R, generator=generator)
        if same_init:
            scales = [s.init_scale for s in settings]
            for k, scale in enumerate(scales):
                first = scales.index(scale)
                for value in (linear.weight, linear.bias):
                    value[k * rounds : (k + 1) * rounds] = value[first * rounds : (first + 1) * rounds]
        for k, setting in enumerate(settings):
            if setting.init_scale != 1.0:
                linear.weight[k * rounds : (k + 1) * rounds].mul_(setting.init_scale)
                linear.bias[k * rounds : (k + 1) * rounds].mul_(setting.init_scale)
        layers.append(linear)
        last = i == len(widths) - 2
        acts = [_activation(s.activation, config) if not last or s.output_activation else Identity() for s in settings]
        if not all(isinstance(a, Identity) for a in acts):
            layers.append(ReplicaGroups(acts, sizes))
        if not last and any(s.dropout > 0 for s in settings):
            drops = [Dropout(s.dropout, generator=generator) if s.dropout > 0 else Identity() for s in settings]
            layers.append(ReplicaGroups(drops, sizes))
    model = Sequential(*layers)
    lr = settings[0].lr
    loss_fn = GroupedLoss([_loss(s.loss) for s in settings], sizes, scales=[s.lr / lr for s in settings])
    if kind == "sgd":
        optimizer: Optimizer = SGD(model.param(), lr=lr)
    else:
        optimizer = Adam(model.param(), lr=lr, betas=config.adam_betas, eps=config.adam_eps)
    return model, loss_fn, optimizer


@dataclass
class Trained:
    """The outcome of :func:`train_settings`: blocks of ``rounds`` replicas, one per setting.

    ``final_train_error`` and ``final_test_error`` are fractions after the last
    epoch, shape ``(R,)`` with ``R = len(settings) * rounds``; ``history`` holds the
    per-epoch loss and training error, shape ``(num_epochs, R)``. ``X, y, X_test,
    y_test`` are the rounds' data sets, shape ``(rounds, n, ·)``, the same for every
    block. ``dead_at_init`` and ``dead_after`` are :func:`dead_units` on the
    training sets before and after training, shape ``(R, L)``.
    """

    settings: list[Setting]
    config: ReproConfig
    model: Sequential
    history: History
    final_train_error: Tensor
    final_test_error: Tensor
    X: Tensor
    y: Tensor
    X_test: Tensor
    y_test: Tensor
    dead_at_init: Tensor
    dead_after: Tensor
    seconds: float

    def block(self, name: str) -> slice:
        """The replicas of the setting called ``name``."""
        names = [s.name for s in self.settings]
        if name not in names:
            raise KeyError(f"no setting named {name!r}; the settings are {names}")
        k = names.index(name)
        return slice(k * self.config.rounds, (k + 1) * self.config.rounds)

    def train_error(self, name: str) -> Tensor:
        """Final training error of each round, in percent, shape ``(rounds,)``."""
        return 100 * self.final_train_error[self.block(name)]

    def test_error(self, name: str) -> Tensor:
        """Final test error of each round, in percent, shape ``(rounds,)``."""
        return 100 * self.final_test_error[self.block(name)]

    def outputs(self, name: str, X: Tensor, chunk: int = 2048) -> Tensor:
        """The trained outputs of setting ``name`` at points ``X`` of shape ``(n, 2)``: ``(rounds, n, 1)``.

        For a cross-entropy setting the output is the logit (apply ``torch.sigmoid``
        for the probability).
        """
        R = len(self.settings) * self.config.rounds
        self.model.eval()
        try:
            parts = [self.model(part.expand(R, -1, -1))[self.block(name)] for part in X.split(chunk)]
        finally:
            self.model.train()
        return torch.cat(parts, dim=1)


def train_settings(
    settings: list[Setting],
    config: ReproConfig,
    *,
    generator: torch.Generator | None = None,
    data: tuple[Tensor, Tensor, Tensor, Tensor] | None = None,
    same_init: bool = False,
    progress: bool = False,
    desc: str | None = None,
) -> Trained:
    """Train ``config.rounds`` rounds of every setting as one stack of replicas.

    Round k of every setting trains on the same training set and is tested on the
    same test set (a paired design); initialisations, shuffles and dropout masks
    are independent. The settings share the optimizer (see :func:`build_stack`).

    Args:
        settings: the blocks, in order.
        config: rounds, epochs, batch size, widths and the activations' parameters.
        generator: draws everything; default: a new one seeded with ``config.seed``.
        data: ``(X, y, X_test, y_test)`` of shapes ``(rounds, n, ·)`` to reuse, or
            ``None`` to draw them (training set first, then test set).
        same_init: start round k of the settings with the same ``init_scale``
            from the same parameters (see :func:`build_stack`).
        progress, desc: the progress bar of :func:`~minidl.train`.

    The test error is measured once, after training (measuring it after every
    epoch would cost a quarter of the time, and the tables do not need it).
    """
    if not settings:
        raise ValueError("train_settings: got no settings")
    if len({s.name for s in settings}) != len(settings):
        raise ValueError(f"train_settings: setting names must be unique, got {[s.name for s in settings]}")
    g = generator if generator is not None else torch.Generator().manual_seed(config.seed)
    if data is None:
        data = (
            *disk_dataset(config.n_train, replicas=config.rounds, generator=g),
            *disk_dataset(config.n_test, replicas=config.rounds, generator=g),
        )
    X, y, X_test, y_test = data
    model, loss_fn, optimizer = build_stack(settings, config, g, same_init=same_init)
    K = len(settings)
    X_all, y_all = X.repeat(K, 1, 1), y.repeat(K, 1, 1)
    dead_at_init = dead_units(model, X_all)
    start = time.perf_counter()
    history = train(
        model,
        loss_fn,
        optimizer,
        X_all,
        y_all,
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        generator=g,
        progress=progress,
        desc=desc,
    )
    train_error = evaluate(model, X_all, y_all, loss_fn.threshold)
    test_error = evaluate(model, X_test.repeat(K, 1, 1), y_test.repeat(K, 1, 1), loss_fn.threshold)
    seconds = time.perf_counter() - start
    return Trained(
        list(settings),
        config,
        model,
        history,
        train_error,
        test_error,
        X,
        y,
        X_test,
        y_test,
        dead_at_init,
        dead_units(model, X_all),
        seconds,
    )


def summarize(name: str, train_error: Tensor, test_error: Tensor, ddof: int = 1) -> dict[str, Any]:
    """One table row: mean and standard deviation (dividing by ``rounds - ddof``) of errors in percent.

    Values are rounded to 6 decimals, far below the resolution of an error rate
    (0.1 % on 1,000 points), so that float32 noise stays out of the JSON.
    """

    def mean(t: Tensor) -> float:
        return round(float(t.double().mean()), 6)

    def std(t: Tensor) -> float:
        return round(float(t.double().std(correction=ddof)), 6) if t.numel() > ddof else 0.0

    return {
        "model": name,
        "train_error_mean": mean(train_error),
        "train_error_std": std(train_error),
        "test_error_mean": mean(test_error),
        "test_error_std": std(test_error),
    }


class ReportRow(NamedTuple):
    """A row as the report prints it; the extracted text cut some standard deviations (``"22.x"``)."""

    train_error_mean: float
    test_error_mean: float
    test_error_std: str

    def std_bounds(self) -> tuple[float, float]:
        """The interval the printed standard deviation allows: ``"22.x"`` is [22, 23)."""
        if self.test_error_std.endswith(".x"):
            whole = float(self.test_error_std[:-2])
            return whole, whole + 1
        value = float(self.test_error_std)
        return value, value


# The prose completes three of Table I's cut standard deviations (Sigmoid, ELU, Leaky-ReLU).
REPORT_TABLE1 = {
    "ReLU": ReportRow(30.36, 33.15, "22.x"),
    "Sigmoid": ReportRow(12.08, 13.69, "13.83"),
    "ELU": ReportRow(4.13, 5.19, "1.37"),
    "Leaky-ReLU": ReportRow(3.62, 4.45, "1.08"),
    "Tanh": ReportRow(3.59, 4.43, "1.x"),
}
REPORT_TABLE2 = {
    "Cross-Entropy loss": ReportRow(4.27, 4.74, "1.x"),
    "MSE Loss and dropout": ReportRow(4.38, 4.49, "0.x"),
    "Cross-Entropy Loss and dropout": ReportRow(5.75, 6.39, "1.x"),
}


@dataclass
class Reproduction:
    """Both tables, the configuration that produced them, and the two trained stacks."""

    config: ReproConfig
    table1: list[dict[str, Any]]
    table2: list[dict[str, Any]]
    seconds: float
    trained: list[Trained] = field(repr=False, default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"config": {...}, "table1": [ROW, ...], "table2": [ROW, ...], "seconds": S}``."""
        return {"config": self.config.to_dict(), "table1": self.table1, "table2": self.table2, "seconds": self.seconds}

    def result(self, name: str) -> Trained:
        """The trained stack that holds the setting called ``name``."""
        for trained in self.trained:
            if name in [s.name for s in trained.settings]:
                return trained
        raise KeyError(f"no setting named {name!r}")


def reproduce(config: ReproConfig = ReproConfig(), *, progress: bool = True) -> Reproduction:
    """Train Table I's and Table II's configurations, ``config.rounds`` rounds each, and summarise.

    Each table is one stack of ``rounds`` replicas per configuration (Table I's
    share SGD, Table II's share Adam). The rounds' data sets are drawn once and
    used by both tables, so round k of every configuration sees the same data.
    One generator seeded with ``config.seed`` draws everything: a seed gives one result.
    """
    start = time.perf_counter()
    g = torch.Generator().manual_seed(config.seed)
    data = (
        *disk_dataset(config.n_train, replicas=config.rounds, generator=g),
        *disk_dataset(config.n_test, replicas=config.rounds, generator=g),
    )
    tables, trained = [], []
    for title, settings in (("Table I", config.table1()), ("Table II", config.table2())):
        result = train_settings(settings, config, generator=g, data=data, progress=progress, desc=title)
        trained.append(result)
        tables.append(
            [summarize(s.name, result.train_error(s.name), result.test_error(s.name), config.ddof) for s in settings]
        )
    return Reproduction(config, tables[0], tables[1], time.perf_counter() - start, trained)


def _pm(mean: float, std: float) -> str:
    return f"{mean:.2f} ± {std:.2f}"


def format_table(rows: list[dict[str, Any]], report: dict[str, ReportRow], *, style: str = "text") -> str:
    """Rows beside the report's numbers, as aligned ``"text"``, a ``"markdown"`` or an ``"html"`` table.

    The report prints no standard deviation for the training error, and some of
    its test standard deviations lost their decimals in extraction (``22.x``).
    """
    if style not in ("text", "markdown", "html"):
        raise ValueError(f"format_table: style must be 'text', 'markdown' or 'html', got {style!r}")
    header = ["Model", "train error [%]", "report", "test error [%]", "report"]
    pad = "padding:0.15em 0.7em"
    lines = []
    for row in rows:
        ref = report[row["model"]]
        lines.append(
            [
                row["model"],
                _pm(row["train_error_mean"], row["train_error_std"]),
                f"{ref.train_error_mean:.2f}",
                _pm(row["test_error_mean"], row["test_error_std"]),
                f"{ref.test_error_mean:.2f} ± {ref.test_error_std}",
            ]
        )
    if style == "markdown":
        out = ["| " + " | ".join(header) + " |", "|:--|" + "--:|" * (len(header) - 1)]
        return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])
    if style == "html":

        def cells(tag: str, r: list[str]) -> str:
            return "".join(
                f'<{tag} style="text-align:{"left" if i == 0 else "right"};{pad}">{html.escape(c)}</{tag}>'
                for i, c in enumerate(r)
            )

        body = "".join(f"<tr>{cells('td', line)}</tr>" for line in lines)
        return f"<table><thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody></table>"
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    return "\n".join([fmt(header), *(fmt(line) for line in lines)])
