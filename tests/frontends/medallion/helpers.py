"""Shared helpers for the YAML front-end tests: compile text, render errors."""

from __future__ import annotations

import textwrap

from foundry_dsl import ir
from foundry_dsl.errors import ConfigError, Diagnostic
from foundry_dsl.frontends.lower import Lowering
from foundry_dsl.frontends.medallion.compile import compile_yaml

# A small valid config that the tests change one mistake at a time.
BASE = textwrap.dedent(
    """\
    platform:
      bronze:
        s3_bucket: "lake"
        s3_prefix: "bronze"
        partitioning:
          partition_strategy: "date"
        output_defaults:
          allow_csv: false
          allow_parquet: true
      s3_connection:
        access_key_env: "S3_KEY"
        secret_key_env: "S3_SECRET"

    source:
      type: "api"
      system: "shop"
      table: "orders"
      api:
        base_url: "https://api.example.com"
        endpoint: "/orders"
        auth_type: "bearer"
        auth_token_env: "SHOP_TOKEN"
        pagination:
          type: "offset"
          records_path: "data"
      run:
        write_parquet: true
        storage_enabled: true
    """
)


def compile_text(text: str, path: str = "cfg.yaml") -> tuple[list[ir.Pipeline], list[Diagnostic]]:
    low = Lowering()
    pipelines = compile_yaml(path, text, low)
    return pipelines, low.diagnostics


def one(text: str, path: str = "cfg.yaml") -> ir.Pipeline:
    """The single pipeline in ``text``; fails with the rendered errors if any."""
    pipelines, diags = compile_text(text, path)
    assert not diags, ConfigError(diags, {path: text}).render()
    assert len(pipelines) == 1
    return pipelines[0]


def rendered_errors(text: str, path: str = "cfg.yaml") -> str:
    pipelines, diags = compile_text(text, path)
    assert diags, "expected errors"
    assert pipelines == []
    return ConfigError(diags, sources={path: text}).render()


def change(old: str, new: str, text: str = BASE) -> str:
    """BASE with one exact, unique change."""
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)
