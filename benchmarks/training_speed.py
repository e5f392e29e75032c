"""Training speed: minidl, one model at a time and as R replicas, against torch.nn and torch.func.

The workload is the report's: a 2-25-25-25-1 network with Tanh activations, the
MSE loss, Adam with lr 1e-3, mini-batches of 10 drawn from 1,000 training
points reshuffled at every epoch, and the training error measured after every
epoch. Every contender trains on the same data for the same number of steps:

1. ``minidl``: ``minidl.train`` on one model at a time;
2. ``minidl-replicas``: ``minidl.train`` on R models at once (``Linear(..., replicas=R)``);
3. ``torch.nn``: ``torch.nn`` + autograd + ``torch.optim.Adam``, one model at a time,
   written the way the PyTorch tutorials write a training loop;
4. ``torch.func``: an ensemble of R ``torch.nn`` models trained at once with
   ``stack_module_state`` + ``vmap`` + ``grad`` of a ``functional_call``, the
   stacked parameters updated by one ``torch.optim.Adam`` (Adam is element-wise,
   so this is exactly R independent Adams).

Each contender is timed ``--repeats`` times, round-robin (so that a burst of load
on a shared machine hits every contender alike), after an untimed warm-up, and
the median is reported as seconds per trained model. Seconds per model grow
linearly with ``--epochs``; the ratios between contenders, measured in the same
run, are what to compare. Each ratio is paired: the median over the rounds of
the ratio within a round, where the two contenders ran seconds apart, so that
the load of the machine changing from one round to the next cancels out (the
ratios of the medians are in the JSON too). Many short rounds (20 of 2 epochs
by default) rather than a few long ones keep the two of a pair close in time.

Two choices keep the measurement fair and stable:

- ``--threads 1`` (default): the matrices are at most 25 x 25 per model, too
  small for intra-op parallelism to pay for its synchronisation, and a fixed
  thread count gives every contender the same machine. On a shared machine one
  thread also leaves the other cores to the other jobs.
- ``--clock cpu`` (default): the CPU time of the process (``time.process_time``).
  With one thread on an idle machine it equals the elapsed time; on a busy one
  it leaves out the time the process waited for a core, which has nothing to do
  with the contender. ``--clock wall`` times elapsed seconds; both are in the JSON.

Usage::

    python benchmarks/training_speed.py                      # about a minute
    python benchmarks/training_speed.py --epochs 1 --repeats 3 --output /tmp/speed.json
    python benchmarks/training_speed.py --replicas 1 5 20 80 160 --func-replicas 20
    python benchmarks/training_speed.py --check              # exit 1 if a target is missed

The functions are importable (the appendix on replicas runs :func:`run_benchmark`
with a short schedule and plots seconds per model against R).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap
from tqdm import tqdm

import minidl

# The report's workload.
N_TRAIN = 1000
BATCH_SIZE = 10
HIDDEN = 25
LR = 1e-3
SEED = 0

# The reference of every ratio, and the targets of issue 5: (numerator, denominator, at least).
REFERENCE = ("minidl-replicas", 20)
TARGETS = {
    "torch.nn / minidl-replicas(R=20)": (("torch.nn", 1), ("minidl-replicas", 20), 30.0),
    "torch.func(R=20) / minidl-replicas(R=20)": (("torch.func", 20), ("minidl-replicas", 20), 2.0),
    "torch.nn / minidl": (("torch.nn", 1), ("minidl", 1), 2.0),
}

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "training_speed.json"


def label(name: str, replicas: int) -> str:
    """``minidl-replicas(R=20)``, or just the name for a contender that trains one model at a time."""
    return name if name in ("minidl", "torch.nn") else f"{name}(R={replicas})"


# -- the data ---------------------------------------------------------------------------------


def make_data(seed: int = SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """The report's training set: 1,000 points of the unit square, labelled inside the disk."""
    return minidl.disk_dataset(N_TRAIN, generator=torch.Generator().manual_seed(seed))


# -- the contenders: each trains and returns the number of models it trained ---------------------


