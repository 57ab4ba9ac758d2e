"""Runtime, data path: Arrow tables → one Parquet or CSV file on local disk.

:func:`write_stream` writes a file from an iterator of tables that DuckDB
pulls while it writes, so a file never needs all its rows in memory;
:func:`write_file` is the one-table case, :func:`repack` and :func:`rewrite`
fix up written files at the end of a batch.

DuckDB writes both formats, from Arrow without copying, on a connection of the
calling thread (a DuckDB connection must not be shared between threads). The
file lands in a local staging folder; the storage layer uploads it and the
commit protocol moves it into the partition. Each write hands on a
:class:`FileInfo` (rows, bytes, sha256) for ``_metadata.json``.

Memory is bounded in bytes, whatever the width of a row: a Parquet row group
ends at ``ROW_GROUP_SIZE`` rows or at ``ROW_GROUP_BYTES`` (DuckDB's
``ROW_GROUP_SIZE_BYTES``, counted on the rows as DuckDB holds them, before
encoding), whichever comes first. DuckDB keeps the row group it encodes, about
five times its size while it writes, so at 10 KB a row the default 122,880 rows
would be 1.2 GB; narrow rows (up to ~130 bytes) still get whole 122,880-row
groups. Files are read back (repack, rewrite) one row group or one bounded batch
at a time.

Parquet keeps the exact Arrow schema: the file carries the ``ARROW:schema``
key that pyarrow writes too, so a timestamp keeps its time zone name (DuckDB
alone stores instants as UTC). CSV has a header and RFC 4180 quoting; nested
values are JSON text and binary values base64.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from foundry_dsl.errors import StorageError
from foundry_dsl.write.schema import conform

#: our codec names → DuckDB's; DuckDB 1.1+ writes every codec foundry offers
PARQUET_CODECS = {
    "snappy": "snappy",
    "gzip": "gzip",
    "brotli": "brotli",
    "lz4": "lz4_raw",  # LZ4_RAW is the Parquet codec that every reader agrees on
    "zstd": "zstd",
    "none": "uncompressed",
}
DEFAULT_ROW_GROUP_SIZE = 122_880  # DuckDB's default, a multiple of its vector size
#: a row group also ends at this many bytes (DuckDB's ROW_GROUP_SIZE_BYTES)
ROW_GROUP_BYTES = 16 * 2**20
_READ_BATCH = 65_536
#: a batch read back from a CSV file (repack, rewrite) holds at most about this many bytes
_READ_BYTES = 8 * 2**20
_SAMPLE_ROWS = 2_048  # rows read to measure a CSV file's bytes per row


@dataclass(frozen=True)
class FileInfo:
    """One written file, as ``_metadata.json`` lists it."""

    name: str  # basename
    format: str
    rows: int
    bytes: int
    sha256: str


_local = threading.local()


def connection() -> Any:
    """This thread's DuckDB connection (in memory, created on first use)."""
    con = getattr(_local, "con", None)
    if con is None:
        import duckdb

        con = duckdb.connect(config={"threads": 1})
        _local.con = con
    return con


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _csv_select(schema: pa.Schema) -> str:
    cols = []
    for f in schema:
        col = _ident(f.name)
        if pa.types.is_nested(f.type):
            cols.append(f"to_json({col})::VARCHAR AS {col}")
        elif pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            cols.append(f"base64({col}) AS {col}")
        else:
            cols.append(col)
    return ", ".join(cols) if cols else "*"


def _copy_options(
    fmt: str, compression: str, schema: pa.Schema, row_group_size: int, row_group_bytes: int
) -> str:
    if fmt == "parquet":
        codec = PARQUET_CODECS.get(compression)
        if codec is None:
            raise ValueError(f"unknown parquet compression {compression!r}; use one of {sorted(PARQUET_CODECS)}")
        arrow_schema = base64.b64encode(schema.serialize().to_pybytes()).decode()
        return (
            f"FORMAT parquet, COMPRESSION {codec}, ROW_GROUP_SIZE {row_group_size}, "
            f"ROW_GROUP_SIZE_BYTES {row_group_bytes}, KV_METADATA {{'ARROW:schema': '{arrow_schema}'}}"
        )
    if fmt == "csv":
        # RFC 4180: comma, double quote, a quote inside a field doubled
        return "FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"'"
    raise ValueError(f"unknown format {fmt!r}; use parquet or csv")


