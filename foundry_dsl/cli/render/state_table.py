"""Rendering layer: ``foundry state list``, one line per pipeline: its stored cursor
and the table's newest commit (partition, batch time, rows).

Plain aligned text, never cut to the terminal's width: the partition path is
what a user copies from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foundry_dsl.cli.render.units import human_count


@dataclass(frozen=True)
class Row:
    name: str
    incremental: bool
    cursor: str | None  # the stored cursor; None: none stored
    pending: bool  # a run recorded its intent and did not finish (the next run settles it)
    last: dict[str, Any] | None  # the newest committed _metadata.json


def state_table(rows: list[Row]) -> str:
    cells = [("pipeline", "cursor", "last commit")]
    cells += [(r.name, _cursor(r), _last(r.last)) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(2)]
    return "".join(
        f"{name:<{widths[0]}}  {cursor:<{widths[1]}}  {last}".rstrip() + "\n"
        for name, cursor, last in cells
    )


def _cursor(r: Row) -> str:
    if not r.incremental:
        text = "(not incremental)"
    elif r.cursor is None:
        text = "(none: starts from the initial cursor)"
    else:
        text = r.cursor
    if r.pending:
        text += " (a run did not finish; the next run settles it)"
    return text


def _last(meta: dict[str, Any] | None) -> str:
    if meta is None:
        return "nothing committed yet"
    records = meta.get("total_records")
    rows = human_count(records) if isinstance(records, int) else "?"
    return (
        f"{meta.get('partition_path', '?')} at {meta.get('batch_timestamp', '?')} "
        f"({rows} row{'' if records == 1 else 's'})"
    )
