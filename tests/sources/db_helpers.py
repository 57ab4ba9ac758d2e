"""Helpers shared by the database source tests: IR by hand, run an extraction."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from foundry_dsl import ir
from foundry_dsl.sources.base import ExtractContext, NewCursor
from foundry_dsl.sources.db import DbExtractor

RUN_AT = dt.datetime(2025, 1, 12, 6, 0, tzinfo=dt.timezone.utc)


def pipeline(env: str, query: str, **db: Any) -> ir.Pipeline:
    return ir.Pipeline(
        system="shop",
        table="orders",
        platform=ir.Platform(name="test"),
        source=ir.DbSource(connection=ir.EnvRef(name=env), query=query, **db),
    )


def context(p: ir.Pipeline, cursor: str | None = None, batch_id: str = "b1",
            until: str | None = None) -> ExtractContext:
    return ExtractContext(
        pipeline=p, run_date=RUN_AT.date(), run_at=RUN_AT, base_dir=Path("."),
        cursor=cursor, batch_id=batch_id, until=until,
    )


def run(
    p: ir.Pipeline, cursor: str | None = None, batch_id: str = "b1", *, prepare: bool = True,
    until: str | None = None,
) -> tuple[pa.Table, str | None, dict[str, Any]]:
    """Every part of the extraction as the executor runs it (prepare once, then each part):
    the rows as one table, the merged cursor, the report. ``prepare=False``: direct use."""
    ex = DbExtractor(p.source)  # type: ignore[arg-type]
    ctx = context(p, cursor, batch_id, until)
    if prepare:
        ctx = dataclasses.replace(ctx, prepared=ex.prepare(ctx))
    batches, cursors = [], []
    for part in range(ex.parts(ctx)):
        for item in ex.extract(ctx, part):
            if isinstance(item, NewCursor):
                cursors.append(item.value)
            else:
                batches.append(item)
    table = pa.Table.from_batches(batches)
    return table, ex.merge_cursors(cursors) if cursors else None, ex.report