def _copy(source: pa.Table | pa.RecordBatchReader, schema: pa.Schema, path: str, fmt: str,
          compression: str, row_group_size: int, row_group_bytes: int | None = None) -> None:
    con = connection()
    view = f"__foundry_src_{threading.get_ident()}"
    select = _csv_select(schema) if fmt == "csv" else "*"
    if row_group_bytes is None:
        row_group_bytes = ROW_GROUP_BYTES
    options = _copy_options(fmt, compression, schema, row_group_size, row_group_bytes)
    con.register(view, source)
    try:
        con.execute(f"COPY (SELECT {select} FROM {view}) TO {_sql_str(path)} ({options})")
    except Exception as exc:
        if isinstance(exc, (ValueError, StorageError)):
            raise
        raise StorageError(f"could not write {path}: {exc}") from None
    finally:
        con.unregister(view)


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _info(path: str, fmt: str, rows: int) -> FileInfo:
    return FileInfo(
        name=os.path.basename(path),
        format=fmt,
        rows=rows,
        bytes=os.path.getsize(path),
        sha256=sha256_of(path),
    )


def write_file(
    table: pa.Table,
    path: str,
    fmt: Literal["parquet", "csv"],
    compression: str,
    *,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    row_group_bytes: int | None = None,
) -> FileInfo:
    """Write ``table`` to the local file ``path`` (replacing it) and describe it.

    ``compression`` applies to Parquet; CSV is always written plain.
    """
    return write_stream(
        [table], table.schema, path, fmt, compression,
        row_group_size=row_group_size, row_group_bytes=row_group_bytes,
    )


def write_stream(
    tables: Iterable[pa.Table | pa.RecordBatch],
    schema: pa.Schema,
    path: str,
    fmt: str,
    compression: str,
    *,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    row_group_bytes: int | None = None,
) -> FileInfo:
    """Write one file from ``tables``, consumed one at a time while DuckDB writes.

    Memory stays at the table being read plus the row group being encoded
    (at most ``row_group_size`` rows and ``row_group_bytes`` bytes, by default
    ``ROW_GROUP_BYTES``), however many rows the file gets. Every table must
    have ``schema``.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    rows = 0

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal rows
        for t in tables:
            rows += t.num_rows
            yield from (t.to_batches() if isinstance(t, pa.Table) else [t])

    _copy(pa.RecordBatchReader.from_batches(schema, batches()), schema, path, fmt, compression,
          row_group_size, row_group_bytes)
    return _info(path, fmt, rows)


def measure(table: pa.Table, fmt: str, compression: str, scratch_dir: str | None = None) -> int:
    """Bytes that ``table`` takes once written: what the chunker calibrates with.

    Written with the row groups of every file (rows and bytes), so a sample of
    one row group predicts a file of many.
    """
    import tempfile

    fd, path = tempfile.mkstemp(suffix=f".{fmt}", dir=scratch_dir)
    os.close(fd)
    try:
        _copy(table, table.schema, path, fmt, compression, DEFAULT_ROW_GROUP_SIZE)
        return os.path.getsize(path)
    finally:
        os.unlink(path)


def _read_batches(path: str, fmt: str) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The file's rows, a bounded batch at a time (bytes, not only rows)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        return pf.schema_arrow, _row_groups(pf)
    # a CSV is text already: every column is read back as text, exactly as written
    sql = (
        f"SELECT * FROM read_csv({_sql_str(path)}, header=true, all_varchar=true, delim=',', "
        "quote='\"', escape='\"', allow_quoted_nulls=false)"
    )
    con = connection().cursor()
    sample = con.sql(f"{sql} LIMIT {_SAMPLE_ROWS}").to_arrow_table()
    reader = con.sql(sql).to_arrow_reader(batch_rows(sample, _READ_BYTES, _READ_BATCH))
    return reader.schema, iter(reader)


def _row_groups(pf: Any) -> Iterator[pa.RecordBatch]:
    # a row group was written bounded in bytes (ROW_GROUP_BYTES): read one at a time
    for i in range(pf.num_row_groups):
        yield from pf.read_row_group(i).to_batches(max_chunksize=_READ_BATCH)


def batch_rows(sample: pa.Table, max_bytes: int, max_rows: int) -> int:
    """Rows per batch so that a batch of rows like ``sample``'s holds about ``max_bytes``."""
    if sample.num_rows == 0 or sample.nbytes == 0:
        return max_rows
    return max(1, min(max_rows, int(max_bytes * sample.num_rows / sample.nbytes)))


