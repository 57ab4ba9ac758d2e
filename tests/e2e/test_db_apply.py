"""`foundry apply` with a database source, end to end: a subprocess reads the session's
PostgreSQL through psqlODBC, lands Parquet on local storage, stores the cursor after
commit; DuckDB reads the partitions back with hive_partitioning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import DATE, foundry, metadata

ENV = "FOUNDRY_E2E_PG"
ROOT = f"system=shop/table=orders/dt={DATE}"


def _project(folder: Path, table: str, *, select: str = "id, customer, amount, updated_at", run: str = "") -> Path:
    (folder / "pipeline.bronze").write_text(f'''platform lake {{
  storage local {{
    path = "out"
  }}
  partition = batch_id
  formats = [parquet]
}}

pipeline shop.orders {{
  platform = lake
  source db {{
    connection = env("{ENV}")
    query = """
      SELECT {select}
      FROM {table}
      WHERE customer <> 'internal'
    """
    incremental_key = "updated_at"
    batch_size = 100
  }}
  run {{
    max_rows_per_file = 100
    {run}
  }}
}}
''')
    return folder


@pytest.fixture
def orders(postgres, request):  # type: ignore[no-untyped-def]
    """A fresh table for this test; its name is unique to the test."""
    table = "e2e_" + request.node.name.replace("[", "_").replace("]", "")[:50]
    postgres.psql(
        f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} "
        "(id int, customer text, amount numeric(10,2), updated_at timestamptz)"
    )
    return table


def _apply(folder: Path, postgres: Any, batch_id: str) -> Any:
    return foundry(
        folder, "apply", "pipeline.bronze", "--date", DATE, "--batch-id", batch_id,
        env={ENV: postgres.conn_str()}, timeout=180,
    )


def _landed(folder: Path, batch_id: str) -> list[tuple[Any, ...]]:
    """One partition's rows through hive_partitioning, as comparable text and integers."""
    import duckdb

    return sorted(duckdb.connect().sql(
        f"SELECT id, customer, CAST(amount AS VARCHAR), epoch_us(updated_at) "
        f"FROM read_parquet('{folder}/out/**/*.parquet', hive_partitioning=true) "
        f"WHERE batch_id = '{batch_id}'"
    ).fetchall())


def _table(postgres: Any, table: str, where: str) -> list[tuple[Any, ...]]:
    out = postgres.psql(
        f"SELECT id, customer, amount::text, (extract(epoch FROM updated_at) * 1000000)::bigint "
        f"FROM {table} WHERE customer <> 'internal' AND ({where})"
    )
    rows = [line.split("|") for line in out.splitlines() if line]
    return sorted((int(i), c, a, int(u)) for i, c, a, u in rows)


def _cursor(folder: Path, postgres: Any) -> str | None:
    out = foundry(folder, "state", "show", "shop.orders", "--file", "pipeline.bronze", env={ENV: postgres.conn_str()})
    assert out.returncode == 0, out.stderr
    if "no stored state" in out.stdout:
        return None
    return str(json.loads(out.stdout)["cursor"])


def test_three_runs_land_exactly_the_new_rows_and_store_the_cursor(tmp_path, postgres, orders) -> None:  # type: ignore[no-untyped-def]
    folder = _project(tmp_path, orders)
    postgres.psql(
        f"INSERT INTO {orders} SELECT g, 'c' || g, g * 1.25, TIMESTAMPTZ '2025-01-01 00:00:00.000001+00' "
        "+ g * INTERVAL '1 minute' FROM generate_series(1, 250) g;"
        f"INSERT INTO {orders} VALUES (999, 'internal', 1, '2030-01-01+00')"
    )
    first = _apply(folder, postgres, "r1")
    assert first.returncode == 0, first.stderr + first.stdout
    assert _landed(folder, "r1") == _table(postgres, orders, "true")
    assert _cursor(folder, postgres) == "2025-01-01T04:10:00.000001+00:00"

    # new rows, and an update that moves row 7's key past the cursor (offset +02:00 in, UTC out)
    postgres.psql(
        f"INSERT INTO {orders} VALUES (251, 'c251', 9.99, '2025-01-02 12:00:00.5+02');"
        f"UPDATE {orders} SET amount = 70.07, updated_at = '2025-01-02 09:30:00.123456+00' WHERE id = 7"
    )
    second = _apply(folder, postgres, "r2")
    assert second.returncode == 0, second.stderr + second.stdout
    assert _landed(folder, "r2") == _table(postgres, orders, "id IN (7, 251)")
    assert _cursor(folder, postgres) == "2025-01-02T10:00:00.500000+00:00"

    postgres.psql(f"INSERT INTO {orders} VALUES (252, 'c252', 0.01, '2025-01-03 00:00:00+00')")
    third = _apply(folder, postgres, "r3")
    assert third.returncode == 0, third.stderr + third.stdout
    assert _landed(folder, "r3") == _table(postgres, orders, "id = 252")
    assert _cursor(folder, postgres) == "2025-01-03T00:00:00+00:00"
    meta = metadata(tmp_path / "out" / ROOT / "batch_id=r3")
    assert meta is not None
    assert (meta["total_records"], meta["new_cursor"]) == (1, "2025-01-03T00:00:00+00:00")


