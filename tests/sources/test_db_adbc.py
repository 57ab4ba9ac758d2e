"""PostgreSQL through ADBC (binary COPY): chosen for a postgresql:// URL or driver = adbc,
landing what the ODBC path lands, streamed, with bound parameters, ranges and redacted errors."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from foundry_dsl.errors import ExtractError
from foundry_dsl.frontends.load import load
from foundry_dsl.sources.base import NewCursor
from foundry_dsl.sources.db import DbExtractor
from foundry_dsl.sources.sql import adbc
from tests.fixtures.databases import PG_PASSWORD, free_port
from tests.frontends.medallion.helpers import change, one
from tests.sources.db_helpers import context, pipeline, run
from tests.sources.test_db_types import BIG, COLUMNS, EXPECTED_TYPES, ROWS

UTC = dt.timezone.utc
PATHS = ["odbc", "adbc"]


@pytest.fixture
def env(postgres, monkeypatch, request) -> str:  # type: ignore[no-untyped-def]
    """An env variable holding the server's connection for the path ``request.param``:
    an ODBC connection string, or a postgresql:// URL."""
    monkeypatch.setenv("FOUNDRY_TEST_PG_PATH", postgres.conn_str() if request.param == "odbc" else postgres.url())
    return "FOUNDRY_TEST_PG_PATH"


@pytest.fixture(scope="module")
def typed(postgres):  # type: ignore[no-untyped-def]
    """test_db_types' rows, landed through each path: {"odbc": table, "adbc": table}."""
    postgres.psql(f"DROP TABLE IF EXISTS adbc_types; CREATE TABLE adbc_types ({COLUMNS})")
    marks = ", ".join(["?"] * 19)
    for row in ROWS:
        vals = [json.dumps(v) if isinstance(v, dict) else str(v) if isinstance(v, uuid.UUID | decimal.Decimal)
                else v.isoformat() if isinstance(v, dt.date | dt.time) else v for v in row]
        postgres.execute(f"INSERT INTO adbc_types VALUES ({marks})", vals)
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("ODBC_CONN", postgres.conn_str())
        mp.setenv("ADBC_URL", postgres.url())
        query = "SELECT * FROM adbc_types ORDER BY id"
        return {"odbc": run(pipeline("ODBC_CONN", query))[0], "adbc": run(pipeline("ADBC_URL", query))[0]}
    finally:
        mp.undo()


def _link(env: str, driver: str = "auto") -> str:
    return DbExtractor(pipeline(env, "SELECT 1", driver=driver).source).link.name  # type: ignore[arg-type]


# --- which path ------------------------------------------------------------------------


def test_a_postgresql_url_reads_through_adbc(pg_url_env) -> None:  # type: ignore[no-untyped-def]
    assert _link(pg_url_env) == "adbc"


def test_a_connection_string_reads_through_odbc(pg_env) -> None:  # type: ignore[no-untyped-def]
    assert _link(pg_env) == "odbc"


def test_driver_adbc_reads_a_psqlodbc_connection_string_through_adbc(postgres, pg_env) -> None:  # type: ignore[no-untyped-def]
    postgres.psql("DROP TABLE IF EXISTS via; CREATE TABLE via (id int); INSERT INTO via VALUES (1), (2)")
    p = pipeline(pg_env, "SELECT * FROM via ORDER BY id", driver="adbc")
    assert (_link(pg_env, "adbc"), run(p)[0].to_pylist()) == ("adbc", [{"id": 1}, {"id": 2}])


def test_driver_odbc_reads_a_url_through_psqlodbc(postgres, pg_url_env) -> None:  # type: ignore[no-untyped-def]
    postgres.psql("DROP TABLE IF EXISTS via; CREATE TABLE via (id int); INSERT INTO via VALUES (1), (2)")
    p = pipeline(pg_url_env, "SELECT * FROM via ORDER BY id", driver="odbc")
    assert (_link(pg_url_env, "odbc"), run(p)[0].to_pylist()) == ("odbc", [{"id": 1}, {"id": 2}])


def test_a_forced_driver_shows_in_the_plan() -> None:
    source = pipeline("DB", "SELECT 1", driver="odbc").source
    assert DbExtractor.describe(source) == 'db env("DB"): SELECT 1, driver odbc'  # type: ignore[arg-type]


