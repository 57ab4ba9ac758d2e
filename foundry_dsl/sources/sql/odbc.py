"""The ODBC link: any ODBC driver, rows straight into Arrow buffers by arrow-odbc.

Part of the database source (a :class:`~foundry_dsl.sources.sql.link.Link`).
pyodbc describes and runs the aggregates; arrow-odbc streams the rows (no
Python object per value) through transfer buffers as wide as ``text_size``,
fetching the next batch on its own thread while this one is handed on.
psqlODBC's connection string gains streaming options (``connstr.tuned``). A
``postgresql://`` URL read with ``driver = odbc`` becomes a psqlODBC string.
"""

from __future__ import annotations

import contextlib
from functools import cached_property
from typing import TYPE_CHECKING, Any

from foundry_dsl.sources.sql import connstr, pgurl, query
from foundry_dsl.sources.sql.dialect import Shape, describe
from foundry_dsl.sources.sql.link import Failure, Link, Rows, Unusable

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl.sources.sql.query import Filter

#: transfer buffer cap per batch; arrow-odbc shrinks the rows per batch to stay below it.
#: Wide rows cost bytes, not rows: two batches in flight stay small whatever the width
MAX_BYTES_PER_BATCH = 16 * 1024 * 1024


class OdbcLink(Link):
    name = "odbc"
    measures_text = True

    @cached_property
    def conn(self) -> str:
        """The connection string tuned for streaming (a URL under ``driver = odbc`` converted)."""
        try:
            odbc = pgurl.to_odbc(self.written) if pgurl.is_url(self.written) else self.written
        except ValueError as exc:
            raise Unusable(str(exc)) from None
        return connstr.tuned(odbc, self.batch_size)

    def connect(self) -> Any:
        import pyodbc

        return pyodbc.connect(self.conn, autocommit=True)

    def describe(self, conn: Any, sql: str) -> Shape:
        return describe(conn, sql, connstr.is_postgres(self.conn))

    def one_row(self, conn: Any, columns: list[str], sql: str, where: Filter) -> list[Any]:
        cur = conn.cursor()
        cur.execute(f"SELECT {', '.join(columns)} FROM ({query.base(sql)}) q{where.sql()}", *where.params)
        return list(cur.fetchone())

    def read(self, sql: str, shape: Shape, where: Filter, text_size: int) -> Rows:
        import arrow_odbc

        reader = arrow_odbc.read_arrow_batches_from_odbc(
            query.select(sql, shape.projection, where), connstr.sized(self.conn, text_size),
            batch_size=self.batch_size, parameters=where.params or None,
            max_bytes_per_batch=MAX_BYTES_PER_BATCH, max_text_size=text_size,
            max_binary_size=text_size, map_schema=_float64(shape.double_columns),
            fetch_concurrently=True,
        )
        schema = _fixed_schema(reader.schema, shape)
        return Rows(schema, (_fix(raw, schema) for raw in reader))

    def failure(self, exc: BaseException) -> Failure | None:
        if type(exc).__name__ not in _DBAPI_ERRORS:
            return None
        text = " ".join(str(a) for a in exc.args) if exc.args else str(exc)
        text = " ".join(text.split())
        connect = "SQLDriverConnect" in text or "08001" in text or "[08" in text or "IM002" in text
        hint = None
        if "too large to be written into the allocated buffer" in text:
            hint = "a value grew while reading; run again, or set max_text_size"
        return Failure(text, connect, hint)

    def shown(self) -> str:
        try:
            return connstr.redacted(self.conn)
        except Unusable:
            return pgurl.shown(self.written)

    def secrets(self) -> list[str]:
        found = pgurl.secrets(self.written)  # as written: a URL, or the string before tuning
        with contextlib.suppress(Unusable):
            found += connstr.secrets(self.conn)
        return list(dict.fromkeys(found))


#: the exception names of DB-API 2.0 (pyodbc's and arrow-odbc's errors are named alike)
_DBAPI_ERRORS = frozenset({
    "Error", "OperationalError", "ProgrammingError", "InterfaceError", "DatabaseError",
    "DataError", "IntegrityError", "NotSupportedError",
})


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
