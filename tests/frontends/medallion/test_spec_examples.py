"""Every YAML example in the spec compiles, unchanged, to the IR it means.

``spec_examples/api_example.yaml``, ``db_example.yaml`` and
``custom_example.yaml`` are the spec's complete configs copied verbatim; the
``reference_*.yaml`` files join the Configuration Reference snippets into
complete configs (their first line says which; system/table were added where
the snippet had none).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_dsl import ir
from foundry_dsl.frontends.medallion.schema import schema
from tests.frontends.medallion.helpers import compile_text

EXAMPLES = Path(__file__).parent / "spec_examples"
MB = 1024 * 1024

S3_STORAGE = {
    "kind": "s3",
    "bucket": "analytics-bronze",
    "prefix": "bronze",
    "endpoint": {"name": "BRONZE_S3_ENDPOINT"},
    "access_key": {"name": "BRONZE_S3_ACCESS_KEY"},
    "secret_key": {"name": "BRONZE_S3_SECRET_KEY"},
    "region": None,
}
RETRY = {"max_attempts": 6, "backoff": 0.5, "max_backoff": 30.0}


def platform(name: str, partition: str, formats: list[str]) -> dict:
    return {
        "name": name,
        "storage": S3_STORAGE,
        "partition": partition,
        "use_dt_partition": True,
        "formats": formats,
        "compression": "snappy",
    }


def run(**overrides: object) -> dict:
    base = {
        "max_rows_per_file": 0,
        "max_file_size": 0,
        "workers": 1,
        "formats": ["parquet"],
        "storage_enabled": False,
        "local_output_dir": "./output",
        "cleanup_on_failure": True,
        # what it uploads stays under local_output_dir too, as in the original tool
        "keep_local_files": bool(overrides.get("storage_enabled")),
        "batch_id": None,
        "lineage": False,
        "allow_empty": False,
        "source_connections": None,
    }
    return {**base, **overrides}


EXPECTED: dict[str, dict] = {
    "api_example.yaml": {
        "system": "github",
        "table": "issues",
        "platform": platform("api_example", "date", ["parquet", "csv"]),
        "source": {
            "kind": "api",
            "base_url": "https://api.github.com",
            "endpoint": "/repos/owner/repo/issues",
            "method": "GET",
            "headers": {},
            # per_page moved into the paginator, which sends it on every request
            "params": {"state": "all"},
            "body": None,
            "timeout": 30.0,
            "verify": True,
            "auth": {"kind": "bearer", "token": {"name": "GITHUB_TOKEN"}},
            "paginate": {
                "kind": "page",
                "max_pages": 100_000,
                "page_param": "page",
                "size_param": "per_page",
                "page_size": 100,
                "start_page": 1,
                "total_pages_path": None,
            },
            "records": None,
            "rate_limit": None,
            "parse_dates": True,
            "retry": RETRY,
            "incremental": None,
        },
        "run": run(max_file_size=128 * MB, workers=2, storage_enabled=True),
        "source_file": "api_example.yaml",
    },
    "db_example.yaml": {
        "system": "postgres_prod",
        "table": "orders",
        "platform": platform("db_example", "hourly", ["parquet"]),
        "source": {
            "kind": "db",
            "connection": {"name": "POSTGRES_CONN_STR"},
            "query": "SELECT \n  order_id,\n  customer_id,\n  order_date,\n  total_amount,\n"
            "  status,\n  updated_at\nFROM orders\nWHERE is_deleted = false",
            "incremental_key": "updated_at",
            "cursor_env": "ORDERS_LAST_CURSOR",
            "initial_cursor": None,
            "lookback": None,
            "batch_size": 10000,
            "partition_column": None,
            "partitions": 1,
            "partition_bounds": None,
            "max_text_size": None,
            "driver": "auto",
        },
        "run": run(
            max_file_size=256 * MB,
            workers=4,
            storage_enabled=True,
            local_output_dir="./output/bronze",
        ),
        "source_file": "db_example.yaml",
    },
    "custom_example.yaml": {
        "system": "my_system",
        "table": "my_table",
        "platform": platform("custom_example", "date", ["parquet", "csv"]),
        "source": {
            "kind": "custom",
            "module": "examples.custom_extractors.my_extractor",
            "class_name": "MyCustomExtractor",
            "params": {"api_url": "https://api.example.com"},
        },
        "run": run(max_file_size=256 * MB, workers=4, storage_enabled=True),
        "source_file": "custom_example.yaml",
    },
    "reference_api.yaml": {
        "system": "salesforce",
        "table": "accounts",
        "platform": platform("reference_api", "hourly", ["parquet", "csv"]),
        "source": {
            "kind": "api",
            "base_url": "https://api.example.com",
            "endpoint": "/v1/tickets",
            "method": "GET",
            "headers": {"User-Agent": "medallion-foundry/1.0"},
            # page_size is not the offset paginator's limit_param, so it stays a param
            "params": {"page_size": 100},
            "body": None,
            "timeout": 30.0,
            "verify": True,
            "auth": {"kind": "bearer", "token": {"name": "API_TOKEN"}},
            "paginate": {
                "kind": "offset",
                "max_pages": 100_000,
                "offset_param": "offset",
                "limit_param": "limit",
                "limit": 100,
                "start": 0,
                "total_path": None,
            },
            "records": "data",
            "rate_limit": None,
            "parse_dates": True,
            "retry": RETRY,
            "incremental": None,
        },
        # max_file_size_mb "overrides row limit" (the spec): max_rows_per_file is not applied
        "run": run(
            max_file_size=256 * MB,
            workers=4,
            storage_enabled=True,
            batch_id="batch_001",
        ),
        "source_file": "reference_api.yaml",
    },
    "reference_db.yaml": {
        "system": "postgres_prod",
        "table": "accounts",
        "platform": platform("reference_db", "hourly", ["parquet", "csv"]),
        "source": {
            "kind": "db",
            "connection": {"name": "POSTGRES_CONN_STR"},
            "query": "SELECT id, name, created_at, updated_at\nFROM accounts\nWHERE is_deleted = false",
            "incremental_key": "updated_at",
            "cursor_env": "ACCOUNTS_CURSOR",
            "initial_cursor": None,
            "lookback": None,
            "batch_size": 10000,
            "partition_column": None,
            "partitions": 1,
            "partition_bounds": None,
            "max_text_size": None,
            "driver": "auto",
        },
        "run": run(),
        "source_file": "reference_db.yaml",
    },
    "reference_custom.yaml": {
        "system": "salesforce",
        "table": "account_objects",
        "platform": platform("reference_custom", "hourly", ["parquet", "csv"]),
        "source": {
            "kind": "custom",
            "module": "examples.custom_extractors.salesforce_example",
            "class_name": "SalesforceExtractor",
            "params": {"instance_url": "https://mycompany.salesforce.com", "object_type": "Account"},
        },
        "run": run(),
        "source_file": "reference_custom.yaml",
    },
}


def test_every_example_file_has_an_expectation() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_example_compiles_to_its_ir(name: str) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    pipelines, diagnostics = compile_text(text, name)
    assert diagnostics == []
    assert [ir.canonical(p) for p in pipelines] == [EXPECTED[name]]


def where(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the only occurrence of ``needle``."""
    assert text.count(needle) == 1
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def test_env_references_point_at_the_value_written() -> None:
    name = "api_example.yaml"
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    (p,), _ = compile_text(text, name)
    assert isinstance(p.source, ir.ApiSource) and isinstance(p.source.auth, ir.BearerAuth)
    span = p.source.auth.token.span
    assert span is not None
    assert (span.file, span.line, span.col) == (name, *where(text, '"GITHUB_TOKEN"'))


def test_models_point_at_their_section() -> None:
    name = "db_example.yaml"
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    (p,), _ = compile_text(text, name)
    assert p.source.span is not None and p.run.span is not None
    # a section's span starts at its first key
    assert (p.source.span.line, p.source.span.col) == where(text, "conn_str_env")
    assert (p.run.span.line, p.run.span.col) == where(text, "max_file_size_mb")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_example_validates_against_the_json_schema(name: str) -> None:
    import jsonschema
    import yaml

    data = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema()).validate(data)
