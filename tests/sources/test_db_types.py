"""Every SQL type lands as its exact Arrow type and reads back equal, NULLs included."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pyarrow as pa
import pytest

from tests.sources.db_helpers import pipeline, run

UTC = dt.timezone.utc
BIG = "ü" * 10 + "x" * (1024 * 1024)  # 1 MB, unicode included
MAX_DEC = decimal.Decimal("9" * 28 + "." + "9" * 10)
MIN_DEC = decimal.Decimal("-" + "9" * 28 + "." + "9" * 10)
U = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")

COLUMNS = """
    id int primary key, i2 smallint, i4 integer, i8 bigint, dec numeric(38,10), num numeric,
    r real, d double precision, b boolean, day date, t time, ts timestamp, tstz timestamptz,
    txt text, vc varchar(20), bin bytea, j json, jb jsonb, u uuid
"""
EXPECTED_TYPES = {
    "id": pa.int32(), "i2": pa.int16(), "i4": pa.int32(), "i8": pa.int64(),
    "dec": pa.decimal128(38, 10), "num": pa.string(), "r": pa.float32(), "d": pa.float64(),
    "b": pa.bool_(), "day": pa.date32(), "t": pa.time64("us"), "ts": pa.timestamp("us"),
    "tstz": pa.timestamp("us", tz="UTC"), "txt": pa.string(), "vc": pa.string(),
    "bin": pa.binary(), "j": pa.string(), "jb": pa.string(), "u": pa.string(),
}
ROWS = [
    (1, 32767, 2147483647, 9223372036854775807, MAX_DEC, decimal.Decimal("123456789012345678901234567890.123456789"),
     1.5, 1.7976931348623157e308, True, dt.date(9999, 12, 31), dt.time(23, 59, 59, 999999),
     dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(2024, 2, 29, 23, 30, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
     BIG, "héllo wörld ✓", b"\x00\xff" * 1000, '{"a": [1, 2]}', {"k": "v"}, U),
    (2, -32768, -2147483648, -9223372036854775808, MIN_DEC, decimal.Decimal("0.000000000001"),
     -0.0, 5e-324, False, dt.date(1, 1, 1), dt.time(0, 0),
     dt.datetime(1, 1, 1, 0, 0), dt.datetime(1970, 1, 1, tzinfo=UTC),
     "", "", b"", "[]", {}, uuid.UUID(int=0)),
    (3, *([None] * 18)),
]


@pytest.fixture(scope="module")
def landed(postgres):  # type: ignore[no-untyped-def]
    import json

    postgres.psql(f"DROP TABLE IF EXISTS all_types; CREATE TABLE all_types ({COLUMNS})")
    marks = ", ".join(["?"] * 19)
    for row in ROWS:
        vals = [json.dumps(v) if isinstance(v, dict) else str(v) if isinstance(v, uuid.UUID | decimal.Decimal) else v.isoformat() if isinstance(v, dt.date | dt.time) else v for v in row]
        postgres.execute(f"INSERT INTO all_types VALUES ({marks})", vals)
    mp = pytest.MonkeyPatch()
    mp.setenv("FOUNDRY_TEST_PG", postgres.conn_str())
    try:
        table, _, _ = run(pipeline("FOUNDRY_TEST_PG", "SELECT * FROM all_types ORDER BY id"))
    finally:
        mp.undo()
    return table


def test_every_sql_type_maps_to_its_exact_arrow_type(landed: pa.Table) -> None:
    assert {f.name: f.type for f in landed.schema} == EXPECTED_TYPES


def test_edge_values_read_back_equal(landed: pa.Table) -> None:
    got = landed.to_pylist()[:2]
    for row, exp in zip(got, ROWS[:2], strict=True):
        exp_d = dict(zip(EXPECTED_TYPES, exp, strict=True))
        exp_d["num"] = format(exp_d["num"], "f")  # exact digits, as text
        exp_d["tstz"] = exp_d["tstz"].astimezone(UTC)
        exp_d["jb"] = '{"k": "v"}' if exp_d["id"] == 1 else "{}"
        exp_d["u"] = str(exp_d["u"])
        exp_d["r"] = float(exp_d["r"])
        assert row == exp_d


def test_one_megabyte_text_is_not_truncated(landed: pa.Table) -> None:
    assert landed.column("txt")[0].as_py() == BIG


def test_nulls_in_every_type(landed: pa.Table) -> None:
    assert landed.to_pylist()[2] == {name: (3 if name == "id" else None) for name in EXPECTED_TYPES}


def test_empty_result_yields_a_zero_row_batch_with_the_schema(postgres, pg_env) -> None:  # type: ignore[no-untyped-def]
    postgres.psql("DROP TABLE IF EXISTS empty_t; CREATE TABLE empty_t (id bigint, at timestamptz)")
    table, cursor, _ = run(pipeline(pg_env, "SELECT * FROM empty_t"))
    assert table.num_rows == 0
    assert table.schema == pa.schema([("id", pa.int64()), ("at", pa.timestamp("us", tz="UTC"))])
    assert cursor is None


def test_sqlite_through_libsqliteodbc(sqlite_db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sqlite_db.execute_script(
        "CREATE TABLE t (id INTEGER, name TEXT, amount REAL);"
        "INSERT INTO t VALUES (1, 'ä', 1.5), (2, NULL, NULL), (3, 'long', 2.25);"
    )
    monkeypatch.setenv("FOUNDRY_TEST_SQLITE", sqlite_db.conn_str())
    table, cursor, _ = run(pipeline("FOUNDRY_TEST_SQLITE", "SELECT * FROM t ORDER BY id", incremental_key="id"))
    assert table.to_pylist() == [
        {"id": 1, "name": "ä", "amount": 1.5},
        {"id": 2, "name": None, "amount": None},
        {"id": 3, "name": "long", "amount": 2.25},
    ]
    assert cursor == "3"


def test_declared_width_text_holds_four_byte_characters(postgres, pg_env) -> None:  # type: ignore[no-untyped-def]
    # varchar(n)/char(n) are not probed: their buffers come from the declared width
    postgres.psql("DROP TABLE IF EXISTS narrow; CREATE TABLE narrow (v varchar(3), c char(2), u uuid);"
                  "INSERT INTO narrow VALUES ('😀😀😀', 'üü', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')")
    table, _, _ = run(pipeline(pg_env, "SELECT * FROM narrow"))
    assert table.to_pylist() == [{"v": "😀😀😀", "c": "üü", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}]
