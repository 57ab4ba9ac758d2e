"""Runtime layer: the write task as a plain value, and the function that runs it.

A :class:`WriteJob` says which chunk of which pipeline to write where, in
which formats; it holds the IR and strings only, so it pickles, and
:func:`write_chunk` can run in a thread, another process or a Dask worker.
The Arrow table travels beside it. Files land in local staging; the caller
uploads them through the commit protocol.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from foundry_dsl import ir
from foundry_dsl.partitions import file_name

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl.io.writers import FileInfo


@dataclass(frozen=True)
class WriteJob:
    pipeline: ir.Pipeline
    partition_path: str
    run_id: str
    staging_dir: str
    index: int  # 1-based file number: part-0001
    formats: tuple[tuple[str, str], ...]  # (format, compression), from the write tasks
    schema_version: int  # the batch schema this chunk was conformed to

    def local_path(self, fmt: str) -> str:
        return os.path.join(self.staging_dir, file_name(self.index, fmt))


def write_chunk(job: WriteJob, table: pa.Table) -> list[FileInfo]:
    """Write one chunk in every format of the pipeline; one FileInfo per file."""
    from foundry_dsl.io.writers import write_file

    return [
        write_file(table, job.local_path(fmt), fmt, compression)  # type: ignore[arg-type]
        for fmt, compression in job.formats
    ]


def rewrite_chunk(job: WriteJob, schema: pa.Schema) -> list[FileInfo]:
    """Conform the chunk's files to the batch's final, wider schema (in place)."""
    from foundry_dsl.io.writers import rewrite

    return [rewrite(job.local_path(fmt), fmt, schema, compression) for fmt, compression in job.formats]
