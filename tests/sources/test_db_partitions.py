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


def _part(p, ctx, part: int) -> list[int]:  # type: ignore[no-untyped-def]
    from foundry_dsl.sources.base import NewCursor
    from foundry_dsl.sources.db import DbExtractor

    ex = DbExtractor(p.source)
    return [i for b in ex.extract(ctx, part) if not isinstance(b, NewCursor) for i in b.column("id").to_pylist()]


def test_parts_given_one_prepare_read_disjoint_complete_ranges_while_rows_arrive(postgres, pg_env) -> None:  # type: ignore[no-untyped-def]
    import dataclasses
    import pickle

    from foundry_dsl.sources.db import DbExtractor

    postgres.psql("DROP TABLE IF EXISTS arriving; CREATE TABLE arriving (id bigint);"
                  "INSERT INTO arriving SELECT g FROM generate_series(1, 1000) g")
    p = pipeline(pg_env, "SELECT * FROM arriving", partition_column="id", partitions=2)
    ctx = context(p, batch_id="arriving")
    # as the executor does: prepare once, and the result travels (pickled) to each part
    prepared = pickle.loads(pickle.dumps(DbExtractor(p.source).prepare(ctx)))  # type: ignore[arg-type]
    ctx = dataclasses.replace(ctx, prepared=prepared)
    first = _part(p, ctx, 0)
    # rows inserted between the parts' reads must not move the cut point under the second part
    postgres.psql("INSERT INTO arriving SELECT g FROM generate_series(1001, 3000) g")
    second = _part(p, ctx, 1)
    assert max(first) < min(second)
    assert sorted(first + second) == list(range(1, 3001))


def test_direct_use_without_prepare_still_lands_every_row_once(gappy, pg_env) -> None:  # type: ignore[no-untyped-def]
    p = pipeline(pg_env, "SELECT * FROM gappy", partition_column="k", partitions=3, batch_size=50_000)
    table, _, _ = run(p, batch_id="direct", prepare=False)
    assert sorted(table.column("id").to_pylist()) == list(range(1, 100_001))