def test_a_failure_before_commit_leaves_the_cursor_and_the_next_run_lands_everything(tmp_path, postgres, orders) -> None:  # type: ignore[no-untyped-def]
    # the query fails on reading a 'poison' row, inserted last: whether files were staged
    # before it depends on thread timing, so only the end state is checked
    poison = "id, customer, amount, updated_at, CASE WHEN customer = 'poison' THEN CAST(customer AS int) ELSE 0 END AS ok"
    folder = _project(tmp_path, orders, select=poison)
    postgres.psql(f"INSERT INTO {orders} SELECT g, 'c', g, TIMESTAMPTZ '2025-01-01+00' + g * INTERVAL '1 s' "
                  "FROM generate_series(1, 10) g")
    assert _apply(folder, postgres, "r1").returncode == 0
    before = _cursor(folder, postgres)
    assert before == "2025-01-01T00:00:10+00:00"

    postgres.psql(f"INSERT INTO {orders} SELECT g, 'c', g, TIMESTAMPTZ '2025-02-01+00' + g * INTERVAL '1 s' "
                  f"FROM generate_series(11, 510) g; INSERT INTO {orders} VALUES (511, 'poison', 1, '2025-03-01+00')")
    failed = _apply(folder, postgres, "r2")
    assert failed.returncode != 0
    assert "shop.orders" in failed.stdout + failed.stderr
    assert "invalid input syntax for type integer" in failed.stdout + failed.stderr
    assert _cursor(folder, postgres) == before
    assert metadata(tmp_path / "out" / ROOT / "batch_id=r2") is None
    assert _landed(folder, "r2") == []

    postgres.psql(f"DELETE FROM {orders} WHERE customer = 'poison'")
    again = _apply(folder, postgres, "r2")
    assert again.returncode == 0, again.stderr + again.stdout
    assert [r[0] for r in _landed(folder, "r2")] == list(range(11, 511))
    assert _cursor(folder, postgres) == "2025-02-01T00:08:30+00:00"


def test_an_empty_result_commits_a_zero_row_partition_and_keeps_the_cursor(tmp_path, postgres, orders) -> None:  # type: ignore[no-untyped-def]
    folder = _project(tmp_path, orders)
    postgres.psql(f"INSERT INTO {orders} VALUES (1, 'a', 1, '2025-01-01+00')")
    assert _apply(folder, postgres, "r1").returncode == 0
    empty = _apply(folder, postgres, "r2")
    assert empty.returncode == 0, empty.stderr + empty.stdout
    meta = metadata(tmp_path / "out" / ROOT / "batch_id=r2")
    assert meta is not None
    assert (meta["total_records"], meta["new_cursor"]) == (0, None)
    assert [c["name"] for c in meta["schema"]] == ["id", "customer", "amount", "updated_at"]
    assert _cursor(folder, postgres) == "2025-01-01T00:00:00+00:00"


def test_rows_with_a_null_incremental_key_are_reported_in_the_metadata(tmp_path, postgres, orders) -> None:  # type: ignore[no-untyped-def]
    folder = _project(tmp_path, orders)
    postgres.psql(
        f"INSERT INTO {orders} VALUES (1, 'a', 1, '2025-01-01+00'), (2, 'b', 2, NULL), (3, 'c', 3, NULL)"
    )
    assert _apply(folder, postgres, "r1").returncode == 0
    meta = metadata(tmp_path / "out" / ROOT / "batch_id=r1")
    assert meta is not None
    assert meta["source"] == {"null_incremental_key_rows": 2}
