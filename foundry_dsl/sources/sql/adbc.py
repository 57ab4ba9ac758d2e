"""The ADBC link: PostgreSQL through libpq's binary COPY, rows arriving as Arrow.

Part of the database source (a :class:`~foundry_dsl.sources.sql.link.Link`).
``adbc_driver_postgresql`` runs the read as ``COPY (SELECT ...) TO STDOUT
(FORMAT binary)`` and decodes it into Arrow batches of about
:data:`HINT_BYTES`, streamed (an Arrow stream read batch by batch), never the
whole result. No transfer buffers, so no width to measure: ``prepare`` only
cuts ranges. ADBC's low-level API, not its DB-API module: that one imports
pandas and polars when they are installed (0.3-0.8 s per process), and each
of its connections loads PostgreSQL's type catalog anew (~0.1 s) where one
``AdbcDatabase`` per link loads it once for all its connections.

Types as the ODBC link gives them (docs/db.md, Types): the driver's own
mapping for integers, floats, booleans, dates, times, timestamps (timestamptz
in UTC: binary COPY carries instants, the session time zone never enters),
text and bytea; ``numeric(p,s)`` is read as its text and cast to
``decimal128(p,s)`` (p and s from ``pg_attribute``, as the ODBC link reads
them); every other type (unconstrained numeric, json, uuid, arrays, ...) is
read as text, as PostgreSQL prints it (what ODBC reads).

Bound parameters: the driver reads a statement that has parameters without
COPY, buffering its whole result. So the values (cursor, range bounds) are
bound to ``set_config('foundry.pN', $N, false)`` first, one statement with
real parameters, and the read refers to them as ``(SELECT CAST(current_setting(
'foundry.pN') AS type))``: no value is ever formatted into SQL, the read keeps
COPY, and the scalar subquery casts once per query, not once per row.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from foundry_dsl.sources.sql import pgurl, query
from foundry_dsl.sources.sql.dialect import Column, Shape, pg_columns
from foundry_dsl.sources.sql.link import Failure, Link, Rows, Unusable
from foundry_dsl.sources.sql.query import quote

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl.sources.sql.query import Filter, Render

#: bytes per batch the driver aims at (its default); batches are then sliced to batch_size rows
HINT_BYTES = 16 * 1024 * 1024
#: types (as ``format_type`` names them, sizes removed) the driver maps as the ODBC link does
NATIVE = frozenset({
    "smallint", "integer", "bigint", "real", "double precision", "boolean", "date",
    "time without time zone", "timestamp without time zone", "timestamp with time zone",
    "text", "character varying", "character", "bpchar", "bytea",
})
_SIZES = re.compile(r"\(\s*-?\d+\s*(?:,\s*-?\d+\s*)?\)")
_NUMERIC = re.compile(r"numeric\((\d+),(-?\d+)\)")
MISSING = ("the PostgreSQL ADBC driver is not installed: pip install 'foundry-dsl[postgres]' "
           "(or set driver = odbc)")


class AdbcLink(Link):
    name = "adbc"
    measures_text = False

    def __init__(self, written: str, batch_size: int) -> None:
        super().__init__(written, batch_size)
        self._database: Any = None  # one AdbcDatabase: the type catalog is loaded once
        self._lock = threading.Lock()

    @cached_property
    def conn(self) -> str:
        """What libpq connects with (a psqlODBC string under ``driver = adbc`` converted)."""
        try:
            return pgurl.to_libpq(self.written)
        except ValueError as exc:
            raise Unusable(str(exc)) from None

    def connect(self) -> Session:
        try:
            import adbc_driver_postgresql
            from adbc_driver_manager import AdbcConnection
        except ImportError:
            raise Unusable(MISSING) from None
        with self._lock:
            if self._database is None:
                self._database = adbc_driver_postgresql.connect(self.conn)
            return Session(AdbcConnection(self._database))  # autocommit, as ADBC starts

    def describe(self, conn: Any, sql: str) -> Shape:
        cols = pg_columns(conn, sql)
        shape = Shape(cols, postgres=True, projection=[])
        assert shape.projection is not None
        for c in cols:
            col = f"q.{quote(c.name)}"
            if _native(c):
                shape.projection.append(col)
            elif _decimal(c) is not None:
                # the server's text is cheaper to decode than binary numeric (0.16 s of client
                # CPU per million values against 0.45 s), and exact: cast to decimal128(p,s)
                shape.projection.append(f"CAST({col} AS text) AS {quote(c.name)}")
            else:
                # as PostgreSQL prints it (its output function, what ODBC reads), which a
                # cast to text is not for every type (inet: 10.0.0.1 but text 10.0.0.1/32)
                text = f"CASE WHEN num_nulls({col}) = 0 THEN format('%s', {col}) END"
                shape.projection.append(f"{text} AS {quote(c.name)}")
        return shape

    def one_row(self, conn: Session, columns: list[str], sql: str, where: Filter) -> list[Any]:
        _bind(conn, where.params)
        cur = conn.cursor()
        cur.execute(f"SELECT {', '.join(columns)} FROM ({query.base(sql)}) q"
                    f"{where.sql(_settings(where.params))}")
        return list(cur.fetchone())

    def read(self, sql: str, shape: Shape, where: Filter, text_size: int) -> Rows:
        session = self.connect()
        try:
            _bind(session, where.params)
            stmt, reader = session.stream(
                query.select(sql, shape.projection, where, _settings(where.params)),
                {"adbc.postgresql.batch_size_hint_bytes": str(HINT_BYTES)},
            )
        except BaseException:
            session.close()
            raise
        decimals = {c.name: d for c in shape.columns if (d := _decimal(c))}
        schema = _schema(reader.schema, decimals)
        return Rows(schema, self._batches(session, stmt, reader, schema))

    def _batches(self, session: Session, stmt: Any, reader: Any, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        try:
            for raw in reader:
                batch = _fix(raw, schema)
                # the driver's batches are sized in bytes; the source's promise is in rows
                for start in range(0, batch.num_rows, self.batch_size):
                    yield batch.slice(start, self.batch_size)
        finally:
            reader.close()
            stmt.close()
            session.close()

    def failure(self, exc: BaseException) -> Failure | None:
        name = type(exc).__name__
        if name == "ArrowInvalid" and "decimal" in str(exc):  # numeric NaN, Infinity
            return Failure(" ".join(str(exc).split()), False,
                           "a numeric column holds NaN or Infinity; cast it to text in the query")
        if name not in _DBAPI_ERRORS:
            return None
        raw = str(exc).split("\nLINE ")[0].split("\n\nQuery was:")[0]
        text = " ".join(raw.split())
        state = getattr(exc, "sqlstate", None) or ""
        if state and state not in text:
            text += f" (SQLSTATE {state})"
        lost = ("Failed to connect", "server closed the connection", "Connection refused")
        return Failure(text, state.startswith("08") or any(m in raw for m in lost))

    def shown(self) -> str:
        return pgurl.shown(self.written)

    def secrets(self) -> list[str]:
        found = pgurl.secrets(self.written)
        with contextlib.suppress(Unusable):
            found.insert(1, self.conn)  # the libpq settings a connection string became
        return list(dict.fromkeys(found))


class Session:
    """One ADBC connection, with the little of DB-API that describing and the one-row
    aggregates use (``cursor().execute/fetchone/fetchall``, ``close``)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def stream(self, sql: str, options: dict[str, str] | None = None,
               params: list[str] | None = None) -> tuple[Any, pa.RecordBatchReader]:
        """The statement (close it after the reader) and its rows as an Arrow stream."""
        import pyarrow as pa
        from adbc_driver_manager import AdbcStatement

        stmt = AdbcStatement(self.conn)
        try:
            if options:
                stmt.set_options(**options)
            stmt.set_sql_query(sql)
            if params:
                values = pa.record_batch([pa.array([v], pa.string()) for v in params],
                                         names=[f"p{i}" for i in range(len(params))])
                schema, array = values.__arrow_c_array__()
                stmt.bind(array, schema)
            handle, _ = stmt.execute_query()
            return stmt, pa.RecordBatchReader._import_from_c(handle.address)
        except BaseException:
            stmt.close()
            raise

    def rows(self, sql: str, params: list[str] | None = None) -> list[tuple[Any, ...]]:
        stmt, reader = self.stream(sql, params=params)
        try:
            table = reader.read_all()
        finally:
            reader.close()
            stmt.close()
        cols = [[x.as_py() for c in col.chunks for x in _plain(c)] for col in table.columns]
        return list(zip(*cols, strict=True)) if cols else []

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def close(self) -> None:
        self.conn.close()


