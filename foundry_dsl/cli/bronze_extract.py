"""CLI layer: the original tool's command line, for people moving over.

``bronze-extract --config a.yaml,b.yaml --parallel-workers 3 --date 2025-01-12``
compiles the YAML files with the same front end as ``foundry`` and runs
``foundry apply`` on them: same plan, same executor, same exit codes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bronze-extract",
        description="Run medallion-foundry configs with foundry (same as `foundry apply`).",
    )
    parser.add_argument("--config", required=True, help="config files, comma-separated")
    parser.add_argument("--date", help="logical run date, YYYY-MM-DD (default: today)")
    parser.add_argument(
        "--parallel-workers", type=int, default=1, help="configs run at once (default 1)"
    )
    parser.add_argument("--log-format", choices=["text", "json"], default="text")
    parser.add_argument("--from", dest="window_from", metavar="CURSOR",
                        help="backfill: extract rows after this cursor (as foundry apply)")
    parser.add_argument("--to", dest="window_to", metavar="CURSOR",
                        help="and up to this cursor, inclusive")
    parser.add_argument("--full-refresh", action="store_true",
                        help="extract everything from the initial cursor")
    parser.add_argument("--allow-empty", action="store_true",
                        help="let an empty result replace a partition that holds rows")
    parser.add_argument("--debug", action="store_true", help="log DEBUG lines and show tracebacks")
    from foundry_dsl.cli.commands.apply import add_executor_arguments

    add_executor_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from foundry_dsl.cli.main import run_guarded

    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return run_guarded(_run, args)


def console() -> None:
    """The ``bronze-extract`` console command: :func:`main`, then a fast exit (cli/exit.py)."""
    from foundry_dsl.cli.exit import run_and_exit

    run_and_exit(main)


def _run(args: argparse.Namespace) -> int:
    from foundry_dsl import api
    from foundry_dsl.cli.commands.apply import execute, executor_options
    from foundry_dsl.cli.commands.plan import parse_date, window_request

    project = api.load([c.strip() for c in args.config.split(",") if c.strip()])
    plan = project.plan(
        date=parse_date(args.date) if args.date else None,
        window=window_request(args),
        look_up_storage=False,
    )
    return execute(plan, parallel=args.parallel_workers, log_format=args.log_format,
                   executor=args.executor, options=executor_options(args), debug=args.debug)


if __name__ == "__main__":
    console()
