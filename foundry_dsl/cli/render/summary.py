"""Rendering layer: the table at the end of ``foundry apply``, one row per pipeline."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from foundry_dsl.cli.render.units import human_bytes, human_count, human_seconds
from foundry_dsl.executor.base import RunResult


def summary_table(result: RunResult) -> Table:
    table = Table(title=None, show_edge=False, header_style="bold")
    table.add_column("pipeline", no_wrap=True)
    table.add_column("status")
    table.add_column("rows", justify="right")
    table.add_column("files", justify="right")
    table.add_column("bytes", justify="right")
    table.add_column("time", justify="right")
    for r in result.results:
        if r.status == "succeeded":
            status = Text("kept" if r.note else "ok", "green")
        else:
            status = Text.assemble(("failed", "red"), f" at {r.task}")
        table.add_row(
            Text(r.name),
            status,
            human_count(r.rows),
            human_count(r.files),  # one number format for the whole table
            human_bytes(r.bytes),
            human_seconds(r.seconds),
        )
    return table


def summary_line(result: RunResult) -> str:
    n = len(result.results)
    failed = sum(r.status == "failed" for r in result.results)
    head = f"{n} pipeline{'s' if n != 1 else ''}"
    if not failed:
        return f"{head}: all succeeded"
    return f"{head}: {n - failed} succeeded, {failed} failed"