class _Cursor:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.result: list[tuple[Any, ...]] = []

    def execute(self, sql: str) -> None:
        self.result = self.session.rows(sql)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.result

    def fetchone(self) -> tuple[Any, ...]:
        return self.result[0]


_DBAPI_ERRORS = frozenset({
    "Error", "OperationalError", "ProgrammingError", "InterfaceError", "DatabaseError",
    "DataError", "IntegrityError", "NotSupportedError",
})


def _native(c: Column) -> bool:
    return " ".join(_SIZES.sub("", c.type).split()) in NATIVE


def _decimal(c: Column) -> tuple[int, int] | None:
    """``numeric(p,s)`` that ``decimal128`` holds exactly: (p, s); else None (read as text)."""
    m = _NUMERIC.fullmatch(c.type.replace(" ", ""))
    if not m:
        return None
    p, s = int(m.group(1)), int(m.group(2))
    return (p, s) if 0 < p <= 38 and 0 <= s <= p else None


def _bind(session: Session, params: list[str | None]) -> None:
    """Bind the values to session settings ``foundry.p1``, ``foundry.p2``, ... (NULLs need none)."""
    given = [(i, v) for i, v in enumerate(params) if v is not None]
    if given:
        calls = ", ".join(f"set_config('foundry.p{i + 1}', ${k + 1}, false)" for k, (i, _) in enumerate(given))
        session.rows(f"SELECT {calls}", [v for _, v in given])


def _settings(params: list[str | None]) -> Render:
    """Each parameter as a read of its session setting, cast once per query."""

    def render(i: int, type_name: str | None) -> str:
        if params[i] is None:
            return f"CAST(NULL AS {type_name})" if type_name else "NULL"
        value = f"current_setting('foundry.p{i + 1}')"
        return f"(SELECT CAST({value} AS {type_name}))" if type_name else f"(SELECT {value})"

    return render


def _schema(driver: pa.Schema, decimals: dict[str, tuple[int, int]]) -> pa.Schema:
    """The landed schema: decimals typed, extension types as their storage, no driver metadata."""
    import pyarrow as pa

    fields = []
    for f in driver:
        t = f.type
        if f.name in decimals:
            t = pa.decimal128(*decimals[f.name])
        elif isinstance(t, pa.ExtensionType):
            t = t.storage_type
        fields.append(pa.field(f.name, t, nullable=True))
    return pa.schema(fields)


def _fix(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    cols = []
    for col, f in zip(batch.columns, schema, strict=True):
        col = _plain(col)
        cols.append(col if col.type == f.type else col.cast(f.type))
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def _plain(array: pa.Array) -> pa.Array:
    """An extension array (numeric as opaque text, json, uuid) as its storage."""
    import pyarrow as pa

    return array.storage if isinstance(array.type, pa.ExtensionType) else array