def _text_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, pa.string()) for f in schema])


def rewrite(
    path: str, fmt: str, schema: pa.Schema, compression: str,
    *, row_group_size: int = DEFAULT_ROW_GROUP_SIZE, row_group_bytes: int | None = None,
) -> FileInfo:
    """Conform an already-written file to the batch's final schema, in place.

    Streams the file batch by batch, so memory stays at one read batch. The new
    file replaces the old one atomically (``os.replace``).
    """
    return repack(
        [path], [path], [None], fmt, schema, compression,
        row_group_size=row_group_size, row_group_bytes=row_group_bytes,
    )[0]


def repack(
    paths: list[str],
    out_paths: list[str],
    counts: list[int | None],
    fmt: str,
    schema: pa.Schema,
    compression: str,
    *,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    row_group_bytes: int | None = None,
) -> list[FileInfo]:
    """Rewrite the rows of ``paths`` (in order) as ``out_paths``, ``counts[i]`` rows each.

    The last count may be None: the rest. Rows are conformed to ``schema`` (the
    batch's final one) on the way, streamed batch by batch. Outputs are written
    beside the inputs first and moved into place once all are written; inputs
    that are not also outputs are removed.
    """
    # CSV holds text: only the columns and their order change
    target = _text_schema(schema) if fmt == "csv" else schema

    def conformed() -> Iterator[pa.RecordBatch]:
        for p in paths:
            file_schema, batches = _read_batches(p, fmt)
            for b in batches:
                yield from conform(pa.Table.from_batches([b], schema=file_schema), target).to_batches()

    source = _Rows(conformed())
    tmps = [f"{p}.repack" for p in out_paths]
    infos = []
    try:
        for tmp, count in zip(tmps, counts, strict=True):
            reader = pa.RecordBatchReader.from_batches(target, source.take(count))
            _copy(reader, schema if fmt == "parquet" else target, tmp, fmt, compression,
                  row_group_size, row_group_bytes)
            infos.append(source.taken)
        if source.more():
            raise StorageError(f"repacking {len(paths)} files: more rows than the counts {counts}")
        for p in paths:
            if p not in out_paths:
                os.unlink(p)
        for tmp, out in zip(tmps, out_paths, strict=True):
            os.replace(tmp, out)
    finally:
        for tmp in tmps:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [_info(out, fmt, rows) for out, rows in zip(out_paths, infos, strict=True)]


class _Rows:
    """One stream of batches cut into consecutive runs of exact row counts."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self._batches = batches
        self._carry: pa.RecordBatch | None = None
        self.taken = 0

    def _next(self) -> pa.RecordBatch | None:
        if self._carry is not None:
            b, self._carry = self._carry, None
            return b
        return next(self._batches, None)

    def more(self) -> bool:
        b = self._next()
        while b is not None and b.num_rows == 0:
            b = self._next()
        self._carry = b
        return b is not None

    def take(self, count: int | None) -> Iterator[pa.RecordBatch]:
        self.taken = 0
        return self._take(count)

    def _take(self, count: int | None) -> Iterator[pa.RecordBatch]:
        while count is None or self.taken < count:
            b = self._next()
            if b is None:
                return
            if count is not None and b.num_rows > count - self.taken:
                b, self._carry = b.slice(0, count - self.taken), b.slice(count - self.taken)
            self.taken += b.num_rows
            yield b
