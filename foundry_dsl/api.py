"""API layer: compile → plan → apply, as a library.

The one entry point that ``foundry``, ``bronze-extract`` and tests all use::

    import foundry_dsl

    project = foundry_dsl.load(["pipelines/demo.bronze"])
    plan = project.plan(date=datetime.date(2025, 1, 12))
    result = foundry_dsl.apply(plan)

It sits above the front ends, the planner and the executor, and below the
CLI, which only parses arguments into the values taken here and renders what
comes back. Everything heavy is imported inside the functions, so importing
this module (or ``foundry_dsl``) costs nothing.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from foundry_dsl import ir
    from foundry_dsl.executor.base import Executor, Progress, RunResult
    from foundry_dsl.planner.plan import Plan
    from foundry_dsl.planner.windows import WindowRequest


def load(paths: Sequence[str | os.PathLike[str]]) -> Project:
    """Compile pipeline files (``.bronze`` or YAML); raise ConfigError listing every problem."""
    if isinstance(paths, (str, os.PathLike)):
        raise TypeError(f"load() takes a list of files, e.g. load([{os.fspath(paths)!r}])")
    from foundry_dsl.frontends.load import load as compile_files

    return Project(compile_files([os.fspath(p) for p in paths]))


class Project:
    """Pipelines compiled from a set of files, ready to plan."""

    def __init__(self, project: ir.Project) -> None:
        self.ir = project

    @property
    def pipelines(self) -> tuple[ir.Pipeline, ...]:
        return self.ir.pipelines

    @property
    def files(self) -> tuple[str, ...]:
        return self.ir.files

    def __repr__(self) -> str:
        names = ", ".join(p.name for p in self.pipelines)
        return f"<Project [{names}]>"

    def plan(
        self,
        *,
        date: dt.date | None = None,
        at: dt.datetime | None = None,
        batch_id: str | None = None,
        select: Sequence[str] | None = None,
        window: WindowRequest | None = None,
        look_up_storage: bool = True,
        estimate: bool = False,
    ) -> Plan:
        """What a run would write: the partitions, files and task graph of each pipeline.

        ``at``: the run time (default: now, UTC; a naive time is taken as UTC).
        ``date``: the logical run date (default: the UTC day of ``at``).
        ``select``: only these ``system.table`` pipelines (None: every one).
        ``window``: which cursors to extract (``--from``/``--to``/...); None: the usual.
        ``look_up_storage``: look at storage to tell create from replace (False:
        ``--offline``). ``estimate``: ask sources what they can say ahead of time.
        Raises PlanError for an unknown pipeline name or an impossible window.
        """
        from foundry_dsl.planner.build import build_plan

        if isinstance(select, str):
            raise TypeError(f"select takes a list of names, e.g. select=[{select!r}]")
        day, run_at = run_inputs(date, at)
        pipelines = self.pipelines
        if select is not None:
            known = {p.name for p in pipelines}
            unknown = [s for s in select if s not in known]
            if unknown:
                from foundry_dsl.errors import PlanError, did_you_mean

                hint = did_you_mean(unknown[0], known)
                raise PlanError(
                    f"--select {unknown[0]}: no such pipeline in {', '.join(self.files)}"
                    + (f"; {hint}" if hint else f" (pipelines: {', '.join(sorted(known))})")
                )
            wanted = set(select)
            pipelines = tuple(p for p in pipelines if p.name in wanted)
        return build_plan(pipelines, day, run_at, batch_id, look_up_storage=look_up_storage,
                          estimate=estimate, request=window)


def run_inputs(date: dt.date | None, at: dt.datetime | None) -> tuple[dt.date, dt.datetime]:
    """The run date and time: ``at`` defaults to now (UTC), the date to the UTC day of ``at``."""
    if at is None:
        run_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    elif at.tzinfo is None:
        run_at = at.replace(tzinfo=dt.timezone.utc)
    else:
        try:
            run_at = at.astimezone(dt.timezone.utc)
        except OverflowError:
            from foundry_dsl.errors import PlanError

            raise PlanError(f"at {at.isoformat()} is outside the years 1 to 9999 in UTC") from None
    return (run_at.date() if date is None else date), run_at


def apply(
    plan: Plan, *, executor: Executor | None = None, progress: Progress | None = None
) -> RunResult:
    """Run ``plan`` and land the data; one result per pipeline, in plan order.

    A failed pipeline never stops the others: check ``result.ok`` (or
    ``result.exit_code``) and each ``result.results[i].error``.
    ``executor``: default the local executor, one pipeline at a time.
    ``progress``: what the executor reports while it runs; default silent.
    """
    if executor is None:
        from foundry_dsl.executor.registry import executor_for

        executor = executor_for("local", parallel=1)
    if progress is None:
        from foundry_dsl.executor.base import SilentProgress

        progress = SilentProgress()
    return executor.execute(plan, progress)
