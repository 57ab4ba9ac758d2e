"""Rendering layer: a Plan as text for people, with rich.

Per pipeline: what happens (``+ create``, ``~ replace``, ``? write``), the
source in one line, the target root, the environment variables it reads and
warnings, the partition tree it writes, formats, file limits and workers, where
the start cursor comes from, then a summary line. Laid out as a two-column grid
so long values wrap inside their column at 80 columns; colour is decoration
only, so ``NO_COLOR=1`` loses nothing. On a terminal rich prints it; piped, the
same characters are laid out by ``plain`` (rich's tables cost more than the
whole rest of a large plan), and rich's layout modules are not even imported.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich.text import Text

from foundry_dsl.cli.render import plain
from foundry_dsl.cli.render.graph_text import chain
from foundry_dsl.cli.render.units import files, human_bytes, human_count
from foundry_dsl.errors import Diagnostic
from foundry_dsl.planner.partitions import METADATA_FILE, committed_name
from foundry_dsl.planner.plan import PipelinePlan, Plan, describe_ranges, describe_source

if TYPE_CHECKING:
    from rich.console import RenderableType

STYLES = {"create": "green", "replace": "yellow", "unknown": "cyan"}
WORDS = {"create": "create", "replace": "replace", "unknown": "write"}


def plan_renderable(plan: Plan) -> RenderableType:
    # render_plan_text lays out these same parts without rich: a new part goes in
    # both (tests/cli/test_plain_layout.py compares the two)
    from rich.console import Group

    at = plan.run_at.isoformat().replace("+00:00", "Z")
    parts: list[RenderableType] = [
        Text.assemble(("foundry plan", "bold"), f"  run date {plan.run_date.isoformat()}, at {at}"),
    ]
    if plan.offline:
        parts.append(Text("storage not checked (--offline): create or replace is unknown", "dim"))
    for pp in plan.pipelines:
        parts.append(Text(""))
        parts.append(_pipeline(pp))
    parts.append(Text(""))
    parts.append(Text(plan.summary_line(), "bold"))
    return Group(*parts)


def _pipeline(pp: PipelinePlan) -> RenderableType:
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table

    head, rows = _content(pp)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in rows:
        # values are never markup: a path or a query may contain "[...]"
        grid.add_row(key, value if isinstance(value, Text) else Text(value))
    return Group(head, Padding(grid, (0, 0, 0, 2), expand=False))


def _content(pp: PipelinePlan) -> tuple[Text, list[tuple[str, str | Text]]]:
    """A pipeline's head line and its grid's rows, for rich and for ``plain`` alike."""
    p = pp.pipeline
    style = STYLES[pp.action]
    head = Text.assemble(
        (f"{pp.marker} {WORDS[pp.action]} ", style + " bold"), (pp.name, "bold")
    )
    if p.source_file:
        head.append(f"  ({p.source_file})", "dim")
    rows: list[tuple[str, str | Text]] = []

    def row(key: str, value: str | Text) -> None:
        rows.append((key, value))

    row("source", describe_source(p.source))
    backend = p.platform.storage.kind if p.run.storage_enabled else "local"
    row("target", f"{pp.target_root} ({backend})")
    if pp.env:
        row("env", _env(pp))
    for d in pp.warnings:
        row("warning", _warning(d))
    row("partition", _tree(pp, style))
    row("formats", ", ".join(_format(f, pp) for f in pp.formats))
    row("files", _limits(pp))
    row("workers", _workers(pp))
    if pp.estimate is not None:
        e = pp.estimate
        bits = [b for b in (e.detail, _opt_rows(e.rows), _opt_bytes(e.bytes)) if b]
        if bits or e.ranges is None:
            row("estimate", ", ".join(bits) or "unknown")
        if e.ranges is not None:
            row("ranges", describe_ranges(e.ranges))
    if pp.estimate_error is not None:
        row("estimate", f"not available: {pp.estimate_error}")
    if pp.unchecked is not None:
        row("storage", f"not checked: {pp.unchecked}")
    if pp.existing is not None:
        x = pp.existing
        when = f", committed {x.batch_timestamp}" if x.batch_timestamp else ""
        row(
            "existing",
            f"{human_count(x.records)} records in {files(x.files)}{when}",
        )
        if x.records:
            allowed = pp.request.allow_empty or p.run.allow_empty
            row("if empty", "replaces them with none (allow_empty)" if allowed else
                "the run fails and keeps them (--allow-empty to replace them with none)")
    if pp.cursor is not None:
        row("cursor", pp.cursor.describe())
    if pp.window is not None:
        row("window", pp.window.describe())
    if pp.window_error is not None:
        row("refused", Text(pp.window_error, "red"))
    row("tasks", chain(pp.graph))
    return head, rows


def _tree(pp: PipelinePlan, style: str) -> Text:
    text = Text()
    depth = 0
    for depth, (k, v) in enumerate(pp.partition_levels):
        text.append(f"{'  ' * depth}{k}={v}/\n")
    pad = "  " * (depth + 1)
    for fmt in pp.formats:
        text.append(f"{pad}{committed_name(1, fmt)} ...", style)
        text.append(" one per chunk\n", "dim")
    text.append(f"{pad}{METADATA_FILE}", style)
    text.append(" written last: the commit marker", "dim")
    return text


def _env(pp: PipelinePlan) -> Text:
    """Names only, never values: the unset ones first, as apply would stop for them."""
    missing = [v.name + (" (empty)" if v.status == "empty" else "") for v in pp.env if v.missing]
    present = [v.name for v in pp.env if v.required and not v.missing]
    optional = [f"{v.name} ({v.status if v.status != 'empty' else 'not set'})"
                for v in pp.env if not v.required]
    text = Text()
    for label, names, style in (("not set", missing, "red"), ("set", present, ""),
                                ("optional", optional, "")):
        if names:
            text.append("\n" if text else "")
            text.append(f"{label}: {', '.join(names)}", style)
    return text


def _warning(d: Diagnostic) -> Text:
    text = Text(f"{d.position}: {d.message}" if d.position else d.message, "yellow")
    if d.help:
        text.append(f"\nhelp: {d.help}", "dim")
    return text


def _format(fmt: str, pp: PipelinePlan) -> str:
    comp = pp.settings.output(fmt).compression
    return f"{fmt} ({comp})" if fmt == "parquet" else fmt


def _limits(pp: PipelinePlan) -> str:
    r = pp.settings
    size = f"up to {human_bytes(r.max_file_size)}" if r.max_file_size else "no size limit"
    rows = f"up to {human_count(r.max_rows_per_file)} rows" if r.max_rows_per_file else "no row limit"
    lineage = ", with _batch_id and _extracted_at columns" if r.lineage else ""
    return f"{size}, {rows}{lineage}"


def _workers(pp: PipelinePlan) -> str:
    w = pp.settings.workers
    if pp.parts is None:
        streams = "extract streams decided by the extractor"
    else:
        streams = f"{pp.parts} extract stream{'s' if pp.parts != 1 else ''}"
    return f"{w} chunk writer{'s' if w != 1 else ''}, {streams}"


def _opt_rows(rows: int | None) -> str:
    if rows is None:
        return ""
    return f"{human_count(rows)} row{'' if rows == 1 else 's'}"


def _opt_bytes(n: int | None) -> str:
    return human_bytes(n) if n is not None else ""


def render_plan_text(plan: Plan, width: int = 80) -> str:
    """Plain text at ``width`` columns, no colour: what ``NO_COLOR=1`` shows (snapshots).

    The very characters rich prints for :func:`plan_renderable`, laid out by ``plain``
    (a rich table per pipeline was most of the time of a large plan); rich lays out
    only what ``plain`` does not (text that is not printable ASCII)."""
    at = plan.run_at.isoformat().replace("+00:00", "Z")
    lines = _wrapped(f"foundry plan  run date {plan.run_date.isoformat()}, at {at}", width)
    if plan.offline:
        lines += _wrapped("storage not checked (--offline): create or replace is unknown", width)
    for pp in plan.pipelines:
        lines.append("")
        head, rows = _content(pp)
        body = plain.grid([(k, v if isinstance(v, str) else v.plain) for k, v in rows], width)
        if body is None or not plain.simple(head.plain):
            lines += _rich_lines(_pipeline(pp), width)
        else:
            lines += _wrapped(head.plain, width) + body
    lines.append("")
    lines += _wrapped(plan.summary_line(), width)
    return "\n".join(lines) + "\n"


def _wrapped(text: str, width: int) -> list[str]:
    lines = plain.wrap(text, width)
    return _rich_lines(Text(text), width) if lines is None else lines


def _rich_lines(renderable: RenderableType, width: int) -> list[str]:
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, color_system=None, highlight=False)
    console.print(renderable)
    return [line.rstrip() for line in buf.getvalue().splitlines()]
