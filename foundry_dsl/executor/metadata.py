"""Runtime, commit: the content of ``_metadata.json``, the partition's commit marker.

The commit protocol writes this document last; its presence means the
partition is complete. It holds the original tool's fields (so its readers
keep working) plus what foundry adds: each file with rows, bytes and sha256,
the batch schema, durations, foundry's version and the pipeline's source hash.
Only names and counts come from the IR here: never a secret, never an
environment variable's value.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from foundry_dsl import __version__

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl import ir
    from foundry_dsl.write.writers import FileInfo


def schema_to_json(schema: pa.Schema) -> list[dict[str, str]]:
    """A JSON-able schema: one ``{"name", "type"}`` per column, Arrow's type names."""
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def build_metadata(
    *,
    pipeline: ir.Pipeline,
    formats: tuple[str, ...],  # as the plan lists them; the first counts the records
    partition_path: str,
    run_date: dt.date,
    batch_id: str,
    batch_timestamp: dt.datetime,
    files: list[FileInfo],
    schema: pa.Schema,
    new_cursor: str | None,
    durations: dict[str, float],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``_metadata.json`` document of one committed partition."""
    written = {f.format for f in files} | set(formats)
    ordered = sorted(files, key=lambda f: f.name)
    doc: dict[str, Any] = {
        # the original tool's fields, in its order
        "batch_timestamp": batch_timestamp.isoformat(),
        "run_date": run_date.isoformat(),
        "system": pipeline.system,
        "table": pipeline.table,
        # rows of one format: with parquet and csv both written, each holds every row once
        "total_records": _records(ordered, formats),
        "num_files": len(ordered),
        "partition_path": partition_path.rstrip("/") + "/",
        "file_formats": {"csv": "csv" in written, "parquet": "parquet" in written},
        "new_cursor": new_cursor,
        # foundry's additions
        "batch_id": batch_id,
        "files": [
            {"name": f.name, "format": f.format, "rows": f.rows, "bytes": f.bytes, "sha256": f.sha256}
            for f in ordered
        ],
        "schema": schema_to_json(schema),
        "durations": {k: round(float(v), 6) for k, v in sorted(durations.items())},
        "foundry_version": __version__,
        "source_hash": pipeline.source_hash,
    }
    if extra:
        clash = sorted(set(extra) & set(doc))
        if clash:
            raise ValueError(f"extra metadata would overwrite {clash}")
        doc.update(extra)
    return doc


def _records(files: list[FileInfo], formats: tuple[str, ...]) -> int:
    written = [f for f in formats if any(x.format == f for x in files)]
    if not written:
        return sum(f.rows for f in files)
    first = written[0]
    return sum(f.rows for f in files if f.format == first)
