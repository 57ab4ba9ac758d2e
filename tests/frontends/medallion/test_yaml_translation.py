"""The spec's YAML shape → IR: one translation rule per test."""

from __future__ import annotations

from foundry_dsl import ir
from tests.frontends.medallion.helpers import BASE, change, compile_text, one


def test_s3_enabled_is_an_alias_of_storage_enabled() -> None:
    assert one(change("storage_enabled: true", "s3_enabled: true")).run.storage_enabled is True
    assert one(change("storage_enabled: true", "s3_enabled: false")).run.storage_enabled is False


def test_storage_is_not_enabled_unless_asked_as_in_the_original_tool() -> None:
    assert one(change("    storage_enabled: true\n", "")).run.storage_enabled is False


def test_max_file_size_mb_becomes_bytes() -> None:
    text = change("storage_enabled: true", "storage_enabled: true\n    max_file_size_mb: 0.5")
    assert one(text).run.max_file_size == 512 * 1024


def test_max_rows_per_file_alone_is_the_row_limit() -> None:
    text = change("storage_enabled: true", "storage_enabled: true\n    max_rows_per_file: 500")
    assert (one(text).run.max_rows_per_file, one(text).run.max_file_size) == (500, 0)


def test_max_file_size_mb_overrides_max_rows_per_file_as_the_spec_says() -> None:
    text = change(
        "storage_enabled: true",
        "storage_enabled: true\n    max_rows_per_file: 500\n    max_file_size_mb: 64",
    )
    assert (one(text).run.max_rows_per_file, one(text).run.max_file_size) == (0, 64 * 2**20)


def test_write_csv_and_parquet_become_run_formats() -> None:
    text = change("allow_csv: false", "allow_csv: true")
    text = change("write_parquet: true", "write_parquet: true\n    write_csv: true", text)
    p = one(text)
    assert p.run.formats == ("parquet", "csv")
    assert p.platform.formats == ("parquet", "csv")


def test_platform_is_named_after_the_file_stem() -> None:
    assert one(BASE, "configs/shop_orders.yaml").platform.name == "shop_orders"


def test_storage_backend_azure_reads_azure_connection() -> None:
    text = change('s3_bucket: "lake"', 'storage_backend: "azure"\n    azure_container: "bronze"\n    azure_prefix: "raw"')
    text = change(
        '  s3_connection:\n    access_key_env: "S3_KEY"\n    secret_key_env: "S3_SECRET"\n',
        '  azure_connection:\n    account_name: "acct"\n    account_key_env: "AZ_KEY"\n',
        text,
    )
    storage = one(text).platform.storage
    assert storage == ir.AzureStorage(
        container="bronze", prefix="raw", account_name="acct", account_key=ir.EnvRef(name="AZ_KEY")
    )


def test_storage_backend_gcs_reads_gcs_connection() -> None:
    text = change('s3_bucket: "lake"', 'storage_backend: "gcs"\n    gcs_bucket: "gb"')
    text = change(
        "  s3_connection:\n",
        '  gcs_connection:\n    project: "p1"\n    credentials_env: "GCS_JSON"\n    endpoint_url_env: "GCS_EMU"\n  s3_connection:\n',
        text,
    )
    storage = one(text).platform.storage
    assert storage == ir.GcsStorage(
        bucket="gb",
        prefix="",
        project="p1",
        credentials=ir.EnvRef(name="GCS_JSON"),
        endpoint=ir.EnvRef(name="GCS_EMU"),
    )


def test_storage_backend_local_uses_local_path() -> None:
    text = change('s3_bucket: "lake"', 'storage_backend: "local"\n    local_path: "/data/lake"')
    assert one(text).platform.storage == ir.LocalStorage(path="/data/lake")


def test_s3_endpoint_may_be_written_in_the_file() -> None:
    text = change('access_key_env: "S3_KEY"', 'endpoint_url: "http://127.0.0.1:9000"\n    access_key_env: "S3_KEY"')
    storage = one(text).platform.storage
    assert isinstance(storage, ir.S3Storage) and storage.endpoint == "http://127.0.0.1:9000"


def test_api_key_auth() -> None:
    text = change(
        '    auth_type: "bearer"\n    auth_token_env: "SHOP_TOKEN"\n',
        '    auth_type: "api_key"\n    auth_key_name: "X-Key"\n    auth_key_env: "SHOP_KEY"\n    auth_key_location: "query"\n',
    )
    assert one(text).source.auth == ir.ApiKeyAuth(  # type: ignore[union-attr]
        name="X-Key", value=ir.EnvRef(name="SHOP_KEY"), location="query"
    )


