"""Command line: ``python -m minidl reproduce`` (or ``minidl reproduce``), the report's ``test.py``.

Trains the report's eight configurations, ``--rounds`` rounds each, prints both
tables beside the report's numbers and the time taken, and with ``--json PATH``
writes ``{"config": {...}, "table1": [ROW, ...], "table2": [ROW, ...], "seconds": S}``.

Example::

    python -m minidl reproduce                          # the report's settings
    python -m minidl reproduce --rounds 2 --epochs 5 --json /tmp/out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from .reproduce import REPORT_TABLE1, REPORT_TABLE2, ReproConfig, format_table, reproduce


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minidl", description="minidl: the report's experiments.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    defaults = ReproConfig()
    rep = commands.add_parser(
        "reproduce",
        help="train the report's configurations and print Tables I and II",
        description="Train the report's eight configurations (Table I: five activations with MSE and SGD; "
        "Table II: Tanh with cross-entropy and/or dropout, Adam), --rounds rounds each, as a stack of replicas "
        "per table, and print both tables beside the report's numbers.",
    )
    rep.add_argument(
        "--rounds", type=int, default=defaults.rounds, help="rounds per configuration (default %(default)s)"
    )
    rep.add_argument("--epochs", type=int, default=defaults.num_epochs, help="epochs per round (default %(default)s)")
    rep.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help="mini-batch size (default %(default)s)"
    )
    rep.add_argument("--seed", type=int, default=defaults.seed, help="seed of the generator (default %(default)s)")
    rep.add_argument(
        "--sgd-lr", type=float, default=defaults.sgd_lr, help="Table I's SGD learning rate (default %(default)s)"
    )
    rep.add_argument(
        "--adam-lr", type=float, default=defaults.adam_lr, help="Table II's Adam learning rate (default %(default)s)"
    )
    rep.add_argument(
        "--init-scale",
        type=float,
        default=defaults.init_scale,
        help="s in U(-s/sqrt(fan_in), s/sqrt(fan_in)) (default %(default)s)",
    )
    rep.add_argument(
        "--linear-output", action="store_true", help="no activation after the output layer (the authors' code has one)"
    )
    rep.add_argument("--json", type=Path, metavar="PATH", help="also write the tables and settings to PATH")
    rep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _reproduce(args: argparse.Namespace) -> int:
    try:
        config = ReproConfig(
            rounds=args.rounds,
            num_epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            sgd_lr=args.sgd_lr,
            adam_lr=args.adam_lr,
            init_scale=args.init_scale,
            output_activation=not args.linear_output,
        )
    except ValueError as err:
        print(f"minidl reproduce: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # the tensors are small: one thread is faster than several
    print(
        f"minidl reproduce: 8 configurations × {config.rounds} rounds, {config.num_epochs} epochs, "
        f"mini-batches of {config.batch_size}, seed {config.seed}",
        flush=True,
    )
    result = reproduce(config, progress=not args.no_progress)
    output = "with the activation after the output layer" if config.output_activation else "linear output"
    print(f"\nTable I: MSE loss, SGD (lr {config.sgd_lr}), {output}")
    print(format_table(result.table1, REPORT_TABLE1))
    print(f"\nTable II: Tanh, Adam (lr {config.adam_lr}), dropout p = {config.dropout} after each hidden activation")
    print(format_table(result.table2, REPORT_TABLE2))
    print(
        f"\nmean ± standard deviation over {config.rounds} rounds (ddof {config.ddof}); "
        "the report's cut standard deviations are shown as 22.x"
    )
    print(f"Trained {8 * config.rounds} networks in {result.seconds:.1f} s.")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n")
        print(f"Wrote {args.json}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m minidl`` and of the ``minidl`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        return _reproduce(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
