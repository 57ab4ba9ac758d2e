"""`storage_backend` names the user's own backend class in YAML, as `storage custom` does
in a `.bronze` file: `custom_root` is its root=, `platform.custom_connection` its options=."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import foundry_dsl
from foundry_dsl import ir
from foundry_dsl.frontends.load import load
from foundry_dsl.frontends.medallion.schema import schema
from foundry_dsl.sources.custom import spec_config
from tests.frontends.medallion.helpers import change, one, rendered_errors

BACKEND = "tests.storage.memory_backend:SharedMemoryBackend"

CUSTOM = change(
    's3_bucket: "lake"',
    f'storage_backend: "{BACKEND}"\n    custom_root: "lake-root"',
    change(
        "  s3_connection:",
        '  custom_connection:\n    region: "eu"\n    retries: 3\n    token: {env: LAKE_TOKEN}\n'
        "  s3_connection:",
    ),
)


def test_a_class_path_becomes_a_custom_storage_with_root_and_options() -> None:
    assert one(CUSTOM).platform.storage == ir.CustomStorage(
        backend=BACKEND,
        root="lake-root",
        options={"region": "eu", "retries": 3, "token": ir.EnvRef(name="LAKE_TOKEN")},
    )


def test_a_dotted_class_path_without_a_colon_is_accepted() -> None:
    text = change(f'"{BACKEND}"', '"my_pkg.storage.LakeBackend"', CUSTOM)
    storage = one(text).platform.storage
    assert isinstance(storage, ir.CustomStorage) and storage.backend == "my_pkg.storage.LakeBackend"


def test_the_yaml_and_the_bronze_storage_custom_give_the_same_storage(tmp_path: Path) -> None:
    bronze = tmp_path / "lake.bronze"
    bronze.write_text(f"""platform lake {{
  storage custom {{
    backend = "{BACKEND}"
    root = "lake-root"
    options {{
      region = "eu"
      retries = 3
      token = env("LAKE_TOKEN")
    }}
  }}
}}

pipeline shop.orders {{
  platform = lake
  source files {{ paths = ["data.csv"] }}
}}
""")
    (pipeline,) = load([str(bronze)]).pipelines
    assert one(CUSTOM).platform.storage == pipeline.platform.storage


def test_a_value_that_is_neither_a_backend_nor_a_class_path_says_both_are_accepted() -> None:
    text = change('s3_bucket: "lake"', 's3_bucket: "lake"\n    storage_backend: "lakefs"')
    assert rendered_errors(text) == (
        "cfg.yaml:4:22: error: invalid value 'lakefs' for 'storage_backend' in platform.bronze\n"
        "  |\n"
        '4 |     storage_backend: "lakefs"\n'
        "  |                      ^^^^^^^^\n"
        "   = help: expected one of: s3, azure, gcs, local, "
        "or the class path of a StorageBackend ('package.module:Class')\n"
        "\n"
        "1 error found"
    )


def test_a_literal_secret_in_custom_connection_is_an_error() -> None:
    text = change("token: {env: LAKE_TOKEN}", 'token: "tok-123"', CUSTOM)
    assert "error: 'token' in platform.custom_connection holds a secret written in the file" in (
        rendered_errors(text)
    )


def test_the_json_schema_accepts_a_class_path_and_refuses_a_bare_word() -> None:
    validator = jsonschema.Draft202012Validator(schema())
    assert list(validator.iter_errors(yaml.safe_load(CUSTOM))) == []
    bare = yaml.safe_load(change(f'"{BACKEND}"', '"lakefs"', CUSTOM))
    assert [list(e.absolute_path) for e in validator.iter_errors(bare)] == [
        ["platform", "bronze", "storage_backend"]
    ]


def test_an_old_style_extractor_sees_the_class_path_as_storage_backend() -> None:
    text = change(
        '  type: "api"', '  type: "custom"\n  custom_extractor:\n    module: "m"\n    class_name: "C"',
        CUSTOM,
    )
    text = text[: text.index("  api:")] + text[text.index("  run:"):]
    bronze = spec_config(one(text))["platform"]["bronze"]
    assert (bronze["storage_backend"], bronze["custom_root"]) == (BACKEND, "lake-root")


def test_a_yaml_pipeline_lands_through_the_class_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.storage.memory_backend import SharedMemoryBackend

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("id,name\n1,a\n2,b\n3,c\n")
    root = f"lake-{tmp_path.name}"
    config = tmp_path / "lake.yaml"
    config.write_text(f"""platform:
  bronze:
    storage_backend: "{BACKEND}"
    custom_root: "{root}"
source:
  type: files
  system: shop
  table: orders
  files:
    paths: "data.csv"
  run:
    storage_enabled: true
""")
    plan = foundry_dsl.load([config]).plan(date=dt.date(2025, 1, 12), look_up_storage=False)
    result = foundry_dsl.apply(plan)
    assert result.ok, result.results[0].error
    files = SharedMemoryBackend.STORES[root]
    meta = json.loads(files["system=shop/table=orders/dt=2025-01-12/_metadata.json"])
    assert meta["total_records"] == 3
