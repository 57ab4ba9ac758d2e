"""Incremental loads: a bound cursor parameter, exactly the new rows, typed cursors."""

from __future__ import annotations

import pytest

from tests.sources.db_helpers import pipeline, run


@pytest.fixture
def events(postgres):  # type: ignore[no-untyped-def]
    postgres.psql(
        "DROP TABLE IF EXISTS events; CREATE TABLE events "
        "(id int, note text, changed timestamptz, seq bigint);"
    )
    return postgres


def _ids(table) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted(table.column("id").to_pylist())


def test_three_runs_land_exactly_the_new_rows_and_the_cursor_follows(events, pg_env) -> None:  # type: ignore[no-untyped-def]
    p = pipeline(pg_env, "SELECT * FROM events WHERE note <> 'hidden'", incremental_key="changed")
    events.psql("INSERT INTO events VALUES (1, 'a', '2025-01-01 10:00:00.123456+00', 1),"
                "(2, 'b', '2025-01-01 11:00:00.654321+02', 2), (3, 'hidden', '2025-01-02', 3)")
    t1, c1, _ = run(p)
    assert (_ids(t1), c1) == ([1, 2], "2025-01-01T10:00:00.123456+00:00")

    events.psql("INSERT INTO events VALUES (4, 'c', '2025-01-03 00:00:00.000001+00', 4);"
                "UPDATE events SET changed = '2025-01-02 12:00:00+00', note = 'a2' WHERE id = 1")
    t2, c2, _ = run(p, c1)
    assert (_ids(t2), c2) == ([1, 4], "2025-01-03T00:00:00.000001+00:00")

    t3, c3, _ = run(p, c2)
    assert (t3.num_rows, c3) == (0, None)  # nothing landed: the stored cursor is kept


def test_cursor_is_a_bound_parameter_so_quotes_are_harmless(events, pg_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO events VALUES (1, 'x''y', now(), 1), (2, 'z', now(), 2)")
    p = pipeline(pg_env, "SELECT * FROM events", incremental_key="note")
    table, cursor, _ = run(p, cursor="x' OR '1'='1")
    assert (_ids(table), cursor) == ([1, 2], "z")


def test_integer_cursor_compares_as_a_number(events, pg_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO events SELECT g, 'n', now(), g FROM generate_series(1, 12) g")
    table, cursor, _ = run(pipeline(pg_env, "SELECT * FROM events", incremental_key="seq"), "9")
    assert (_ids(table), cursor) == ([10, 11, 12], "12")


def test_lookback_rereads_the_window_before_the_cursor(events, pg_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO events VALUES (1, 'a', '2025-01-01 09:00+00', 1),"
                "(2, 'late', '2025-01-01 09:55+00', 2), (3, 'b', '2025-01-01 10:00+00', 3)")
    p = pipeline(pg_env, "SELECT * FROM events", incremental_key="changed", lookback=600)
    table, cursor, _ = run(p, "2025-01-01T10:00:00+00:00")
    # 09:55 is inside the 10-minute window; re-reading old rows never moves the cursor back
    assert (_ids(table), cursor) == ([2, 3], None)


def test_rows_with_a_null_key_are_counted_in_the_report(events, pg_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO events VALUES (1, 'a', NULL, 1), (2, 'b', NULL, 2), (3, 'c', now(), 3)")
    p = pipeline(pg_env, "SELECT * FROM events", incremental_key="changed")
    _, _, report = run(p, "2000-01-01T00:00:00+00:00")
    assert report == {"null_incremental_key_rows": 2}


def test_initial_cursor_applies_when_nothing_is_stored(events, pg_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO events SELECT g, 'n', now(), g FROM generate_series(1, 5) g")
    p = pipeline(pg_env, "SELECT * FROM events", incremental_key="seq", initial_cursor="3")
    table, cursor, _ = run(p)
    assert (_ids(table), cursor) == ([4, 5], "5")


def test_a_replayed_window_is_bounded_above_by_a_bound_parameter(events, pg_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO events SELECT g, 'n', now(), g FROM generate_series(1, 12) g")
    p = pipeline(pg_env, "SELECT * FROM events", incremental_key="seq")
    table, cursor, _ = run(p, "3", until="9")
    assert (_ids(table), cursor) == ([4, 5, 6, 7, 8, 9], "9")


def test_a_replayed_window_splits_into_range_partitions_inside_its_bounds(events, pg_env) -> None:  # type: ignore[no-untyped-def]
    events.psql("INSERT INTO events SELECT g, 'n', now(), g FROM generate_series(1, 40) g")
    p = pipeline(pg_env, "SELECT * FROM events", incremental_key="seq",
                 partition_column="id", partitions=3)
    table, cursor, _ = run(p, "10", until="20")
    assert (_ids(table), cursor) == (list(range(11, 21)), "20")
