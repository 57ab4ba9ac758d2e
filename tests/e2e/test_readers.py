"""What landed reads the same in DuckDB, Polars and ``pyarrow.dataset``.

One `foundry apply` lands every source kind (api, db, files, custom) in both formats
(parquet, csv) on local disk, partitioned hourly. Each reader reads each table with Hive
partitioning on; every reader must count the rows the commit recorded, and the column
types must agree across the three readers, but for the differences listed in
:data:`DIFFERENCES`, which docs/writing.md ("Reading what landed") explains.

Types are compared as Arrow types (each reader's result converted to Arrow), with the
differences that do not change a value's type left out: large/view variants of strings,
binaries and lists, list item names, and DuckDB's ``Etc/UTC`` label for UTC (it names
the session's time zone; without the ICU extension the session stays in ``Etc/UTC``).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from tests.e2e.helpers import AT, DATE, foundry, write_orders
from tests.fixtures.api_server import ApiServer
from tests.fixtures.databases import PostgresServer

KINDS = ("api", "db", "files", "custom")
FORMATS = ("parquet", "csv")
READERS = ("duckdb", "polars", "pyarrow")
DB_ENV = "FOUNDRY_TEST_READERS_PG"
DB_TABLE = "readers_types"

TYPED = '''
import datetime as dt
import decimal

import pyarrow as pa


class Typed:
    """Every Arrow type a custom source commonly yields."""

    def extract(self, ctx):
        n = 30
        yield pa.table({
            "id": pa.array(range(n), pa.int64()),
            "i32": pa.array(range(n), pa.int32()),
            "f": pa.array([i / 4 for i in range(n)], pa.float64()),
            "s": pa.array([f"s{i}" for i in range(n)], pa.string()),
            "b": pa.array([i % 2 == 0 for i in range(n)], pa.bool_()),
            "d": pa.array([dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(n)]),
            "ts": pa.array(
                [dt.datetime(2025, 1, 1, 10) + dt.timedelta(hours=i) for i in range(n)],
                pa.timestamp("us"),
            ),
            "tsz": pa.array(
                [dt.datetime(2025, 1, 1, 10, tzinfo=dt.timezone.utc) + dt.timedelta(hours=i)
                 for i in range(n)],
                pa.timestamp("us", "UTC"),
            ),
            "dec": pa.array([decimal.Decimal(i) / 4 for i in range(n)], pa.decimal128(10, 2)),
            "tags": pa.array([[f"t{j}" for j in range(i % 3)] for i in range(n)]),
            "owner": pa.array([{"login": f"u{i}", "team": i % 4} for i in range(n)]),
        })
'''

# partition columns: Hive paths carry no types, so each reader infers its own, and
# Polars reads no partition columns from CSV (its scan_csv has no hive_partitioning)
_PARQUET_PARTITIONS = {"dt": ("date32[day]", "date32[day]", "string"),
                       "hour": ("int64", "int64", "int32")}
_CSV_PARTITIONS = {"dt": ("date32[day]", None, "string"), "hour": ("int64", None, "int32"),
                   "system": ("string", None, "string"), "table": ("string", None, "string")}
#: (kind, format) → {column: (duckdb, polars, pyarrow)} for the columns whose types differ
DIFFERENCES: dict[tuple[str, str], dict[str, tuple[str | None, ...]]] = {
    ("api", "parquet"): _PARQUET_PARTITIONS,
    ("db", "parquet"): _PARQUET_PARTITIONS,
    ("files", "parquet"): _PARQUET_PARTITIONS,
    ("custom", "parquet"): _PARQUET_PARTITIONS,
    # CSV carries no types: each reader infers them from the text
    ("api", "csv"): {
        **_CSV_PARTITIONS,
        "updated_at": ("timestamp[us, tz=UTC]", "timestamp[us, tz=UTC]", "timestamp[s, tz=UTC]"),
    },
    ("db", "csv"): {
        **_CSV_PARTITIONS,
        "at": ("timestamp[us]", "timestamp[us]", "timestamp[s]"),
        "at_tz": ("timestamp[us, tz=UTC]", "timestamp[us, tz=UTC]", "timestamp[s, tz=UTC]"),
    },
    ("files", "csv"): _CSV_PARTITIONS,
    ("custom", "csv"): {
        **_CSV_PARTITIONS,
        "ts": ("timestamp[us]", "timestamp[us]", "timestamp[s]"),
        "tsz": ("timestamp[us, tz=UTC]", "timestamp[us, tz=UTC]", "timestamp[s, tz=UTC]"),
    },
}


def _project(folder: Path, api: ApiServer) -> Path:
    write_orders(folder / "data", files=2, rows_per_file=50)
    (folder / "typed.py").write_text(TYPED)
    sources = {
        "api": f'source api {{\n    base_url = "{api.url}"\n    endpoint = "/offset"\n'
               '    records = "data"\n    paginate offset {\n      limit = 100\n'
               '      total_path = "total"\n    }\n  }',
        "db": f'source db {{\n    connection = env("{DB_ENV}")\n'
              f'    query = "SELECT * FROM {DB_TABLE}"\n  }}',
        "files": 'source files {\n    paths = ["data/*.csv"]\n    format = csv\n  }',
        "custom": 'source custom {\n    module = "typed"\n    class_name = "Typed"\n  }',
    }
    text = ""
    for fmt in FORMATS:
        text += (f'platform lake_{fmt} {{\n  storage local {{\n    path = "out_{fmt}"\n  }}\n'
                 f"  partition = hourly\n  formats = [{fmt}]\n}}\n\n")
        for kind, source in sources.items():
            text += f"pipeline {kind}.items_{fmt} {{\n  platform = lake_{fmt}\n  {source}\n}}\n\n"
    (folder / "readers.bronze").write_text(text)
    return folder


@pytest.fixture(scope="module")
def landed(
    tmp_path_factory: pytest.TempPathFactory, api_server: ApiServer, postgres: PostgresServer
) -> Path:
    postgres.psql(
        f"DROP TABLE IF EXISTS {DB_TABLE}; CREATE TABLE {DB_TABLE} (id bigint, name text, "
        "amount numeric(10,2), ratio double precision, active boolean, day date, at timestamp, "
        "at_tz timestamptz, n int, small smallint, blob bytea, uid uuid);"
        f"INSERT INTO {DB_TABLE} SELECT i, 'n' || i, i * 1.25, i / 3.0, i % 2 = 0, "
        "date '2025-01-01' + i, timestamp '2025-01-01 10:00' + i * interval '1 hour', "
        "timestamptz '2025-01-01 10:00+00' + i * interval '1 hour', i, i, '\\x00ff'::bytea, "
        "md5(i::text)::uuid FROM generate_series(1, 20) i"
    )
    folder = _project(tmp_path_factory.mktemp("readers"), api_server)
    out = foundry(folder, "apply", "readers.bronze", "--date", DATE, "--at", AT,
                  env={DB_ENV: postgres.conn_str()})
    assert out.returncode == 0, out.stderr + out.stdout
    return folder


def _root(folder: Path, fmt: str) -> Path:
    return folder / f"out_{fmt}"


def _table_dir(folder: Path, kind: str, fmt: str) -> Path:
    return _root(folder, fmt) / f"system={kind}" / f"table=items_{fmt}"


def read(reader: str, folder: Path, kind: str, fmt: str) -> pa.Table:
    """The table as ``reader`` reads it with Hive partitioning on, as Arrow."""
    table = _table_dir(folder, kind, fmt)
    glob = f"{table}/**/*.{fmt}"
    if reader == "duckdb":
        fn = "read_parquet" if fmt == "parquet" else "read_csv"
        result = duckdb.connect().sql(f"SELECT * FROM {fn}('{glob}', hive_partitioning=true)").arrow()
        return result.read_all() if isinstance(result, pa.RecordBatchReader) else result
    if reader == "polars":
        if fmt == "parquet":
            return pl.scan_parquet(glob, hive_partitioning=True).collect().to_arrow()
        return pl.scan_csv(glob, try_parse_dates=True).collect().to_arrow()
    files = sorted(str(p) for p in table.rglob(f"*.{fmt}"))
    return ds.dataset(files, format=fmt, partitioning="hive",
                      partition_base_dir=str(_root(folder, fmt))).to_table()


def normal(t: pa.DataType) -> pa.DataType:
    """``t`` without the differences that do not change a value's type."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(normal(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, normal(f.type)) for f in t])
    if pa.types.is_dictionary(t):
        return normal(t.value_type)
    if pa.types.is_timestamp(t) and t.tz == "Etc/UTC":
        return pa.timestamp(t.unit, "UTC")
    return t


