"""The database source: a SQL query over ODBC, streamed as Arrow record batches.

Source layer. Reads a :class:`~foundry_dsl.ir.DbSource` and hands the executor
Arrow record batches (``arrow-odbc`` fills Arrow buffers straight from the
driver: no Python object per value), then a :class:`NewCursor`.

Once per run, before any part starts (``prepare``, wherever the run is
coordinated), one aggregate query over the rows to read gives what every part
must agree on: the range cut points (from MIN/MAX of ``partition_column``) and
the transfer-buffer width (the longest value of each text/binary column whose
width the schema does not bound: psqlODBC reports 8,190 characters for ``text``
and no bound for ``bytea``; trusting either truncates or costs a gigabyte per
batch). Incremental runs also count rows whose key is NULL. The result, a
picklable :class:`Prepared`, reaches each part as ``ctx.prepared``.

How a part reads (``extract``):

1. describe the query's columns (``sql.dialect``): exact types the ODBC metadata hides;
2. build ``SELECT ... FROM (<query>) q WHERE ...`` with the incremental window
   (``key > ?``, and ``key <= ?`` when the run replays a committed window; bound
   parameters) and this part's range (``sql.query``);
3. stream batches (arrow-odbc fetches the next batch on its own thread while
   this one hands the last on); track max(key).

Figures for the run's metadata go into :attr:`DbExtractor.report`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from foundry_dsl import cursors as cursor
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.base import Estimate, ExtractContext, Extractor, NewCursor
from foundry_dsl.sources.sql import connstr, query, ranges
from foundry_dsl.sources.sql.dialect import Shape, describe

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl import ir

#: transfer buffer cap per batch; arrow-odbc shrinks the rows per batch to stay below it.
#: Wide rows cost bytes, not rows: two batches in flight stay small whatever the width
MAX_BYTES_PER_BATCH = 16 * 1024 * 1024
#: smallest text buffer; headroom over the probed width for rows that arrive meanwhile
MIN_TEXT = 64


@dataclass(frozen=True)
class Prepared:
    """Computed once per run by :meth:`DbExtractor.prepare`; every part reads with it."""

    cuts: tuple[str | None, ...]  # partitions - 1 interior cut points, as cursor text
    text_size: int  # transfer buffer per text/binary value, bytes
    null_keys: int | None = None  # rows whose incremental key is NULL (incremental only)


class DbExtractor(Extractor):
    source: ir.DbSource

    @classmethod
    def describe(cls, source: ir.DbSource) -> str:
        query = " ".join(source.query.split())
        if len(query) > 48:
            query = query[:45] + "..."
        extra = ""
        if source.incremental_key:
            extra += f", incremental on {source.incremental_key}"
        if source.partitions > 1:
            extra += f", {source.partitions} ranges on {source.partition_column}"
        return f"db {source.connection}: {query}{extra}"

    @classmethod
    def planned_parts(cls, source: ir.DbSource) -> int | None:
        return source.partitions if source.partition_column else 1

    @classmethod
    def keeps_cursor(cls, source: ir.DbSource) -> bool | None:
        return source.incremental_key is not None

    @classmethod
    def cursor_env(cls, source: ir.DbSource) -> str | None:
        return source.cursor_env

    @classmethod
    def estimates_offline(cls, source: ir.DbSource) -> bool:
        return True  # the ranges of given partition_bounds; MIN/MAX only when asked

    def __init__(self, source: ir.DbSource) -> None:
        super().__init__(source)
        self._conn: str | None = None
        # used when no one called prepare (direct use): parts of one run on this
        # instance still compute it once and agree on it
        self._own: dict[tuple[str | None, str | None, str, str], Prepared] = {}
        self._own_lock = threading.Lock()

    # --- the Extractor interface ---------------------------------------------------

    def prepare(self, ctx: ExtractContext) -> Prepared:
        """Range cut points, buffer width and NULL-key count for this run; connects."""
        meta, shape = self._describe(ctx.pipeline.name)
        try:
            with self._errors(ctx.pipeline.name, "reading partition ranges and value widths"):
                prepared = self._prepare(ctx, meta, shape)
        finally:
            meta.close()
        if prepared.null_keys is not None:
            self.report["null_incremental_key_rows"] = prepared.null_keys
        return prepared

    def parts(self, ctx: ExtractContext) -> int:
        return self.source.partitions

    def estimate(self, ctx: ExtractContext) -> Estimate | None:
        """The ranges when the pipeline fixes ``partition_bounds``; never connects."""
        src = self.source
        if src.partitions < 2 or src.partition_bounds is None:
            return None
        try:
            cuts = ranges.cut_points(*src.partition_bounds, src.partitions)
        except ValueError:
            return None  # the run reports it, naming the pipeline
        return Estimate(ranges=_spans([None if c is None else cursor.render(c) for c in cuts]))

    def estimate_live(self, ctx: ExtractContext) -> Estimate | None:
        """``plan --estimate``: the ranges from the column's MIN/MAX (one aggregate query)."""
        src = self.source
        if src.partitions < 2:
            return None  # one part, no ranges: nothing worth a connection
        if src.partition_bounds is not None:
            return self.estimate(ctx)
        return Estimate(ranges=tuple(
            (_text(low), _text(high)) for low, high in self.compute_ranges(ctx)
        ))

    def secrets(self) -> list[str]:
        conn = self.source.connection.resolve(required=False)
        return connstr.secrets(conn) if conn else []

    def extract(self, ctx: ExtractContext, part: int = 0) -> Iterator[pa.RecordBatch | NewCursor]:
        import pyarrow as pa
        import pyarrow.compute as pc

        src = self.source
        conn = self._connection()
        pipeline = ctx.pipeline.name
        meta, shape = self._describe(pipeline)
        try:
            with self._errors(pipeline, "reading partition ranges and value widths"):
                prepared = self._prepared(ctx, meta, shape)
        finally:
            meta.close()
        where, since = self._filter(ctx, shape)
        if src.partitions > 1:
            cond = query.range_condition(
                src.partition_column or "", part, src.partitions, prepared.cuts,
                shape.cast(src.partition_column or ""),
            )
            if cond:
                where.add(cond[0], *cond[1])
        text_size = prepared.text_size
        if part == 0 and prepared.null_keys is not None:
            self.report["null_incremental_key_rows"] = prepared.null_keys

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
        """Each part's [low, high) as values (None = open), NULLs in part 0; connects.
        Only MIN/MAX: no widths or NULL-key count (``plan --estimate`` reads nothing else)."""
        meta, shape = self._describe(ctx.pipeline.name)
        try:
            with self._errors(ctx.pipeline.name, "computing partition ranges"):
                cuts = self._prepare(ctx, meta, shape, ranges_only=True).cuts
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

    def _describe(self, pipeline: str) -> tuple[Any, Shape]:
        """A pyodbc connection (the caller closes it) and the query's columns."""
        import pyodbc

        with self._errors(pipeline, "connecting"):
            meta = pyodbc.connect(self._connection(), autocommit=True)
        try:
            with self._errors(pipeline, "describing the query"):
                return meta, describe(meta, self.source.query, connstr.is_postgres(self._connection()))
        except BaseException:
            meta.close()
            raise

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
        if src.incremental_key and ctx.until is not None:
            # a replayed window: rows past its end belong to a later partition
            col = f"q.{query.quote(src.incremental_key)}"
            where.add(f"{col} <= {shape.cast(src.incremental_key)}", ctx.until)
        return where, since

    def _prepared(self, ctx: ExtractContext, meta: Any, shape: Shape) -> Prepared:
        """``ctx.prepared``, or (direct use, no prepare call) this instance's own, once per run."""
        if isinstance(ctx.prepared, Prepared):
            return ctx.prepared
        key = (ctx.cursor, ctx.until, ctx.batch_id, ctx.run_at.isoformat())
        with self._own_lock:
            if key not in self._own:
                self._own[key] = self._prepare(ctx, meta, shape)
            return self._own[key]

    def _prepare(self, ctx: ExtractContext, meta: Any, shape: Shape, *, ranges_only: bool = False) -> Prepared:
        """One scan of the rows to read for MIN/MAX and the longest values; one count of NULL keys."""
        src = self.source
        ranged = src.partitions > 1 and src.partition_bounds is None
        exprs = [] if src.max_text_size or ranges_only else shape.length_probe()
        values: list[Any] = []
        if ranged or exprs:
            where, _ = self._filter(ctx, shape)
            col = f"q.{query.quote(src.partition_column or '')}"
            cols = ([f"MIN({col})", f"MAX({col})"] if ranged else []) + exprs
            cur = meta.cursor()
            cur.execute(
                f"SELECT {', '.join(cols)} FROM ({query.base(src.query)}) q{where.sql()}",
                *where.params,
            )
            values = list(cur.fetchone())
        cuts: list[str | None] = []
        if src.partitions > 1:
            low, high = values[:2] if ranged else (src.partition_bounds or (None, None))
            try:
                found = ranges.cut_points(low, high, src.partitions)
            except ValueError as exc:
                raise ExtractError(
                    f"pipeline {ctx.pipeline.name}: partition_column "
                    f"{src.partition_column!r}: {exc}; use a number, date or timestamp column"
                ) from None
            cuts = [None if c is None else cursor.render(c) for c in found]
        if src.max_text_size:
            text_size = src.max_text_size
        else:
            lengths = values[2:] if ranged else values
            longest = max((int(v) for v in lengths if v is not None), default=0)
            # headroom for rows that arrive between this scan and the read
            text_size = max(MIN_TEXT, longest + longest // 8, shape.declared_bytes())
        null_keys = None
        if src.incremental_key and not ranges_only:
            key = f"q.{query.quote(src.incremental_key)}"
            cur = meta.cursor()
            cur.execute(f"SELECT COUNT(*) FROM ({query.base(src.query)}) q WHERE {key} IS NULL")
            null_keys = int(cur.fetchone()[0])
        return Prepared(tuple(cuts), text_size, null_keys)

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
        # refused credentials are terminal: a retry meets the same refusal (and may lock
        # the account); only an unreachable server is worth another try
        denied = any(marker in text.lower() for marker in _DENIED)
        hint = (
            "check the user and password in the connection string; retrying will not help"
            if denied
            else "check the connection string and that the database is reachable"
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
        raise ExtractError(connstr.scrub(message, self.conn), transient=connect and not denied) from None


#: how drivers say the credentials were refused (PostgreSQL 28P01/28000, SQL Server 18456,
#: MySQL 1045, Oracle ORA-01017), lower-cased
_DENIED = ("password authentication failed", "28p01", "[28000]", "login failed for user",
           "access denied for user", "ora-01017", "authentication failed")


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


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return cursor.render(value)


def _spans(cuts: Sequence[str | None]) -> tuple[tuple[str | None, str | None], ...]:
    """Each part's [low, high) from the interior cut points, open at both ends."""
    edges = [None, *cuts, None]
    return tuple((edges[i], edges[i + 1]) for i in range(len(cuts) + 1))


def compute_ranges(source: ir.DbSource, ctx: ExtractContext) -> list[tuple[Any, Any]]:
    """For ``plan --estimate``: each part's [low, high) (None = open); connects to the DB."""
    return DbExtractor(source).compute_ranges(ctx)
