"""What the database says about a query's columns, and how to read each one exactly.

Part of the database source. ODBC metadata loses detail that matters for exact
types (psqlODBC reports ``timestamptz`` and ``timestamp`` alike, ``double
precision`` as a width-less FLOAT, unconstrained ``numeric`` as (28, 6)), so for
PostgreSQL we ask the server itself through a temporary view (the ADBC link
asks the same way: :func:`pg_columns`). Hands the ODBC link a :class:`Shape`:
the projection to select, the cast for bound parameters, and the Arrow fix-ups
to apply to each batch (zero-copy casts, no Python objects).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foundry_dsl.sources.sql.query import base, quote

# PostgreSQL types whose text can be long: their width is probed, not trusted
_PG_TEXT = ("text", "character varying", "character", "bpchar", "json", "jsonb", "xml", "uuid", "numeric")


@dataclass
class Column:
    name: str
    type: str  # the server's own type name, lower case ("timestamp with time zone")
    text: bool = False  # read as text: its width needs a buffer
    binary: bool = False
    length: int | None = None  # declared width in characters (varchar(n), char(n)); None: unbounded


@dataclass
class Shape:
    columns: list[Column]
    postgres: bool
    projection: list[str] | None = None  # None: q.*
    utc_columns: list[str] = field(default_factory=list)  # naive UTC → timestamp[us, UTC]
    double_columns: list[str] = field(default_factory=list)  # read as float64

    def cast(self, column: str) -> str:
        """A bound parameter typed as ``column``'s type, so comparisons are typed."""
        if self.postgres:
            for c in self.columns:
                if c.name == column:
                    return f"CAST(? AS {c.type})"
        return "?"

    def declared_bytes(self) -> int:
        """Bytes the widest declared-length text column can need (UTF-8: 4 per character)."""
        return max((4 * c.length for c in self.columns if c.text and c.length is not None), default=0)

    def length_probe(self) -> list[str]:
        """Expressions giving the longest value in bytes of each text and binary column
        whose width the schema does not bound (``text``, ``jsonb``, ``bytea``, ...)."""
        out = []
        for c in self.columns:
            if c.length is not None:
                continue  # varchar(n): the declared width already bounds the buffer
            col = f"q.{quote(c.name)}"
            if self.postgres and (c.text or c.binary):
                expr = col if c.binary else f"CAST({col} AS text)"
                out.append(f"MAX(octet_length({expr}))")
            elif c.text or c.binary:
                # SQLite and others: LENGTH counts characters; UTF-8 needs up to 4 bytes each
                out.append(f"MAX(LENGTH(CAST({col} AS BLOB)))" if c.binary else f"4 * MAX(LENGTH({col}))")
        return out


def describe(conn: Any, query: str, postgres: bool) -> Shape:
    """The query's columns as the server sees them (``conn`` is a pyodbc connection)."""
    if postgres:
        return _pg_shape(pg_columns(conn, query))
    cur = conn.cursor()
    cur.execute(f"SELECT * FROM ({base(query)}) q WHERE 1 = 0")
    cols = []
    for d in cur.description:
        py = d[1]
        cols.append(Column(d[0], getattr(py, "__name__", str(py)), text=py is str, binary=py in (bytes, bytearray)))
    return Shape(cols, postgres=False)


def pg_columns(conn: Any, query: str) -> list[Column]:
    """PostgreSQL's own types of the query's columns, through a temporary view
    (``conn``: any DB-API connection, ODBC or ADBC)."""
    cur = conn.cursor()
    cur.execute(f"CREATE TEMPORARY VIEW foundry_probe AS {base(query)}")
    cur.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = 'foundry_probe'::regclass AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum"
    )
    rows = cur.fetchall()
    cur.execute("DROP VIEW foundry_probe")
    cols = []
    for name, typ in rows:
        t = typ.lower()
        root = t.split("(")[0].strip()
        text = root in _PG_TEXT and not (root == "numeric" and "(" in t)
        cols.append(Column(name, t, text=text, binary=root == "bytea", length=_declared(root, t)))
    return cols


def _declared(root: str, type_name: str) -> int | None:
    """The declared width of a bounded text type: varchar(40) → 40, uuid → 36."""
    if root == "uuid":
        return 36
    if root in ("character varying", "character") and type_name.endswith(")"):
        return int(type_name[type_name.index("(") + 1 : -1])
    return None


def _pg_shape(cols: list[Column]) -> Shape:
    shape = Shape(cols, postgres=True, projection=[])
    assert shape.projection is not None
    for c in cols:
        col = f"q.{quote(c.name)}"
        if c.type.startswith("timestamp") and c.type.endswith("with time zone"):
            # the session time zone must not leak into values: read UTC, label it UTC
            shape.projection.append(f"({col} AT TIME ZONE 'UTC') AS {quote(c.name)}")
            shape.utc_columns.append(c.name)
        elif c.type in {"numeric", "uuid"}:
            # unconstrained numeric has no Arrow decimal that holds it exactly; psqlODBC
            # would report it as numeric(28,6) and round. uuid: keep PostgreSQL's lower case
            shape.projection.append(f"CAST({col} AS text) AS {quote(c.name)}")
        else:
            shape.projection.append(col)
            if c.type == "double precision":
                shape.double_columns.append(c.name)
    return shape