def test_driver_is_a_bronze_setting(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "p.bronze").write_text(
        'platform dev {\n  storage local {\n    path = "./out"\n  }\n}\n'
        'pipeline a.b {\n  platform = dev\n  source db {\n    connection = env("DB")\n'
        '    query = "SELECT 1"\n    driver = adbc\n  }\n}\n'
    )
    monkeypatch.chdir(tmp_path)
    assert load(["p.bronze"]).pipelines[0].source.driver == "adbc"  # type: ignore[union-attr]


def test_driver_is_a_yaml_setting() -> None:
    example = Path(__file__).parents[1] / "frontends" / "medallion" / "spec_examples" / "db_example.yaml"
    text = change("  db:\n", '  db:\n    driver: "odbc"\n', example.read_text())
    assert one(text).source.driver == "odbc"  # type: ignore[union-attr]


# --- types -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_every_sql_type_lands_as_its_exact_arrow_type(typed, path: str) -> None:  # type: ignore[no-untyped-def]
    assert {f.name: f.type for f in typed[path].schema} == EXPECTED_TYPES


def test_adbc_lands_the_same_values_as_odbc(typed) -> None:  # type: ignore[no-untyped-def]
    assert typed["adbc"].to_pylist() == typed["odbc"].to_pylist()


def test_adbc_reads_edge_values_back_equal(typed) -> None:  # type: ignore[no-untyped-def]
    got = typed["adbc"].to_pylist()
    assert (got[0]["dec"], got[1]["dec"], got[0]["txt"]) == (ROWS[0][4], ROWS[1][4], BIG)
    assert (got[0]["tstz"], got[1]["day"], got[0]["bin"]) == (
        dt.datetime(2024, 2, 29, 18, 0, 0, 123456, tzinfo=UTC), dt.date(1, 1, 1), b"\x00\xff" * 1000)
    assert got[2] == {name: (3 if name == "id" else None) for name in EXPECTED_TYPES}


@pytest.mark.parametrize("env", PATHS, indirect=True)
def test_numeric_12_2_lands_as_decimal128_12_2_exactly(postgres, env) -> None:  # type: ignore[no-untyped-def]
    postgres.psql("DROP TABLE IF EXISTS money_t; CREATE TABLE money_t (id int, amount numeric(12,2));"
                  "INSERT INTO money_t VALUES (1, 9999999999.99), (2, -0.01), (3, NULL), (4, 7)")
    table, _, _ = run(pipeline(env, "SELECT * FROM money_t ORDER BY id"))
    assert table.schema.field("amount").type == pa.decimal128(12, 2)
    assert table.column("amount").to_pylist() == [
        decimal.Decimal("9999999999.99"), decimal.Decimal("-0.01"), None, decimal.Decimal("7.00")]


@pytest.mark.parametrize("env", PATHS, indirect=True)
def test_types_without_an_exact_arrow_type_land_as_their_text(postgres, env) -> None:  # type: ignore[no-untyped-def]
    postgres.psql(
        "DROP TABLE IF EXISTS loose; DROP TYPE IF EXISTS mood; CREATE TYPE mood AS ENUM ('sad', 'ok');"
        "CREATE TABLE loose (n50 numeric(50,10), iv interval, arr int[], m mood, ip inet);"
        "INSERT INTO loose VALUES (1.5, '1 day 02:00', '{1,2}', 'ok', '10.0.0.1')"
    )
    table, _, _ = run(pipeline(env, "SELECT * FROM loose"))
    assert table.schema == pa.schema([(n, pa.string()) for n in ("n50", "iv", "arr", "m", "ip")])
    assert table.to_pylist() == [
        {"n50": "1.5000000000", "iv": "1 day 02:00:00", "arr": "{1,2}", "m": "ok", "ip": "10.0.0.1"}]