def types(table: pa.Table) -> dict[str, str]:
    return {f.name: str(normal(f.type)) for f in table.schema}


def committed_records(folder: Path, kind: str, fmt: str) -> int:
    (meta,) = _table_dir(folder, kind, fmt).rglob("_metadata.json")
    total: int = json.loads(meta.read_text())["total_records"]
    return total


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_reader_counts_the_rows_the_commit_recorded(landed: Path, kind: str, fmt: str) -> None:
    counts = [read(r, landed, kind, fmt).num_rows for r in READERS]
    assert counts == [committed_records(landed, kind, fmt)] * 3


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_readers_agree_on_every_column_type_but_the_documented_ones(
    landed: Path, kind: str, fmt: str
) -> None:
    seen = [types(read(r, landed, kind, fmt)) for r in READERS]
    columns = sorted(set().union(*seen))
    differ = {
        c: tuple(s.get(c) for s in seen)
        for c in columns
        if len({s.get(c) for s in seen}) > 1
    }
    assert differ == DIFFERENCES[(kind, fmt)]


def test_parquet_keeps_the_source_types(landed: Path) -> None:
    """The types the readers agree on are the source's own: one table as a check."""
    got = types(read("pyarrow", landed, "custom", "parquet"))
    assert got == {
        "id": "int64", "i32": "int32", "f": "double", "s": "string", "b": "bool",
        "d": "date32[day]", "ts": "timestamp[us]", "tsz": "timestamp[us, tz=UTC]",
        "dec": "decimal128(10, 2)", "tags": "list<item: string>",
        "owner": "struct<login: string, team: int64>",
        "system": "string", "table": "string", "dt": "string", "hour": "int32",
    }