def train_minidl(
    X: torch.Tensor, y: torch.Tensor, num_epochs: int, replicas: int | None = None, seed: int = SEED
) -> int:
    """minidl's own training loop, on one model or on ``replicas`` models at once."""
    g = torch.Generator().manual_seed(seed)
    layers: list[minidl.Module] = []
    for fan_in, fan_out in ((2, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, HIDDEN)):
        layers += [minidl.Linear(fan_in, fan_out, replicas=replicas, generator=g), minidl.Tanh()]
    model = minidl.Sequential(*layers, minidl.Linear(HIDDEN, 1, replicas=replicas, generator=g))
    if replicas is not None:
        # Every replica trains on the same points (each with its own shuffles): a broadcast view, no copy.
        X, y = X.expand(replicas, *X.shape), y.expand(replicas, *y.shape)
    optimizer = minidl.Adam(model.param(), lr=LR)
    minidl.train(
        model,
        minidl.MSELoss(),
        optimizer,
        X,
        y,
        num_epochs=num_epochs,
        batch_size=BATCH_SIZE,
        generator=g,
        progress=False,
    )
    return 1 if replicas is None else replicas


def torch_model() -> nn.Sequential:
    """The same network in torch.nn (torch's default initialisation, as minidl's)."""
    return nn.Sequential(
        nn.Linear(2, HIDDEN),
        nn.Tanh(),
        nn.Linear(HIDDEN, HIDDEN),
        nn.Tanh(),
        nn.Linear(HIDDEN, HIDDEN),
        nn.Tanh(),
        nn.Linear(HIDDEN, 1),
    )


def train_torch_nn(
    X: torch.Tensor, y: torch.Tensor, num_epochs: int, replicas: int | None = None, seed: int = SEED
) -> int:
    """The textbook PyTorch loop: autograd computes the gradients, torch.optim.Adam applies them."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = torch_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)  # default implementation choice (foreach=None)
    loss_fn = nn.MSELoss()
    n = X.shape[0]
    history = []
    for _ in range(num_epochs):
        model.train()
        order = torch.randperm(n, generator=g)
        X_epoch, y_epoch = X[order], y[order]
        total = torch.zeros(())
        for start in range(0, n, BATCH_SIZE):
            X_batch, y_batch = X_epoch[start : start + BATCH_SIZE], y_epoch[start : start + BATCH_SIZE]
            loss = loss_fn(model(X_batch), y_batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        model.eval()
        with torch.no_grad():
            train_error = ((model(X) > 0.5) != (y > 0.5)).float().mean()
        history.append((total / math.ceil(n / BATCH_SIZE), train_error))
    return 1


def train_torch_func(
    X: torch.Tensor, y: torch.Tensor, num_epochs: int, replicas: int | None = 20, seed: int = SEED
) -> int:
    """An ensemble of ``replicas`` torch.nn models trained at once with torch.func (vmap over grad)."""
    R = replicas
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    models = [torch_model() for _ in range(R)]
    params, buffers = stack_module_state(models)  # {name: tensor of shape (R, ...)}
    params = {name: p.detach() for name, p in params.items()}  # plain leaves: no outer autograd graph
    base = torch_model().to("meta")  # the architecture only; functional_call supplies the weights
    loss_fn = nn.MSELoss()

    def loss_of(params: dict, buffers: dict, X_batch: torch.Tensor, y_batch: torch.Tensor) -> torch.Tensor:
        return loss_fn(functional_call(base, (params, buffers), (X_batch,)), y_batch)

    # One call: for each replica, the gradient of its own loss w.r.t. its own parameters, and the loss.
    grads_and_losses = vmap(grad_and_value(loss_of))
    predict = vmap(lambda p, b, X_all: functional_call(base, (p, b), (X_all,)), in_dims=(0, 0, None))
    optimizer = torch.optim.Adam(list(params.values()), lr=LR)

    n = X.shape[0]
    history = []
    for _ in range(num_epochs):
        # One permutation per replica, as minidl.train draws them.
        order = torch.rand(R, n, generator=g).argsort(dim=-1).unsqueeze(-1)
        X_epoch = X.expand(R, *X.shape).take_along_dim(order, dim=-2)
        y_epoch = y.expand(R, *y.shape).take_along_dim(order, dim=-2)
        total = torch.zeros(R)
        for start in range(0, n, BATCH_SIZE):
            X_batch = X_epoch[:, start : start + BATCH_SIZE]
            y_batch = y_epoch[:, start : start + BATCH_SIZE]
            grads, loss = grads_and_losses(params, buffers, X_batch, y_batch)
            for p, grad in zip(params.values(), grads.values()):
                p.grad = grad
            optimizer.step()
            total += loss
        with torch.no_grad():
            train_error = ((predict(params, buffers, X) > 0.5) != (y > 0.5)).float().mean(dim=(-2, -1))
        history.append((total / math.ceil(n / BATCH_SIZE), train_error))
    return R


CONTENDERS: dict[str, Callable[..., int]] = {
    "minidl": train_minidl,
    "minidl-replicas": train_minidl,
    "torch.nn": train_torch_nn,
    "torch.func": train_torch_func,
}


# -- timing -------------------------------------------------------------------------------------


def default_contenders(
    replicas: Sequence[int] = (20, 160), func_replicas: Sequence[int] = (20,)
) -> list[tuple[str, int]]:
    """The issue's line-up: ``[(name, R), ...]``, R = 1 for a model at a time."""
    return (
        [("minidl", 1)]
        + [("minidl-replicas", R) for R in replicas]
        + [("torch.nn", 1)]
        + [("torch.func", R) for R in func_replicas]
    )