def test_timestamptz_keeps_its_instant_whatever_the_session_time_zone(postgres, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    postgres.psql("DROP TABLE IF EXISTS zoned; CREATE TABLE zoned (at timestamptz);"
                  "INSERT INTO zoned VALUES ('2025-03-01 12:00:00+00')")
    monkeypatch.setenv("ZONED_URL", postgres.url() + "?options=-c%20TimeZone%3DAsia%2FKolkata")
    table, cursor, _ = run(pipeline("ZONED_URL", "SELECT * FROM zoned", incremental_key="at"),
                           "2025-03-01T11:59:59+00:00")
    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert (table.column("at").to_pylist(), cursor) == (
        [dt.datetime(2025, 3, 1, 12, tzinfo=UTC)], "2025-03-01T12:00:00+00:00")


def test_an_empty_result_yields_a_zero_row_batch_with_the_schema(postgres, pg_url_env) -> None:  # type: ignore[no-untyped-def]
    postgres.psql("DROP TABLE IF EXISTS empty_a; CREATE TABLE empty_a (id bigint, amount numeric(12,2), at timestamptz)")
    table, cursor, _ = run(pipeline(pg_url_env, "SELECT * FROM empty_a"))
    assert (table.num_rows, cursor) == (0, None)
    assert table.schema == pa.schema(
        [("id", pa.int64()), ("amount", pa.decimal128(12, 2)), ("at", pa.timestamp("us", tz="UTC"))])


# --- streaming -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide(postgres):  # type: ignore[no-untyped-def]
    # ~45 MB of rows: far more than the socket buffers between client and server
    postgres.psql("DROP TABLE IF EXISTS wide; CREATE TABLE wide (id bigint, pad text);"
                  "INSERT INTO wide SELECT g, repeat('x', 100) FROM generate_series(1, 400000) g")
    return postgres


def test_rows_stream_through_copy_while_the_server_still_sends(wide, pg_url_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(adbc, "HINT_BYTES", 64 * 1024)
    p = pipeline(pg_url_env, "SELECT * FROM wide", incremental_key="id")
    items = DbExtractor(p.source).extract(context(p, cursor="0"))  # type: ignore[arg-type]
    first = next(items)
    # the cursor is a bound parameter and yet the read is COPY, still sending: not buffered
    active = wide.psql("SELECT state || ' ' || query FROM pg_stat_activity "
                       "WHERE pid <> pg_backend_pid() AND query LIKE 'COPY (%wide%'")
    items.close()
    assert first.num_rows > 0
    assert active.startswith("active COPY (SELECT ")
    assert "(SELECT CAST(current_setting('foundry.p1') AS bigint))" in active


def test_batches_hold_at_most_batch_size_rows(wide, pg_url_env) -> None:  # type: ignore[no-untyped-def]
    p = pipeline(pg_url_env, "SELECT * FROM wide WHERE id <= 25000", batch_size=10_000)
    ex = DbExtractor(p.source)  # type: ignore[arg-type]
    sizes = [b.num_rows for b in ex.extract(context(p)) if not isinstance(b, NewCursor)]
    assert sizes == [10_000, 10_000, 5_000]


# --- incremental windows and ranges ----------------------------------------------------


@pytest.fixture
def events(postgres):  # type: ignore[no-untyped-def]
    postgres.psql("DROP TABLE IF EXISTS a_events; CREATE TABLE a_events (id int, note text, changed timestamptz, seq bigint);")
    return postgres


def _ids(table: pa.Table) -> list[int]:
    return sorted(table.column("id").to_pylist())


def test_an_incremental_run_lands_the_rows_after_the_cursor(events, pg_url_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO a_events VALUES (1, 'a', '2025-01-01 10:00+00', 1), "
                "(2, 'b', '2025-01-01 11:00:00.654321+02', 2), (3, 'c', '2025-01-02 00:00+00', 3)")
    p = pipeline(pg_url_env, "SELECT * FROM a_events", incremental_key="changed")
    table, cursor, _ = run(p, "2025-01-01T09:00:00.654321+00:00")
    assert (_ids(table), cursor) == ([1, 3], "2025-01-02T00:00:00+00:00")


def test_the_cursor_is_bound_so_quotes_are_harmless(events, pg_url_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO a_events VALUES (1, 'x''y', now(), 1), (2, 'z', now(), 2)")
    table, cursor, _ = run(pipeline(pg_url_env, "SELECT * FROM a_events", incremental_key="note"), "x' OR '1'='1")
    assert (_ids(table), cursor) == ([1, 2], "z")


def test_a_replayed_window_is_bounded_above(events, pg_url_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO a_events SELECT g, 'n', now(), g FROM generate_series(1, 12) g")
    p = pipeline(pg_url_env, "SELECT * FROM a_events", incremental_key="seq")
    table, cursor, _ = run(p, "3", until="9")
    assert (_ids(table), cursor) == ([4, 5, 6, 7, 8, 9], "9")


def test_rows_with_a_null_key_are_counted(events, pg_url_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO a_events VALUES (1, 'a', NULL, 1), (2, 'b', NULL, 2), (3, 'c', now(), 3)")
    p = pipeline(pg_url_env, "SELECT * FROM a_events", incremental_key="changed")
    assert run(p, "2000-01-01T00:00:00+00:00")[2] == {"null_incremental_key_rows": 2}


def test_range_partitions_inside_a_window_land_every_row_once(events, pg_url_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO a_events SELECT g, 'n', now(), g FROM generate_series(1, 1000) g;"
                "INSERT INTO a_events VALUES (NULL, 'null id', now(), 500)")
    p = pipeline(pg_url_env, "SELECT * FROM a_events", incremental_key="seq", partition_column="id", partitions=3)
    table, cursor, _ = run(p, "100", until="900")
    assert (sorted(table.column("id").to_pylist(), key=lambda i: -1 if i is None else i), cursor) == (
        [None, *range(101, 901)], "900")


def test_ranges_over_a_column_of_nulls_land_every_row(events, pg_url_env) -> None:  # type: ignore[no-untyped-def]
    # no MIN/MAX, so the cut points are NULL parameters: every row goes to part 0
    events.psql("INSERT INTO a_events VALUES (1, 'a', NULL, 1), (2, 'b', NULL, 2)")
    p = pipeline(pg_url_env, "SELECT * FROM a_events", partition_column="changed", partitions=3)
    assert _ids(run(p)[0]) == [1, 2]


# --- errors and secrets ----------------------------------------------------------------


def _render(err: ExtractError, port: int) -> str:
    return err.render().replace(f":{port}/", ":<port>/").replace(f"port {port}", "port <port>")


def test_a_refused_password_is_terminal_and_never_shown(postgres, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BAD_URL", postgres.url(password="wr0ng-s3cret/pw"))
    with pytest.raises(ExtractError) as err:
        run(pipeline("BAD_URL", "SELECT 1"))
    assert (err.value.transient, _render(err.value, postgres.port)) == (False, (
        "error: pipeline shop.orders: database error while connecting: IO: [libpq] Failed to connect: "
        'connection to server at "127.0.0.1", port <port> failed: FATAL: password authentication failed '
        'for user "postgres"\n'
        "  connection: postgresql://***@127.0.0.1:<port>/foundry\n"
        "  next: check the user and password in the connection string; retrying will not help"))


def test_a_refused_connection_is_transient(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    port = free_port()  # nothing listens there
    monkeypatch.setenv("DOWN_URL", f"postgresql://postgres:s3cret-pw@127.0.0.1:{port}/foundry")
    with pytest.raises(ExtractError) as err:
        run(pipeline("DOWN_URL", "SELECT 1"))
    assert err.value.transient is True
    assert "s3cret-pw" not in err.value.render()
    assert _render(err.value, port).endswith(
        "  connection: postgresql://***@127.0.0.1:<port>/foundry\n"
        "  next: check the connection string and that the database is reachable")


def test_a_bad_query_names_the_relation_and_is_terminal(pg_url_env, postgres) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExtractError) as err:
        run(pipeline(pg_url_env, "SELECT * FROM no_such_table"))
    assert (err.value.transient, _render(err.value, postgres.port)) == (False, (
        "error: pipeline shop.orders: database error while describing the query: NOT_FOUND: [libpq] "
        "Failed to execute query 'CREATE TEMPORARY VIEW foundry_probe AS SELECT * FROM no_such_table': "
        'ERROR: relation "no_such_table" does not exist (SQLSTATE 42P01)\n'
        "  connection: postgresql://***@127.0.0.1:<port>/foundry\n"
        "  next: check the query; run it in a SQL client with the same connection"))


def test_secrets_are_the_url_and_its_password_encoded_and_decoded(pg_url_env, postgres) -> None:  # type: ignore[no-untyped-def]
    secrets = DbExtractor(pipeline(pg_url_env, "SELECT 1").source).secrets()  # type: ignore[arg-type]
    assert {postgres.url(), PG_PASSWORD, "Pa55-w0rd%21s3cret"} <= set(secrets)


def test_a_missing_adbc_driver_says_which_extra_to_install(pg_url_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "adbc_driver_postgresql", None)  # import fails as if absent
    with pytest.raises(ExtractError) as err:
        run(pipeline(pg_url_env, "SELECT 1"))
    assert err.value.render().splitlines()[0] == (
        "error: pipeline shop.orders: the PostgreSQL ADBC driver is not installed: "
        "pip install 'foundry-dsl[postgres]' (or set driver = odbc)")
