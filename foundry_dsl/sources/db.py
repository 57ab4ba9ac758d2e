"""The database source: a SQL query streamed as Arrow record batches.

Source layer. Reads a :class:`~foundry_dsl.ir.DbSource` and hands the executor
Arrow record batches, then a :class:`NewCursor`. A link (``sql.link``) reaches
the database: ADBC for PostgreSQL (a ``postgresql://`` URL, or ``driver =
adbc``: libpq's binary COPY, ``sql.adbc``), ODBC for everything else
(``arrow-odbc`` fills Arrow buffers straight from the driver, ``sql.odbc``).
Either way no Python object is made per value, and this module's SQL is the same.

Once per run, before any part starts (``prepare``, wherever the run is
coordinated), one aggregate query over the rows to read gives what every part
must agree on: the range cut points (from MIN/MAX of ``partition_column``) and,
for ODBC, the transfer-buffer width (the longest value of each text/binary
column whose width the schema does not bound: psqlODBC reports 8,190 characters
for ``text`` and no bound for ``bytea``; trusting either truncates or costs a
gigabyte per batch). Incremental runs also count rows whose key is NULL. The
result, a picklable :class:`Prepared`, reaches each part as ``ctx.prepared``.

How a part reads (``extract``):

1. describe the query's columns (``link.describe``): exact types, the projection;
2. build ``SELECT ... FROM (<query>) q WHERE ...`` with the incremental window
   (``key > ?``, and ``key <= ?`` when the run replays a committed window; bound
   parameters) and this part's range (``sql.query``);
3. stream batches (``link.read``); track max(key).

Figures for the run's metadata go into :attr:`DbExtractor.report`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from foundry_dsl import cursors as cursor
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.base import Estimate, ExtractContext, Extractor, NewCursor
from foundry_dsl.sources.sql import pgurl, query, ranges
from foundry_dsl.sources.sql.adbc import AdbcLink
from foundry_dsl.sources.sql.link import Link, Unusable
from foundry_dsl.sources.sql.odbc import OdbcLink

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl import ir
    from foundry_dsl.sources.sql.dialect import Shape

#: smallest text buffer; headroom over the probed width for rows that arrive meanwhile
MIN_TEXT = 64


@dataclass(frozen=True)
class Prepared:
    """Computed once per run by :meth:`DbExtractor.prepare`; every part reads with it."""

    cuts: tuple[str | None, ...]  # partitions - 1 interior cut points, as cursor text
    text_size: int  # transfer buffer per text/binary value, bytes (ODBC; 0 for ADBC)
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
        if source.driver != "auto":
            extra += f", driver {source.driver}"
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
        self._link: Link | None = None
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
        return choose(conn, self.source.driver, self.source.batch_size).secrets() if conn else []

    @property
    def link(self) -> Link:
        """How this source reaches its database (resolves the connection's env variable)."""
        if self._link is None:
            src = self.source
            self._link = choose(src.connection.resolve() or "", src.driver, src.batch_size)
        return self._link

    def extract(self, ctx: ExtractContext, part: int = 0) -> Iterator[pa.RecordBatch | NewCursor]:
        import pyarrow as pa
        import pyarrow.compute as pc

        src = self.source
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
        if part == 0 and prepared.null_keys is not None:
            self.report["null_incremental_key_rows"] = prepared.null_keys

        key = src.incremental_key
        best: Any = None
        with self._errors(pipeline, "reading rows"):
            rows = self.link.read(src.query, shape, where, prepared.text_size)
            landed = 0
            with contextlib.closing(rows):  # a consumer that stops early frees the connection
                for batch in rows.batches:
                    landed += batch.num_rows
                    if key is not None and batch.num_rows:
                        top = pc.max(batch.column(key)).as_py()
                        if top is not None and (best is None or top > best):
                            best = top
                    yield batch
            if not landed:
                # an empty part still commits, with its schema
                yield pa.RecordBatch.from_pylist([], schema=rows.schema)
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

    def _describe(self, pipeline: str) -> tuple[Any, Shape]:
        """A DB-API connection (the caller closes it) and the query's columns."""
        with self._errors(pipeline, "connecting"):
            meta = self.link.connect()
        try:
            with self._errors(pipeline, "describing the query"):
                return meta, self.link.describe(meta, self.source.query)
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
        link = self.link
        ranged = src.partitions > 1 and src.partition_bounds is None
        measure = link.measures_text and not (src.max_text_size or ranges_only)
        exprs = shape.length_probe() if measure else []
        values: list[Any] = []
        if ranged or exprs:
            where, _ = self._filter(ctx, shape)
            col = f"q.{query.quote(src.partition_column or '')}"
            cols = ([f"MIN({col})", f"MAX({col})"] if ranged else []) + exprs
            values = link.one_row(meta, cols, src.query, where)
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
        if not link.measures_text:
            text_size = 0  # no transfer buffers to size
        elif src.max_text_size:
            text_size = src.max_text_size
        else:
            lengths = values[2:] if ranged else values
            longest = max((int(v) for v in lengths if v is not None), default=0)
            # headroom for rows that arrive between this scan and the read
            text_size = max(MIN_TEXT, longest + longest // 8, shape.declared_bytes())
        null_keys = None
        if src.incremental_key and not ranges_only:
            nulls = query.Filter()
            nulls.add(f"q.{query.quote(src.incremental_key)} IS NULL")
            null_keys = int(link.one_row(meta, ["COUNT(*)"], src.query, nulls)[0])
        return Prepared(tuple(cuts), text_size, null_keys)

    def _errors(self, pipeline: str, doing: str) -> _Errors:
        return _Errors(pipeline, doing, self.link)


def choose(written: str, driver: str, batch_size: int) -> Link:
    """The link for a connection: ``driver = adbc`` or ``odbc`` as set; ``auto`` takes ADBC
    for a ``postgresql://`` URL and ODBC for a connection string."""
    if driver == "adbc" or (driver == "auto" and pgurl.is_url(written)):
        return AdbcLink(written, batch_size)
    return OdbcLink(written, batch_size)


class _Errors:
    """Turns driver errors into ExtractError: the driver's message, the pipeline, the
    connection with its secrets redacted, and what to do next. Refused credentials are
    terminal; an unreachable server is transient."""

    def __init__(self, pipeline: str, doing: str, link: Link) -> None:
        self.pipeline, self.doing, self.link = pipeline, doing, link

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, ExtractError | GeneratorExit):
            return
        link = self.link
        if isinstance(exc, Unusable):
            message = f"pipeline {self.pipeline}: {exc}\n  connection: {link.shown()}"
            raise ExtractError(link.scrub(message)) from None
        failure = link.failure(exc)
        if failure is None:
            return
        # refused credentials are terminal: a retry meets the same refusal (and may lock
        # the account); only an unreachable server is worth another try
        denied = any(marker in failure.text.lower() for marker in _DENIED)
        hint = (
            "check the user and password in the connection string; retrying will not help"
            if denied
            else "check the connection string and that the database is reachable"
            if failure.connect
            else "check the query; run it in a SQL client with the same connection"
        )
        message = (
            f"pipeline {self.pipeline}: database error while {self.doing}: {failure.text}\n"
            f"  connection: {link.shown()}\n"
            f"  next: {failure.hint or hint}"
        )
        raise ExtractError(link.scrub(message), transient=failure.connect and not denied) from None


#: how drivers say the credentials were refused (PostgreSQL 28P01/28000, SQL Server 18456,
#: MySQL 1045, Oracle ORA-01017), lower-cased
_DENIED = ("password authentication failed", "28p01", "[28000]", "login failed for user",
           "access denied for user", "ora-01017", "authentication failed")


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
