"""YAML mistakes → positioned errors, rendered as users see them (syrupy snapshots).

Each test makes one mistake in ``helpers.BASE`` (a valid config) and checks the
rendered ConfigError. Paths are relative (``cfg.yaml``) so snapshots are stable.
"""

from __future__ import annotations

from tests.frontends.medallion.helpers import BASE, change, compile_text, rendered_errors


def test_unknown_top_level_key_suggests_the_section(snapshot) -> None:
    assert rendered_errors(change("source:\n", "sourc:\n")) == snapshot


def test_unknown_key_in_platform_bronze(snapshot) -> None:
    assert rendered_errors(change("s3_prefix:", "s3_prefx:")) == snapshot


def test_unknown_key_in_source_run(snapshot) -> None:
    assert rendered_errors(change("storage_enabled: true", "storage_enable: true")) == snapshot


def test_unknown_key_in_pagination(snapshot) -> None:
    assert rendered_errors(change('records_path: "data"', 'record_path: "data"')) == snapshot


def test_wrong_type(snapshot) -> None:
    text = change("storage_enabled: true", 'storage_enabled: true\n    parallel_workers: "four"')
    assert rendered_errors(text) == snapshot


def test_bad_partition_strategy(snapshot) -> None:
    assert rendered_errors(change('partition_strategy: "date"', 'partition_strategy: "hourley"')) == snapshot


def test_bad_pagination_type(snapshot) -> None:
    assert rendered_errors(change('type: "offset"', 'type: "offfset"')) == snapshot


def test_bad_auth_type(snapshot) -> None:
    assert rendered_errors(change('auth_type: "bearer"', 'auth_type: "oauth"')) == snapshot


def test_bad_storage_backend(snapshot) -> None:
    text = change('s3_bucket: "lake"', 's3_bucket: "lake"\n    storage_backend: "gcp"')
    assert rendered_errors(text) == snapshot


def test_missing_system(snapshot) -> None:
    assert rendered_errors(change('  system: "shop"\n', "")) == snapshot


def test_missing_base_url(snapshot) -> None:
    assert rendered_errors(change('    base_url: "https://api.example.com"\n', "")) == snapshot


def test_missing_section_for_source_type(snapshot) -> None:
    assert rendered_errors(change('type: "api"', 'type: "db"')) == snapshot


def test_bearer_without_token_env(snapshot) -> None:
    assert rendered_errors(change('    auth_token_env: "SHOP_TOKEN"\n', "")) == snapshot


def test_literal_secret_in_env_key(snapshot) -> None:
    text = change('auth_token_env: "SHOP_TOKEN"', 'auth_token_env: "Bearer abc123 xyz"')
    out = rendered_errors(text)
    assert out == snapshot
    # the message and help never repeat the value (the source line is the user's own)
    assert out.count("abc123") == 1


def test_connection_string_written_instead_of_env_name(snapshot) -> None:
    text = change('auth_token_env: "SHOP_TOKEN"', 'auth_token_env: "UID=app;PWD=hunter2"')
    assert rendered_errors(text) == snapshot


def test_literal_secret_in_headers(snapshot) -> None:
    text = change('endpoint: "/orders"', 'endpoint: "/orders"\n    headers:\n      Authorization: "Bearer abc"')
    assert rendered_errors(text) == snapshot


def test_yaml_bad_indentation(snapshot) -> None:
    assert rendered_errors(change('  table: "orders"', ' table: "orders"')) == snapshot


def test_yaml_tab_indentation(snapshot) -> None:
    assert rendered_errors(change('    s3_prefix: "bronze"', '\ts3_prefix: "bronze"')) == snapshot


def test_yaml_unclosed_quote(snapshot) -> None:
    assert rendered_errors(change('endpoint: "/orders"', 'endpoint: "/orders')) == snapshot


def test_duplicate_key(snapshot) -> None:
    assert rendered_errors(change('  table: "orders"', '  table: "orders"\n  table: "items"')) == snapshot


def test_storage_enabled_and_s3_enabled_together(snapshot) -> None:
    text = change("storage_enabled: true", "storage_enabled: true\n    s3_enabled: true")
    assert rendered_errors(text) == snapshot


def test_csv_written_but_not_allowed(snapshot) -> None:
    assert rendered_errors(change("write_parquet: true", "write_csv: true")) == snapshot


def test_auth_key_of_another_auth_type(snapshot) -> None:
    text = change('auth_token_env: "SHOP_TOKEN"', 'auth_token_env: "SHOP_TOKEN"\n    auth_key_env: "KEY"')
    assert rendered_errors(text) == snapshot


def test_pagination_key_of_another_type(snapshot) -> None:
    text = change('records_path: "data"', 'records_path: "data"\n      page_param: "p"')
    assert rendered_errors(text) == snapshot


def test_invalid_system_name(snapshot) -> None:
    assert rendered_errors(change('system: "shop"', 'system: "my shop"')) == snapshot


def test_several_mistakes_are_all_reported_in_file_order(snapshot) -> None:
    text = change('partition_strategy: "date"', 'partition_strategy: "daily"')
    text = change("storage_enabled: true", "storage_enabled: yes please", text)
    text = change('endpoint: "/orders"', 'endpont: "/orders"', text)
    _, diagnostics = compile_text(text)
    assert [d.position.line for d in diagnostics if d.position] == [6, 20, 28]
    assert rendered_errors(text) == snapshot


def test_empty_file(snapshot) -> None:
    assert rendered_errors("# nothing here\n") == snapshot


def test_file_that_is_a_list(snapshot) -> None:
    assert rendered_errors("- platform\n- source\n") == snapshot


def test_base_config_is_valid() -> None:
    pipelines, diagnostics = compile_text(BASE)
    assert diagnostics == [] and len(pipelines) == 1
