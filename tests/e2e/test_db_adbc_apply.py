"""`foundry apply` with a postgresql:// URL, end to end: a subprocess reads the session's
PostgreSQL through ADBC, lands Parquet with exact decimals and UTC timestamps, stores the
cursor after commit, and never prints the URL's password."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import DATE, foundry, metadata
from tests.fixtures.databases import PG_PASSWORD

ENV = "FOUNDRY_E2E_PG_URL"
ROOT = f"system=shop/table=orders/dt={DATE}"


def _project(folder: Path) -> Path:
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
    query = "SELECT id, amount, updated_at FROM e2e_adbc_orders"
    incremental_key = "updated_at"
    partition_column = "id"
    partitions = 2
  }}
}}
''')
    return folder


@pytest.fixture
def orders(postgres):  # type: ignore[no-untyped-def]
    postgres.psql(
        "DROP TABLE IF EXISTS e2e_adbc_orders; CREATE TABLE e2e_adbc_orders "
        "(id int, amount numeric(12,2), updated_at timestamptz);"
        "INSERT INTO e2e_adbc_orders SELECT g, g * 1.25, TIMESTAMPTZ '2025-01-01 00:00:00.000001+00' "
        "+ g * INTERVAL '1 minute' FROM generate_series(1, 300) g"
    )
    return postgres


def test_apply_lands_exact_decimals_and_the_cursor_through_adbc(tmp_path, orders) -> None:  # type: ignore[no-untyped-def]
    import duckdb

    folder = _project(tmp_path)
    done = foundry(folder, "apply", "pipeline.bronze", "--date", DATE, "--batch-id", "r1",
                   env={ENV: orders.url()}, timeout=180)
    assert done.returncode == 0, done.stderr + done.stdout
    assert PG_PASSWORD not in done.stdout + done.stderr
    landed = duckdb.connect().sql(
        f"SELECT typeof(amount), count(*), sum(amount)::VARCHAR, max(updated_at AT TIME ZONE 'UTC')::VARCHAR "
        f"FROM read_parquet('{folder}/out/**/*.parquet') GROUP BY ALL"
    ).fetchall()
    assert landed == [("DECIMAL(12,2)", 300, "56437.50", "2025-01-01 05:00:00.000001")]
    meta = metadata(tmp_path / "out" / ROOT / "batch_id=r1")
    assert meta is not None
    assert (meta["total_records"], meta["new_cursor"]) == (300, "2025-01-01T05:00:00.000001+00:00")
