"""Range-partitioned extraction: N parts land every row exactly once, NULLs included."""

from __future__ import annotations

import pytest

from foundry_dsl.sources.db import compute_ranges
from tests.sources.db_helpers import context, pipeline, run


@pytest.fixture(scope="module")
def gappy(postgres):  # type: ignore[no-untyped-def]
    # 100k rows: ids with gaps (every 7th id skipped, a hole from 40k to 60k), 500 NULL keys
    postgres.psql(
        "DROP TABLE IF EXISTS gappy; CREATE TABLE gappy (k bigint, id bigint);"
        "INSERT INTO gappy SELECT k, row_number() OVER () FROM ("
        " SELECT g AS k FROM generate_series(1, 150000) g WHERE g % 7 <> 0 AND g NOT BETWEEN 40000 AND 60000"
        " LIMIT 99500) s;"
        "INSERT INTO gappy SELECT NULL, 99500 + g FROM generate_series(1, 500) g;"
    )
    return postgres


@pytest.mark.parametrize("parts", [1, 3, 7])
def test_every_row_lands_exactly_once(gappy, pg_env, parts: int) -> None:  # type: ignore[no-untyped-def]
    p = pipeline(pg_env, "SELECT * FROM gappy", partition_column="k", partitions=parts, batch_size=20_000)
    table, _, _ = run(p, batch_id=f"parts-{parts}")
    ids = table.column("id").to_pylist()
    assert len(ids) == 100_000
    assert sorted(ids) == list(range(1, 100_001))


def test_explicit_bounds_narrower_than_the_data_lose_nothing(gappy, pg_env) -> None:  # type: ignore[no-untyped-def]
    p = pipeline(pg_env, "SELECT * FROM gappy", partition_column="k", partitions=3, partition_bounds=(50_000, 60_000))
    table, _, _ = run(p, batch_id="bounds")
    assert sorted(table.column("id").to_pylist()) == list(range(1, 100_001))


def test_compute_ranges_shows_open_ended_half_open_ranges(gappy, pg_env) -> None:  # type: ignore[no-untyped-def]
    p = pipeline(pg_env, "SELECT * FROM gappy", partition_column="k", partitions=3, partition_bounds=(0, 300))
    assert compute_ranges(p.source, context(p, batch_id="show")) == [(None, "100"), ("100", "200"), ("200", None)]  # type: ignore[arg-type]
