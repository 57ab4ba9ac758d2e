"""The JSON Schema of the YAML front end, and `foundry schema` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from foundry_dsl.frontends.medallion.schema import schema
from tests.frontends.medallion.helpers import BASE, change


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


def test_base_config_matches_the_schema() -> None:
    assert list(validator().iter_errors(yaml.safe_load(BASE))) == []


def test_misspelled_key_is_rejected_by_the_schema() -> None:
    errors = list(validator().iter_errors(yaml.safe_load(change("s3_prefix:", "s3_prefx:"))))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [
        (["platform", "bronze"], "additionalProperties")
    ]


def test_bad_enum_is_rejected_by_the_schema() -> None:
    data = yaml.safe_load(change('partition_strategy: "date"', 'partition_strategy: "daily"'))
    errors = list(validator().iter_errors(data))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [
        (["platform", "bronze", "partitioning", "partition_strategy"], "enum")
    ]


def test_source_type_needs_its_section_in_the_schema() -> None:
    data = yaml.safe_load(change('type: "api"', 'type: "db"'))
    errors = list(validator().iter_errors(data))
    assert [(list(e.absolute_path), e.message) for e in errors] == [
        (["source"], "'db' is a required property")
    ]


def test_every_section_forbids_unknown_keys() -> None:
    def walk(node: dict, path: str) -> list[str]:
        found = []
        if node.get("type") == "object" and "properties" in node:
            if node.get("additionalProperties") is not False:
                found.append(path)
            for key, child in node["properties"].items():
                found += walk(child, f"{path}.{key}")
        return found

    assert walk(schema(), "") == []


def test_foundry_schema_prints_the_schema() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "foundry_dsl", "schema"], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == schema()


def test_foundry_schema_writes_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "pipeline.schema.json"
    out = subprocess.run(
        [sys.executable, "-m", "foundry_dsl", "schema", "--output", str(target)],
        capture_output=True,
        text=True,
    )
    assert (out.returncode, out.stdout) == (0, "")
    assert json.loads(target.read_text()) == schema()


def test_foundry_schema_to_a_missing_folder_fails_with_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "s.json"
    out = subprocess.run(
        [sys.executable, "-m", "foundry_dsl", "schema", "-o", str(target)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert out.stderr == (
        f"error: cannot write the schema to {target}: No such file or directory; "
        "check that the folder exists and is writable\n"
    )