def test_basic_auth_reads_both_names_from_the_environment() -> None:
    text = change(
        '    auth_type: "bearer"\n    auth_token_env: "SHOP_TOKEN"\n',
        '    auth_type: "basic"\n    auth_username_env: "U"\n    auth_password_env: "P"\n',
    )
    assert one(text).source.auth == ir.BasicAuth(  # type: ignore[union-attr]
        username=ir.EnvRef(name="U"), password=ir.EnvRef(name="P")
    )


def test_oauth2_client_credentials() -> None:
    text = change(
        '    auth_type: "bearer"\n    auth_token_env: "SHOP_TOKEN"\n',
        '    auth_type: "oauth2"\n    auth_token_url: "https://id.example.com/token"\n'
        '    auth_client_id: "app"\n    auth_client_secret_env: "SECRET"\n    auth_scope: "read"\n',
    )
    assert one(text).source.auth == ir.OAuth2Auth(  # type: ignore[union-attr]
        token_url="https://id.example.com/token",
        client_id="app",
        client_secret=ir.EnvRef(name="SECRET"),
        scope="read",
    )


def test_offset_limit_comes_from_params_and_leaves_them() -> None:
    text = change('endpoint: "/orders"', 'endpoint: "/orders"\n    params:\n      limit: 250\n      status: "open"')
    p = one(text)
    assert isinstance(p.source, ir.ApiSource)
    assert p.source.paginate == ir.OffsetPagination(limit=250)
    assert p.source.params == {"status": "open"}


def test_cursor_pagination_defaults_to_the_original_cursor_path() -> None:
    p = one(change('type: "offset"', 'type: "cursor"\n      cursor_param: "after"'))
    assert isinstance(p.source, ir.ApiSource)
    assert p.source.paginate == ir.CursorPagination(cursor_param="after", cursor_path="next_cursor")


def test_header_values_from_the_environment_and_numbers_as_text() -> None:
    text = change(
        'endpoint: "/orders"',
        'endpoint: "/orders"\n    headers:\n      X-Api-Version: 2\n      X-Token: {env: SHOP_HDR}',
    )
    p = one(text)
    assert isinstance(p.source, ir.ApiSource)
    assert p.source.headers == {"X-Api-Version": "2", "X-Token": ir.EnvRef(name="SHOP_HDR")}


def test_run_timeout_seconds_is_the_request_timeout() -> None:
    text = change("storage_enabled: true", "storage_enabled: true\n    timeout_seconds: 5")
    p = one(text)
    assert isinstance(p.source, ir.ApiSource) and p.source.timeout == 5.0


def test_data_path_is_the_records_path() -> None:
    p = one(change('      records_path: "data"\n', "").replace('endpoint: "/orders"', 'endpoint: "/orders"\n    data_path: "result.items"'))
    assert isinstance(p.source, ir.ApiSource) and p.source.records == "result.items"


def test_db_source_with_partitioned_reads() -> None:
    text = change(
        BASE[BASE.index("  api:\n") : BASE.index("  run:\n")],
        '  db:\n    conn_str_env: "PG"\n    base_query: |\n      SELECT *\n      FROM t\n'
        '    partition_column: "id"\n    partitions: 4\n    lookback: 300\n',
    ).replace('type: "api"', 'type: "db"')
    p = one(text)
    assert p.source == ir.DbSource(
        connection=ir.EnvRef(name="PG"),
        query="SELECT *\nFROM t",
        partition_column="id",
        partitions=4,
        lookback=300,
    )


def test_files_source_accepts_one_path() -> None:
    text = change(
        BASE[BASE.index("  api:\n") : BASE.index("  run:\n")],
        '  files:\n    paths: "data/*.csv"\n    format: "csv"\n',
    ).replace('type: "api"', 'type: "files"')
    assert one(text).source == ir.FilesSource(paths=("data/*.csv",), format="csv")


def test_yaml_anchors_and_merge_keys() -> None:
    text = change("storage_enabled: true", "storage_enabled: true\n    batch_id: &b \"b1\"\n    local_output_dir: *b")
    p = one(text)
    assert (p.run.batch_id, p.run.local_output_dir) == ("b1", "b1")


def test_each_yaml_document_is_a_pipeline() -> None:
    second = change('table: "orders"', 'table: "refunds"')
    pipelines, diagnostics = compile_text(BASE + "---\n" + second)
    assert diagnostics == []
    assert [p.name for p in pipelines] == ["shop.orders", "shop.refunds"]


def test_api_dates_are_parsed_unless_parse_dates_is_false() -> None:
    assert one(BASE).source.parse_dates is True  # type: ignore[union-attr]
    text = change('    auth_type: "bearer"\n', '    parse_dates: false\n    auth_type: "bearer"\n')
    assert one(text).source.parse_dates is False  # type: ignore[union-attr]
