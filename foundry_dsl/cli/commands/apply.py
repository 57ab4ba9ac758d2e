"""CLI layer: ``foundry apply FILE...``: execute the plan and land the data.

Builds the same :class:`~foundry_dsl.planner.plan.Plan` that ``foundry plan`` shows
and runs it with :func:`foundry_dsl.api.apply` on the chosen executor (local
threads, or a Dask cluster with ``--executor dask``), adding only
progress, logging and the summary. Exit code 0 only when every pipeline
succeeded; a summary table lists each pipeline's outcome.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from foundry_dsl.cli.commands.plan import add_run_arguments, build_from_args

if TYPE_CHECKING:
    from foundry_dsl.planner.plan import Plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument(
        "--parallel", type=int, default=1, metavar="N", help="pipelines run at once (default 1)"
    )
    add_executor_arguments(parser)
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="text: progress on a terminal, log lines otherwise; json: one JSON object per line",
    )


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor``, ``--scheduler``, ``--workers``: shared with ``bronze-extract``."""
    group = parser.add_argument_group("executor", "where the parts run (docs/executor.md)")
    group.add_argument(
        "--executor", default="local", metavar="NAME",
        help="local (threads here, the default) or dask (pip install 'foundry-dsl[dask]')",
    )
    group.add_argument(
        "--scheduler", metavar="URL",
        help="dask: an existing cluster's scheduler, e.g. tcp://10.0.0.5:8786 "
        "(default: start a cluster of --workers processes here and stop it after)",
    )
    group.add_argument(
        "--workers", type=int, default=2, metavar="N",
        help="dask without --scheduler: worker processes to start (default 2)",
    )


def executor_options(args: argparse.Namespace) -> dict[str, object]:
    if args.executor == "dask":
        return {"scheduler": args.scheduler, "workers": args.workers}
    if args.scheduler:
        from foundry_dsl.errors import PlanError

        raise PlanError("--scheduler needs --executor dask")
    return {}


def run(args: argparse.Namespace) -> int:
    plan = build_from_args(args, look_up_storage=False)
    return execute(plan, parallel=args.parallel, log_format=args.log_format,
                   executor=args.executor, options=executor_options(args),
                   debug=getattr(args, "debug", False))


def execute(
    plan: Plan,
    *,
    parallel: int,
    log_format: str,
    executor: str = "local",
    options: dict[str, object] | None = None,
    debug: bool = False,
) -> int:
    """Run ``plan`` with progress and a summary; shared with ``bronze-extract``.

    ``debug`` logs DEBUG lines too (the spec's debug mode). On a terminal, log
    lines and the live progress share one Console, so lines print above it.
    """
    import logging

    from foundry_dsl import api
    from foundry_dsl.cli.logs import LogProgress, RichProgress, secret_values, setup_logging
    from foundry_dsl.errors import PlanError
    from foundry_dsl.executor.registry import executor_for

    if parallel < 1:
        raise PlanError("--parallel must be at least 1")
    live = log_format == "text" and sys.stderr.isatty()
    # rich only where it draws: a terminal's progress, the text summary (JSON logs need none)
    if log_format == "text":
        from rich.console import Console
        from rich.text import Text

        from foundry_dsl.cli.render.summary import summary_line, summary_table
    err = Console(stderr=True, highlight=False) if live else None
    setup_logging(
        log_format,
        secret_values(p.pipeline for p in plan.pipelines),
        level=logging.DEBUG if debug else logging.INFO,
        console=err,
    )
    chosen = executor_for(executor, parallel=parallel, **(options or {}))
    if err is not None:
        with RichProgress(err) as progress:
            result = api.apply(plan, executor=chosen, progress=progress)
        for r in result.results:
            if r.error:
                # the message is text, never markup: task ids look like tags ("write[csv]")
                err.print(Text.assemble(("error: ", "red"), r.error), soft_wrap=True)
    else:
        result = api.apply(plan, executor=chosen, progress=LogProgress())
    if log_format == "text":
        out = Console(highlight=False)
        out.print(summary_table(result))
        out.print(summary_line(result))
    return result.exit_code
