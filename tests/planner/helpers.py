"""IR objects for planner tests, built directly (no front end involved)."""

from __future__ import annotations

from typing import Any

from foundry_dsl import ir


def pipeline(
    *,
    system: str = "shop",
    table: str = "orders",
    partition: str = "date",
    use_dt: bool = True,
    storage: Any = None,
    source: Any = None,
    **run: Any,
) -> ir.Pipeline:
    platform = ir.Platform(
        name="lake",
        storage=storage or ir.LocalStorage(path="./output"),
        partition=partition,  # type: ignore[arg-type]
        use_dt_partition=use_dt,
        formats=("parquet", "csv"),
    )
    return ir.Pipeline.model_construct(
        system=system,
        table=table,
        platform=platform,
        source=source or ir.FilesSource(paths=("data/orders/*.csv",)),
        run=ir.RunOptions(**run),
        source_file="",
    )
