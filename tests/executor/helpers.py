"""Pipelines built as IR (no front end) over custom sources written to a temp folder."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

from foundry_dsl import ir
from foundry_dsl.executor.base import PipelineResult, RunResult
from foundry_dsl.executor.local import LocalExecutor
from foundry_dsl.planner.build import build_plan

DATE = dt.date(2025, 1, 12)
NEXT_DAY = dt.date(2025, 1, 13)  # a run into another partition
AT = dt.datetime(2025, 1, 12, 14, 30, tzinfo=dt.timezone.utc)


def custom_pipeline(
    folder: Path, code: str, *, table: str = "t", params: dict[str, Any] | None = None, **run: Any
) -> ir.Pipeline:
    module = f"src_{table}"
    (folder / f"{module}.py").write_text(textwrap.dedent(code))
    out = str(folder / "out")
    return ir.Pipeline(
        system="s",
        table=table,
        platform=ir.Platform(name="p", storage=ir.LocalStorage(path=out)),
        source=ir.CustomSource(module=module, class_name="Source", params=params or {}),
        run=ir.RunOptions(local_output_dir=out, **run),
        source_file=str(folder / "pipelines.bronze"),
    )


def apply(
    *pipelines: ir.Pipeline, parallel: int = 1, progress: Any = None, date: dt.date = DATE
) -> RunResult:
    plan = build_plan(pipelines, date, AT, look_up_storage=False)
    return LocalExecutor(parallel).execute(plan, progress)


def partition(folder: Path, table: str = "t") -> Path:
    return folder / "out" / "system=s" / f"table={table}" / "dt=2025-01-12"


def rows(folder: Path, table: str = "t", columns: str = "*") -> list[tuple[Any, ...]]:
    import duckdb

    return sorted(
        duckdb.sql(f"SELECT {columns} FROM read_parquet('{partition(folder, table)}/*.parquet', hive_partitioning=false)").fetchall()
    )


def only(result: RunResult) -> PipelineResult:
    assert len(result.results) == 1
    return result.results[0]
