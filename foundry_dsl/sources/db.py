"""The database source: a SQL query over ODBC, streamed as Arrow record batches.

Source layer. Reads a :class:`~foundry_dsl.ir.DbSource` and hands the executor
Arrow record batches (``arrow-odbc`` fills Arrow buffers straight from the
driver: no Python object per value), then a :class:`NewCursor`.

How a read goes (``extract``), each step on its own for a reason:

1. describe the query's columns (``sql.dialect``): exact types the ODBC metadata hides;
2. build ``SELECT ... FROM (<query>) q WHERE ...`` with the incremental filter
   (``key > ?``, a bound parameter) and this part's range (``sql.query``);
3. probe the longest text and binary value of exactly those rows, so transfer
   buffers fit the data (psqlODBC reports 8,190 characters for ``text`` and no
   bound for ``bytea``; trusting either truncates or costs a gigabyte per batch);
4. stream batches; track max(key) and count rows whose key is NULL.

Figures for the run's metadata go into :attr:`DbExtractor.report`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.base import Estimate, ExtractContext, Extractor, NewCursor
from foundry_dsl.sources.sql import connstr, cursor, query, ranges
from foundry_dsl.sources.sql.dialect import Shape, describe

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl import ir

#: transfer buffer cap per batch; arrow-odbc shrinks the rows per batch to stay below it
MAX_BYTES_PER_BATCH = 256 * 1024 * 1024
#: smallest text buffer; headroom over the probed width for rows that arrive meanwhile
MIN_TEXT = 64

# cut points computed once per run and reused by every part of it (threads share them)
_RANGES: dict[tuple[str, str, str, str | None], list[str | None]] = {}
_RANGES_LOCK = threading.Lock()


class DbExtractor(Extractor):
    source: ir.DbSource

    def __init__(self, source: ir.DbSource) -> None:
        super().__init__(source)
        #: figures for ``_metadata.json`` after extraction, e.g. ``null_incremental_key_rows``
        self.report: dict[str, Any] = {}
        self._conn: str | None = None

    # --- the Extractor interface ---------------------------------------------------

    def parts(self, ctx: ExtractContext) -> int:
        return self.source.partitions

    def estimate(self, ctx: ExtractContext) -> Estimate | None:
        # plain `plan` never connects; `plan --estimate` calls compute_ranges
        return None

    def secrets(self) -> list[str]:
        conn = self.source.connection.resolve(required=False)
        return connstr.secrets(conn) if conn else []

    def merge_cursors(self, cursors: Sequence[str | None]) -> str | None:
        return cursor.greatest(cursors)

    def extract(self, ctx: ExtractContext, part: int = 0) -> Iterator[pa.RecordBatch | NewCursor]:
        import pyarrow as pa
        import pyarrow.compute as pc

        src = self.source
        conn = self._connection()
        pipeline = ctx.pipeline.name
        with self._errors(pipeline, "describing the query"):
            meta = self._meta()
            try:
                shape = describe(meta, src.query, connstr.is_postgres(conn))
                where, since = self._filter(ctx, shape)
                if src.partitions > 1:
                    cuts = self._cut_points(ctx, meta, shape)
                    cond = query.range_condition(
                        src.partition_column or "", part, src.partitions, cuts,
                        shape.cast(src.partition_column or ""),
                    )
                    if cond:
                        where.add(cond[0], *cond[1])
                text_size = src.max_text_size or self._probe(meta, shape, where)
                if src.incremental_key and part == 0:
                    self.report["null_incremental_key_rows"] = self._count_null_keys(meta, shape)
            finally:
                meta.close()

        sql = query.select(src.query, shape.projection, where)
        key = src.incremental_key
        best: Any = None
        with self._errors(pipeline, "reading rows"):
            import arrow_odbc

            reader = arrow_odbc.read_arrow_batches_from_odbc(
                sql, connstr.sized(conn, text_size), batch_size=src.batch_size, parameters=where.params or None,
                max_bytes_per_batch=MAX_BYTES_PER_BATCH, max_text_size=text_size,
                max_binary_size=text_size, map_schema=_float64(shape.double_columns),
                fetch_concurrently=True,
            )
            schema = _fixed_schema(reader.schema, shape)
            landed = 0
            for raw in reader:
                batch = _fix(raw, schema)
                landed += batch.num_rows
                if key is not None and batch.num_rows:
                    top = pc.max(batch.column(key)).as_py()
                    if top is not None and (best is None or top > best):
                        best = top
                yield batch
            if not landed:
                # an empty part still commits, with its schema
                yield pa.RecordBatch.from_pylist([], schema=schema)
        if key is not None:
            new = cursor.render(best) if best is not None else None
            if new is not None and since is not None and cursor.greatest([since, new]) == since:
                new = None  # lookback re-read only old rows: never move the cursor back
            yield NewCursor(new)

    # --- public helpers ------------------------------------------------------------

    def compute_ranges(self, ctx: ExtractContext) -> list[tuple[Any, Any]]:
        """Each part's [low, high) as values (None = open), NULLs in part 0; connects."""
        meta = self._meta()
        try:
            with self._errors(ctx.pipeline.name, "computing partition ranges"):
                shape = describe(meta, self.source.query, connstr.is_postgres(self._connection()))
                cuts = self._cut_points(ctx, meta, shape)
        finally:
            meta.close()
        edges = [None, *cuts, None]
        return [(edges[i], edges[i + 1]) for i in range(self.source.partitions)]

    # --- steps ---------------------------------------------------------------------

    def _connection(self) -> str:
        if self._conn is None:
            raw = self.source.connection.resolve() or ""
            self._conn = connstr.tuned(raw, self.source.batch_size)
        return self._conn

    def _meta(self) -> Any:
        import pyodbc

        return pyodbc.connect(self._connection(), autocommit=True)

    def _filter(self, ctx: ExtractContext, shape: Shape) -> tuple[query.Filter, str | None]:
        """The incremental condition, and the cursor it starts from (after lookback)."""
        where = query.Filter()
        src = self.source
        since = ctx.cursor if ctx.cursor is not None else src.initial_cursor
        if src.incremental_key and since is not None:
            bound = since
            if src.lookback:
                try:
                    bound = cursor.step_back(since, src.lookback)
                except ValueError as exc:
                    raise ExtractError(f"pipeline {ctx.pipeline.name}: {exc}") from None
            col = f"q.{query.quote(src.incremental_key)}"
            where.add(f"{col} > {shape.cast(src.incremental_key)}", bound)
        return where, since

    def _cut_points(self, ctx: ExtractContext, meta: Any, shape: Shape) -> list[str | None]:
        src = self.source
        key = (ctx.pipeline.name, ctx.batch_id, ctx.run_at.isoformat(), ctx.cursor)
        with _RANGES_LOCK:
            if key in _RANGES:
                return _RANGES[key]
            if src.partition_bounds is not None:
                low, high = src.partition_bounds
            else:
                where, _ = self._filter(ctx, shape)
                col = f"q.{query.quote(src.partition_column or '')}"
                cur = meta.cursor()
                cur.execute(
                    f"SELECT MIN({col}), MAX({col}) FROM ({query.base(src.query)}) q{where.sql()}",
                    *where.params,
                )
                low, high = cur.fetchone()
            try:
                cuts = ranges.cut_points(low, high, src.partitions)
            except ValueError as exc:
                raise ExtractError(
                    f"pipeline {ctx.pipeline.name}: partition_column "
                    f"{src.partition_column!r}: {exc}; use a number, date or timestamp column"
                ) from None
            rendered = [None if c is None else cursor.render(c) for c in cuts]
            _RANGES[key] = rendered
            return rendered

    def _probe(self, meta: Any, shape: Shape, where: query.Filter) -> int:
        exprs = shape.length_probe()
        if not exprs:
            return MIN_TEXT
        cur = meta.cursor()
        cur.execute(
            f"SELECT {', '.join(exprs)} FROM ({query.base(self.source.query)}) q{where.sql()}",
            *where.params,
        )
        longest = max((int(v) for v in cur.fetchone() if v is not None), default=0)
        return max(MIN_TEXT, longest + longest // 8)

    def _count_null_keys(self, meta: Any, shape: Shape) -> int:
        col = f"q.{query.quote(self.source.incremental_key or '')}"
        cur = meta.cursor()
        cur.execute(f"SELECT COUNT(*) FROM ({query.base(self.source.query)}) q WHERE {col} IS NULL")
        return int(cur.fetchone()[0])

    def _errors(self, pipeline: str, doing: str) -> _Errors:
        return _Errors(pipeline, doing, self._connection())


class _Errors:
    """Turns driver errors into ExtractError: the driver's message, the pipeline, the
    connection string with its secrets redacted, and what to do next."""

    def __init__(self, pipeline: str, doing: str, conn: str) -> None:
        self.pipeline, self.doing, self.conn = pipeline, doing, conn

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, ExtractError | GeneratorExit):
            return
        names = {"Error", "OperationalError", "ProgrammingError", "InterfaceError",
                 "DatabaseError", "DataError", "IntegrityError", "NotSupportedError"}
        if type(exc).__name__ not in names:
            return
        text = " ".join(str(a) for a in exc.args) if exc.args else str(exc)
        text = " ".join(text.split())
        connect = "SQLDriverConnect" in text or "08001" in text or "[08" in text or "IM002" in text
        hint = (
            "check the connection string and that the database is reachable"
            if connect
            else "check the query; run it in a SQL client with the same connection"
        )
        if "too large to be written into the allocated buffer" in text:
            hint = "a value grew while reading; run again, or set max_text_size"
        message = (
            f"pipeline {self.pipeline}: database error while {self.doing}: {text}\n"
            f"  connection: {connstr.redacted(self.conn)}\n"
            f"  next: {hint}"
        )
        raise ExtractError(connstr.scrub(message, self.conn), transient=connect) from None


def _float64(names: list[str]) -> Any:
    if not names:
        return None

    def remap(schema: pa.Schema) -> pa.Schema:
        import pyarrow as pa

        return pa.schema(
            [pa.field(f.name, pa.float64()) if f.name in names else f for f in schema]
        )

    return remap


def _fixed_schema(schema: pa.Schema, shape: Shape) -> pa.Schema:
    import pyarrow as pa

    fields = []
    for f in schema:
        if f.name in shape.utc_columns:
            f = pa.field(f.name, pa.timestamp(f.type.unit, tz="UTC"), nullable=True)
        fields.append(f)
    return pa.schema(fields)


def _fix(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    # UTC-labelled timestamps share the naive buffers: a metadata-only cast
    if batch.schema.equals(schema):
        return batch
    import pyarrow as pa

    cols = [c if c.type == f.type else c.cast(f.type) for c, f in zip(batch.columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def compute_ranges(source: ir.DbSource, ctx: ExtractContext) -> list[tuple[Any, Any]]:
    """For ``plan --estimate``: each part's [low, high) (None = open); connects to the DB."""
    return DbExtractor(source).compute_ranges(ctx)
