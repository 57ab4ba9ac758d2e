"""The spec's example configs shipped in docs/examples/: the spec's text unchanged, each
one valid, and the ones that need no network landed on the test S3 endpoint as the
spec runs them (`bronze-extract --config ...`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.spec_layout import (
    EXAMPLES,
    SPEC_PREFIX,
    bronze_extract,
    copy_examples,
    ensure_spec_bucket,
    keys_under,
    read_json,
    read_parquet,
    run_script,
    spec_s3_env,
)
from tests.fixtures.databases import PostgresServer
from tests.fixtures.storage_services import Service

SPEC_COPIES = Path(__file__).parent / "spec_examples"
#: shipped config → the verbatim copy of the spec's text the front-end tests compile
SHIPPED = {
    "api_example.yaml": "api_example.yaml",
    "db_example.yaml": "db_example.yaml",
    "my_custom_config.yaml": "custom_example.yaml",
}


def test_every_shipped_config_is_listed() -> None:
    assert sorted(p.name for p in (EXAMPLES / "configs").iterdir()) == sorted(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_config_is_the_spec_s_text_unchanged(name: str) -> None:
    shipped = (EXAMPLES / "configs" / name).read_text(encoding="utf-8")
    assert shipped == (SPEC_COPIES / SHIPPED[name]).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_config_validates(name: str, tmp_path: Path) -> None:
    docs = copy_examples(tmp_path) / "docs"
    out = run_script("foundry", docs, "validate", f"examples/configs/{name}", env={})
    assert (out.returncode, out.stderr) == (0, "")


def test_the_custom_extractor_example_lands_its_records(tmp_path: Path, moto_s3: Service) -> None:
    ensure_spec_bucket(moto_s3)
    docs = copy_examples(tmp_path) / "docs"
    out = bronze_extract(
        docs, "--config", "examples/configs/my_custom_config.yaml", "--date", "2025-01-12",
        env=spec_s3_env(moto_s3),
    )
    assert out.returncode == 0, out.stderr + out.stdout
    partition = f"{SPEC_PREFIX}/system=my_system/table=my_table/dt=2025-01-12/"
    meta = read_json(moto_s3, partition + "_metadata.json")
    rows = read_parquet(moto_s3, [partition + f["name"] for f in meta["files"]]).to_pylist()
    assert rows == [
        {"id": i, "name": f"my_table-{i}", "source_url": "https://api.example.com",
         "run_date": "2025-01-12"}
        for i in (1, 2, 3)
    ]


def test_the_db_example_lands_the_orders_changed_after_the_cursor(
    tmp_path: Path, moto_s3: Service, postgres: PostgresServer
) -> None:
    ensure_spec_bucket(moto_s3)
    database = "spec_db_example"
    postgres.psql(f"DROP DATABASE IF EXISTS {database}", database="postgres")
    postgres.psql(f"CREATE DATABASE {database}", database="postgres")
    postgres.psql(
        "CREATE TABLE orders (order_id bigint, customer_id bigint, order_date date, "
        "total_amount numeric(10,2), status text, updated_at timestamp, is_deleted boolean);"
        "INSERT INTO orders VALUES "
        "(1, 10, '2024-12-30', 5.00, 'completed', '2024-12-31 09:00', false),"
        "(2, 11, '2025-01-02', 12.50, 'completed', '2025-01-02 10:00', false),"
        "(3, 12, '2025-01-03', 7.25, 'pending', '2025-01-03 11:00', true),"
        "(4, 13, '2025-01-04', 99.99, 'shipped', '2025-01-04 12:00', false)",
        database=database,
    )
    env = {
        **spec_s3_env(moto_s3),
        "POSTGRES_CONN_STR": postgres.conn_str(Database=database),
        "ORDERS_LAST_CURSOR": "2025-01-01T00:00:00Z",
    }
    root = copy_examples(tmp_path)
    out = bronze_extract(
        root, "--config", "docs/examples/configs/db_example.yaml", "--date", "2025-01-12", env=env
    )
    assert out.returncode == 0, out.stderr + out.stdout
    table = f"{SPEC_PREFIX}/system=postgres_prod/table=orders/dt=2025-01-12/"
    (marker,) = [k for k in keys_under(moto_s3, table) if k.endswith("/_metadata.json")]
    hour = marker.split("/")[0]  # the run's hour: partition_strategy is hourly
    meta = read_json(moto_s3, table + marker)
    landed = read_parquet(moto_s3, [f"{table}{hour}/{f['name']}" for f in meta["files"]])
    assert sorted(landed.to_pylist(), key=lambda r: r["order_id"]) == [
        {"order_id": 2, "customer_id": 11, "order_date": dt.date(2025, 1, 2),
         "total_amount": Decimal("12.50"), "status": "completed",
         "updated_at": dt.datetime(2025, 1, 2, 10, 0)},
        {"order_id": 4, "customer_id": 13, "order_date": dt.date(2025, 1, 4),
         "total_amount": Decimal("99.99"), "status": "shipped",
         "updated_at": dt.datetime(2025, 1, 4, 12, 0)},
    ]
