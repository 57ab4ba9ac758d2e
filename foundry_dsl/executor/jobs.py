"""Runtime layer: the write task as a plain value, and the function that runs it.

A :class:`WriteJob` says which file of which pipeline to write where, in
which formats; it holds the IR and strings only, so it pickles. Its rows
travel beside it, in one of two ways:

- :func:`write_stream`: the rows of one format's file as an iterator of
  slices, consumed while DuckDB writes. The local executor uses this: a
  file's memory is a few slices and one row group, not the whole file. The
  iterator is a live, in-process object, so this form runs in a thread.
- :func:`write_chunk`: the file's rows as one Arrow table, every format.
  Job and table both pickle, so this form runs in another process or on a
  Dask worker (which then holds one file's rows per task in flight).

Files land in local staging; the caller uploads them through the commit
protocol. :func:`repack_files` and :func:`rewrite_chunk` fix up written files
at the end of a batch (the tail, a widened schema).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from foundry_dsl import ir
from foundry_dsl.planner.partitions import file_name

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pyarrow as pa

    from foundry_dsl.write.writers import FileInfo


@dataclass(frozen=True)
class WriteJob:
    pipeline: ir.Pipeline
    partition_path: str
    run_id: str
    staging_dir: str
    index: int  # 1-based file number: part-0001
    formats: tuple[tuple[str, str], ...]  # (format, compression), from the write tasks
    schema_version: int  # the batch schema this file's rows were conformed to
    stem: str = "part"  # file names: <stem>-0001.parquet

    def local_path(self, fmt: str) -> str:
        return os.path.join(self.staging_dir, file_name(self.index, fmt, self.stem))


def write_chunk(job: WriteJob, table: pa.Table) -> list[FileInfo]:
    """Write one chunk in every format of the pipeline; one FileInfo per file."""
    from foundry_dsl.write.writers import write_file

    return [
        write_file(table, job.local_path(fmt), fmt, compression)  # type: ignore[arg-type]
        for fmt, compression in job.formats
    ]


def write_stream(
    job: WriteJob, fmt: str, compression: str, schema: pa.Schema, tables: Iterable[pa.Table]
) -> FileInfo:
    """Write one format of the job's file from ``tables``, streamed as they come."""
    from foundry_dsl.write import writers

    return writers.write_stream(tables, schema, job.local_path(fmt), fmt, compression)


def repack_files(
    jobs: list[WriteJob], counts: list[int | None], schema: pa.Schema
) -> list[list[FileInfo]]:
    """The rows of ``jobs``' files rewritten as the first ``len(counts)`` of them.

    File i gets ``counts[i]`` rows (the last may be None: the rest), conformed
    to ``schema``; the files of the other jobs are removed. Per output job, one
    FileInfo per format.
    """
    from foundry_dsl.write.writers import repack

    outs = jobs[: len(counts)]
    per_format = [
        repack(
            [j.local_path(fmt) for j in jobs],
            [j.local_path(fmt) for j in outs],
            counts,
            fmt,
            schema,
            compression,
        )
        for fmt, compression in jobs[0].formats
    ]
    return [list(infos) for infos in zip(*per_format, strict=True)]


def rewrite_chunk(job: WriteJob, schema: pa.Schema) -> list[FileInfo]:
    """Conform the chunk's files to the batch's final, wider schema (in place)."""
    from foundry_dsl.write.writers import rewrite

    return [rewrite(job.local_path(fmt), fmt, schema, compression) for fmt, compression in job.formats]