def run_benchmark(
    num_epochs: int = 2,
    repeats: int = 20,
    contenders: Sequence[tuple[str, int]] | None = None,
    threads: int = 1,
    clock: str = "cpu",
    seed: int = SEED,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Time every contender ``repeats`` times (round-robin) and return the JSON-ready results.

    Args:
        num_epochs: epochs of 100 steps per training.
        repeats: timed trainings per contender; the median is reported.
        contenders: ``[(name, R), ...]`` (default :func:`default_contenders`).
        threads: ``torch.set_num_threads`` during the benchmark (restored after).
        clock: ``"cpu"``, the CPU time of this process (``time.process_time``),
            or ``"wall"``, elapsed time (``time.perf_counter``). On an idle
            machine with one thread they agree; on a shared one, CPU time leaves
            out the time the process spent waiting for a core. Both are recorded.
        seed: of the data, the initial weights and the shuffles.
        log: called with a line of progress after each round.

    Returns:
        ``{"contenders": [{"name", "replicas", "seconds_per_model", "runs", "wall_runs"}...],
        "ratios": {label: time / reference's time}, "ratios_of_medians": {...}, "targets": {...},
        "config": {...}}``. ``seconds_per_model`` is the median over the repeats; ``runs``
        lists every repeat's seconds per model on the chosen clock, ``wall_runs`` on the wall
        clock. A ratio is the median over the rounds of the ratio measured within each round
        (``ratios_of_medians`` divides the medians instead). The reference is
        minidl-replicas(R=20) when it is in the line-up.
    """
    if clock not in ("cpu", "wall"):
        raise ValueError(f"clock must be 'cpu' or 'wall', got {clock!r}")
    contenders = list(contenders or default_contenders())
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        X, y = make_data(seed)
        # Warm-up, not timed: one epoch on the first 100 points (10 steps) pays the first-call costs
        # (lazy imports, vmap's set-up, the allocator's first requests).
        for name, R in contenders:
            CONTENDERS[name](X[:100], y[:100], 1, None if name in ("minidl", "torch.nn") else R, seed)
        runs: dict[tuple[str, int], list[float]] = {c: [] for c in contenders}
        wall_runs: dict[tuple[str, int], list[float]] = {c: [] for c in contenders}
        for repeat in range(repeats):
            for name, R in contenders:
                start_cpu, start_wall = time.process_time(), time.perf_counter()
                models = CONTENDERS[name](X, y, num_epochs, None if name in ("minidl", "torch.nn") else R, seed)
                cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
                runs[(name, R)].append((cpu if clock == "cpu" else wall) / models)
                wall_runs[(name, R)].append(wall / models)
            if log:
                log(f"repeat {repeat + 1}/{repeats} done")
    finally:
        torch.set_num_threads(previous_threads)

    seconds = {c: statistics.median(r) for c, r in runs.items()}
    replicated = [c for c in contenders if c[0] == "minidl-replicas"]
    reference = REFERENCE if REFERENCE in seconds else (replicated or contenders)[0]

    def ratio(num: tuple[str, int], den: tuple[str, int]) -> float:
        """Median over the rounds of the ratio within each round: the two contenders ran a few seconds
        apart, so a change of load on the machine between rounds cancels out."""
        return statistics.median(a / b for a, b in zip(runs[num], runs[den]))

    result = {
        "contenders": [
            {
                "name": name,
                "replicas": R,
                "seconds_per_model": seconds[(name, R)],
                "runs": runs[(name, R)],
                "wall_runs": wall_runs[(name, R)],
            }
            for name, R in contenders
        ],
        "ratios": {label(*c): ratio(c, reference) for c in contenders},
        "ratios_of_medians": {label(*c): seconds[c] / seconds[reference] for c in contenders},
        "targets": {
            what: {"ratio": ratio(num, den), "at_least": bound, "met": ratio(num, den) >= bound}
            for what, (num, den, bound) in TARGETS.items()
            if num in seconds and den in seconds
        },
        "config": {
            "reference": label(*reference),
            "num_epochs": num_epochs,
            "steps_per_model": num_epochs * math.ceil(N_TRAIN / BATCH_SIZE),
            "repeats": repeats,
            "threads": threads,
            "clock": clock,
            "n_train": N_TRAIN,
            "batch_size": BATCH_SIZE,
            "network": f"2-{HIDDEN}-{HIDDEN}-{HIDDEN}-1, Tanh, MSE, Adam(lr={LR})",
            "seed": seed,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
        },
    }
    return result


def format_table(result: dict) -> str:
    """A plain-text table: contender, R, seconds per model, and the ratio to the reference."""
    reference = result["config"]["reference"]
    rows = [("contender", "R", "ms per model", f"x {reference}")]
    for c in result["contenders"]:
        rows.append(
            (
                c["name"],
                str(c["replicas"]),
                f"{1e3 * c['seconds_per_model']:.1f}",
                f"{result['ratios'][label(c['name'], c['replicas'])]:.2f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for what, t in result["targets"].items():
        lines.append(f"{what}: {t['ratio']:.1f}x (target >= {t['at_least']:g}x) {'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs of 100 steps per training (default 2)")
    parser.add_argument(
        "--repeats", type=int, default=20, help="timed runs per contender; the median is kept (default 20)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch.set_num_threads (default 1: these matrices are too small to gain from more)",
    )
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: CPU time of the process, robust on a shared machine (default); wall: elapsed time",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON file (default {DEFAULT_OUTPUT})")
    parser.add_argument(
        "--replicas",
        type=int,
        nargs="+",
        default=[20, 160],
        metavar="R",
        help="replica counts for minidl-replicas (default 20 160)",
    )
    parser.add_argument(
        "--func-replicas",
        type=int,
        nargs="+",
        default=[20],
        metavar="R",
        help="ensemble sizes for torch.func (default 20)",
    )
    parser.add_argument("--check", action="store_true", help="exit with status 1 if a target is missed")
    args = parser.parse_args(argv)
    if min(args.epochs, args.repeats, args.threads, *args.replicas, *args.func_replicas) < 1:
        parser.error("--epochs, --repeats, --threads and the replica counts must be positive")

    contenders = default_contenders(args.replicas, args.func_replicas)
    with tqdm(total=args.repeats, desc="benchmark rounds", unit="round", file=sys.stderr) as bar:
        result = run_benchmark(
            args.epochs,
            args.repeats,
            contenders,
            threads=args.threads,
            clock=args.clock,
            log=lambda line: bar.update(),
        )
    print(format_table(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    if args.check and not all(t["met"] for t in result["targets"].values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
