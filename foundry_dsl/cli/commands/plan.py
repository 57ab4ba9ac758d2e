"""CLI layer: ``foundry plan FILE...``: show what apply would write, writing nothing.

Also home of the run-input arguments (``--date``, ``--at``, ``--batch-id``,
``--select``) that ``apply`` and ``graph`` share, so the three commands read
their inputs the same way and build the same plan.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING

from foundry_dsl.errors import ConfigError, FoundryError, diagnostics_of

if TYPE_CHECKING:
    from foundry_dsl.planner.plan import Plan
    from foundry_dsl.planner.windows import WindowRequest


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="pipeline files (.bronze or YAML)")
    parser.add_argument("--date", help="logical run date, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument(
        "--at", help="run time for hourly/timestamp partitions, ISO 8601 (default: now, UTC)"
    )
    parser.add_argument("--batch-id", help="batch id for batch_id partitions")
    parser.add_argument(
        "--select", nargs="+", metavar="SYSTEM.TABLE", help="only these pipelines"
    )
    window = parser.add_argument_group(
        "incremental windows", "which cursors a run extracts (docs/commit-protocol.md)"
    )
    window.add_argument(
        "--from", dest="window_from", metavar="CURSOR",
        help="extract rows after this cursor (a backfill of a date older than the newest commit)",
    )
    window.add_argument(
        "--to", dest="window_to", metavar="CURSOR", help="and up to this cursor, inclusive"
    )
    window.add_argument(
        "--full-refresh", action="store_true", help="extract everything from the initial cursor"
    )
    window.add_argument(
        "--allow-empty", action="store_true",
        help="let an empty result replace a partition that holds rows",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the plan as JSON (docs/plan.md)")
    parser.add_argument(
        "--offline", action="store_true", help="do not look at storage for existing partitions"
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="ask sources what they can say ahead of time (a query's MIN/MAX for its ranges); "
        "connects to them",
    )
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when the plan would write anything, 0 when it would not, 3 when a "
        "run would fail at once (an environment variable not set, a warning)",
    )


def parse_run_inputs(args: argparse.Namespace) -> tuple[dt.date | None, dt.datetime | None]:
    """``--date`` and ``--at`` parsed into values (None when not given; the api defaults them)."""
    at = parse_at(args.at) if args.at else None
    day = parse_date(args.date) if args.date else None
    return day, at


def parse_at(text: str) -> dt.datetime:
    """``--at``: an ISO 8601 time, in UTC (a time without offset is UTC)."""
    try:
        at = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError.single(
            f"--at {text!r} is not an ISO 8601 time", help="e.g. --at 2025-01-12T14:30:00Z"
        ) from None
    try:
        return at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at.astimezone(dt.timezone.utc)
    except OverflowError:
        # an offset that moves the time before year 1 or past 9999
        raise ConfigError.single(
            f"--at {text!r} is outside the years 1 to 9999 in UTC",
            help="e.g. --at 2025-01-12T14:30:00Z",
        ) from None


def parse_date(text: str) -> dt.date:
    """``--date``: YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError.single(
            f"--date {text!r} is not a date", help="use YYYY-MM-DD, e.g. --date 2025-01-12"
        ) from None


def build_from_args(args: argparse.Namespace, look_up_storage: bool, estimate: bool = False) -> Plan:
    """The run arguments → :meth:`foundry_dsl.api.Project.plan`."""
    from foundry_dsl import api

    project = api.load(args.files)
    day, at = parse_run_inputs(args)
    return project.plan(date=day, at=at, batch_id=args.batch_id, select=args.select,
                        window=window_request(args), look_up_storage=look_up_storage,
                        estimate=estimate)


def window_request(args: argparse.Namespace) -> WindowRequest:
    from foundry_dsl.planner.windows import WindowRequest

    return WindowRequest(
        start=getattr(args, "window_from", None),
        end=getattr(args, "window_to", None),
        full_refresh=bool(getattr(args, "full_refresh", False)),
        allow_empty=bool(getattr(args, "allow_empty", False)),
    )


#: ``--detailed-exitcode``: the plan would write (terraform's 2) / a run would fail at once
EXIT_WRITES = 2
EXIT_BLOCKED = 3


def run(args: argparse.Namespace) -> int:
    try:
        plan = build_from_args(args, look_up_storage=not args.offline, estimate=args.estimate)
    except FoundryError as exc:
        if not args.json or getattr(args, "debug", False):
            raise
        # editors and CI read the problems as data, exactly like `validate --json`
        from foundry_dsl.cli.render.diagnostics_json import render_diagnostics_json

        sys.stdout.write(render_diagnostics_json(diagnostics_of(exc)))
        return 1
    if args.json:
        from foundry_dsl.cli.render.plan_json import render_plan_json

        sys.stdout.write(render_plan_json(plan))
    else:
        from rich.console import Console

        from foundry_dsl.cli.render.plan_text import plan_renderable, render_plan_text

        console = Console(highlight=False)
        if console.is_terminal:
            console.print(plan_renderable(plan))
        else:
            # piped or redirected: plain text without the cells' trailing padding
            sys.stdout.write(render_plan_text(plan, width=console.width))
    if plan.refused():
        return 1  # an ambiguous backfill: apply would refuse it too
    if args.detailed_exitcode and plan.blocked():
        return EXIT_BLOCKED
    if args.detailed_exitcode and plan.writes_anything():
        return EXIT_WRITES
    return 0
