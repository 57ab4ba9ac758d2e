"""Range splitting on every kind of key: timestamps, dates, decimals, text and a column
that is NULL throughout. First the cut points and conditions as values, then the same
keys in PostgreSQL, where every row must land in exactly one part."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.db import compute_ranges
from foundry_dsl.sources.sql.query import range_condition
from foundry_dsl.sources.sql.ranges import cut_points
from tests.sources.db_helpers import context, pipeline, run

UTC = dt.timezone.utc

# --- cut points ---------------------------------------------------------------------------


def test_integer_cuts_are_evenly_spaced_and_whole() -> None:
    assert cut_points(0, 10, 3) == [3, 6]
    assert cut_points(-5, 5, 2) == [0]


def test_timestamp_cuts_keep_microseconds_and_the_zone() -> None:
    low = dt.datetime(2025, 1, 1, tzinfo=UTC)
    high = dt.datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert cut_points(low, high, 4) == [
        dt.datetime(2025, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC),
        dt.datetime(2025, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC),
        dt.datetime(2025, 1, 1, 0, 0, 0, 750_000, tzinfo=UTC),
    ]


def test_timestamp_cuts_from_cursor_text() -> None:
    assert cut_points("2025-01-01T00:00:00", "2025-01-03T00:00:00", 2) == [
        dt.datetime(2025, 1, 2)]


def test_date_cuts_are_whole_days() -> None:
    assert cut_points(dt.date(2025, 1, 1), dt.date(2025, 1, 11), 3) == [
        dt.date(2025, 1, 4), dt.date(2025, 1, 7)]


def test_date_cuts_from_cursor_text() -> None:
    assert cut_points("2025-01-01", "2025-01-05", 2) == [dt.date(2025, 1, 3)]


def test_decimal_cuts_are_exact() -> None:
    assert cut_points(decimal.Decimal("0.10"), decimal.Decimal("0.40"), 3) == [
        decimal.Decimal("0.2"), decimal.Decimal("0.3")]


def test_float_cuts_are_decimals_of_the_float_as_written() -> None:
    assert cut_points(0.5, 2.0, 3) == [decimal.Decimal("1.0"), decimal.Decimal("1.5")]


def test_mixed_int_and_decimal_bounds_cut_as_decimals() -> None:
    assert cut_points(0, decimal.Decimal("1.5"), 3) == [
        decimal.Decimal("0.5"), decimal.Decimal("1.0")]


def test_an_all_null_or_empty_column_has_open_cuts() -> None:
    assert cut_points(None, None, 3) == [None, None]
    assert cut_points(None, 5, 2) == [None]


def test_one_part_has_no_cuts() -> None:
    assert cut_points(0, 100, 1) == []
    assert cut_points(None, None, 1) == []


@pytest.mark.parametrize(("low", "high", "kind"), [("abc", "xyz", "str"), (True, True, "bool"),
                                                   (b"a", b"z", "bytes")])
def test_keys_that_cannot_be_split_are_refused(low: object, high: object, kind: str) -> None:
    with pytest.raises(ValueError) as info:
        cut_points(low, high, 2)
    assert str(info.value) == f"cannot split a range of {kind} values ({low!r})"


# --- conditions ----------------------------------------------------------------------------


def test_the_first_part_is_open_below_and_takes_the_nulls() -> None:
    assert range_condition("k", 0, 3, ["10", "20"], "?") == (
        '(q."k" < ?) OR q."k" IS NULL', ["10"])


def test_a_middle_part_is_half_open() -> None:
    assert range_condition("k", 1, 3, ["10", "20"], "?") == ('q."k" >= ? AND q."k" < ?', ["10", "20"])


def test_the_last_part_is_open_above() -> None:
    assert range_condition("k", 2, 3, ["10", "20"], "CAST(? AS date)") == (
        'q."k" >= CAST(? AS date)', ["20"])


def test_one_part_has_no_condition() -> None:
    assert range_condition("k", 0, 1, [], "?") is None


# --- in PostgreSQL: every row exactly once ---------------------------------------------------

KEYS = {
    # (column type, SQL of the key for row g of 1..300, with NULLs every 50th row)
    "timestamp": ("timestamptz", "TIMESTAMPTZ '2025-01-01 00:00:00+00' + g * INTERVAL '37 minutes'"),
    "date": ("date", "DATE '2024-01-01' + g"),
    "decimal": ("numeric(12,3)", "g * 1.125"),
}


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_every_row_lands_once_when_splitting_on_a_key_of_each_kind(
        postgres, pg_env, kind: str) -> None:  # type: ignore[no-untyped-def]
    sql_type, expr = KEYS[kind]
    postgres.psql(
        f"DROP TABLE IF EXISTS split_{kind}; CREATE TABLE split_{kind} (k {sql_type}, id int);"
        f"INSERT INTO split_{kind} SELECT CASE WHEN g % 50 = 0 THEN NULL ELSE {expr} END, g "
        "FROM generate_series(1, 300) g"
    )
    p = pipeline(pg_env, f"SELECT * FROM split_{kind}", partition_column="k", partitions=4)
    ranges = compute_ranges(p.source, context(p))  # type: ignore[arg-type]
    assert len(ranges) == 4 and ranges[0][0] is None and ranges[-1][1] is None
    table, _, _ = run(p, batch_id=f"split-{kind}")
    assert sorted(table.column("id").to_pylist()) == list(range(1, 301))


def test_an_all_null_key_lands_every_row_in_the_first_part(postgres, pg_env) -> None:  # type: ignore[no-untyped-def]
    postgres.psql("DROP TABLE IF EXISTS all_null; CREATE TABLE all_null (k bigint, id int);"
                  "INSERT INTO all_null SELECT NULL, g FROM generate_series(1, 100) g")
    p = pipeline(pg_env, "SELECT * FROM all_null", partition_column="k", partitions=3)
    assert compute_ranges(p.source, context(p)) == [(None, None)] * 3  # type: ignore[arg-type]
    table, _, _ = run(p, batch_id="all-null")
    assert sorted(table.column("id").to_pylist()) == list(range(1, 101))


def test_a_text_key_is_refused_naming_the_column(postgres, pg_env) -> None:  # type: ignore[no-untyped-def]
    postgres.psql("DROP TABLE IF EXISTS text_key; CREATE TABLE text_key (k text, id int);"
                  "INSERT INTO text_key VALUES ('apple', 1), ('pear', 2)")
    p = pipeline(pg_env, "SELECT * FROM text_key", partition_column="k", partitions=2)
    with pytest.raises(ExtractError) as info:
        run(p, batch_id="text")
    assert info.value.message == (
        "pipeline shop.orders: partition_column 'k': cannot split a range of str values "
        "('apple'); use a number, date or timestamp column"
    )
