"""Sizes and durations are checked against the field they are written in.

Every IR field marked as a size (``json_schema_extra={"unit": "size"}``) takes
only sizes (``5MB``) or a number of bytes; every field marked as a duration
only durations (``5m``) or a number of seconds. The table below places each
such field in a `.bronze` pipeline; a test keeps it in step with the IR, so a
new size or duration field is covered as soon as it is added.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from foundry_dsl import ir
from foundry_dsl.errors import ConfigError, Diagnostic, Position
from foundry_dsl.frontends.load import load
from foundry_dsl.frontends.lower import unit_of
from tests.frontends.medallion.helpers import change, one

PLATFORM = 'platform dev {\n  storage local {\n    path = "./out"\n  }\n}\n'
API = '  source api {\n    base_url = "https://x.test"\n'
DB = '  source db {\n    connection = env("DB")\n    query = "SELECT 1"\n'
FILES = '  source files {\n    paths = ["a.csv"]\n  }\n'

#: (model, field) → a pipeline body with {} where ``field = value`` goes, and how
#: to read the field back from the compiled pipeline
PLACES: dict[tuple[type[BaseModel], str], tuple[str, Any]] = {
    (ir.RunOptions, "max_file_size"): (
        FILES + "  run {\n    {}\n  }\n",
        lambda p: p.run.max_file_size,
    ),
    (ir.ApiSource, "timeout"): (API + "    {}\n  }\n", lambda p: p.source.timeout),
    (ir.RetryPolicy, "backoff"): (
        API + "    retry {\n      {}\n    }\n  }\n",
        lambda p: p.source.retry.backoff,
    ),
    (ir.RetryPolicy, "max_backoff"): (
        API + "    retry {\n      {}\n    }\n  }\n",
        lambda p: p.source.retry.max_backoff,
    ),
    (ir.DbSource, "lookback"): (DB + "    {}\n  }\n", lambda p: p.source.lookback),
    (ir.DbSource, "max_text_size"): (DB + "    {}\n  }\n", lambda p: p.source.max_text_size),
}


def _models(t: Any, seen: set[type[BaseModel]]) -> None:
    """Every model reachable from the annotation ``t``."""
    if isinstance(t, type) and issubclass(t, BaseModel):
        if t not in seen:
            seen.add(t)
            for f in t.model_fields.values():
                _models(f.annotation, seen)
        return
    for arg in typing.get_args(t):
        _models(arg, seen)


def unit_fields() -> dict[tuple[type[BaseModel], str], str]:
    seen: set[type[BaseModel]] = set()
    _models(ir.Pipeline, seen)
    found = {}
    for model in seen:
        for name, f in model.model_fields.items():
            unit = unit_of(f)
            if unit is not None:
                found[(model, name)] = unit
    return found


UNITS = unit_fields()
FIELDS = sorted(PLACES, key=lambda mf: (mf[0].__name__, mf[1]))
IDS = [f"{m.__name__}.{n}" for m, n in FIELDS]


def main_text(body: str) -> str:
    # line 1 import, 2 blank, 3 pipeline, 4 platform, then the body: field on line 5+
    return f'import "platform.bronze"\n\npipeline a.b {{\n  platform = dev\n{body}}}\n'


def compile_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: type[BaseModel], name: str, value: str
) -> tuple[ir.Project | None, ConfigError | None]:
    template, _ = PLACES[(model, name)]
    (tmp_path / "platform.bronze").write_text(PLATFORM)
    (tmp_path / "main.bronze").write_text(main_text(template.replace("{}", f"{name} = {value}")))
    monkeypatch.chdir(tmp_path)
    try:
        return load(["main.bronze"]), None
    except ConfigError as exc:
        return None, exc


def value_position(model: type[BaseModel], name: str, value: str) -> Position:
    template, _ = PLACES[(model, name)]
    text = main_text(template.replace("{}", f"{name} = {value}"))
    for n, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(f"{name} = "):
            col = line.index(" = ") + 4
            return Position("main.bronze", n, col, n, col + len(value))
    raise AssertionError(name)


WRONG = {"size": "5m", "duration": "5MB"}
RIGHT = {"size": ("5MB", 5 * 1024 * 1024), "duration": ("5m", 300.0)}
FIX = {"size": "5MB", "duration": "5m"}
OTHER = {"size": "duration", "duration": "size"}


def test_the_table_places_every_size_and_duration_field_of_the_ir() -> None:
    assert set(UNITS) == set(PLACES)


def test_the_ir_marks_sizes_and_durations() -> None:
    assert {f"{m.__name__}.{n}": u for (m, n), u in sorted(UNITS.items(), key=str)} == {
        "ApiSource.timeout": "duration",
        "DbSource.lookback": "duration",
        "DbSource.max_text_size": "size",
        "RetryPolicy.backoff": "duration",
        "RetryPolicy.max_backoff": "duration",
        "RunOptions.max_file_size": "size",
    }


@pytest.mark.parametrize(("model", "name"), FIELDS, ids=IDS)
def test_a_quantity_of_the_other_kind_is_refused_with_the_fix(
    model: type[BaseModel], name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = UNITS[(model, name)]
    _, error = compile_field(tmp_path, monkeypatch, model, name, WRONG[unit])
    assert error is not None
    assert error.diagnostics == [
        Diagnostic(
            f"'{name}' takes a {unit}, not a {OTHER[unit]}",
            value_position(model, name, WRONG[unit]),
            f"write a {unit}, e.g. {name} = {FIX[unit]}",
        )
    ]


@pytest.mark.parametrize(("model", "name"), FIELDS, ids=IDS)
def test_a_quantity_of_the_right_kind_lowers_to_bytes_or_seconds(
    model: type[BaseModel], name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written, expected = RIGHT[UNITS[(model, name)]]
    project, error = compile_field(tmp_path, monkeypatch, model, name, written)
    assert error is None
    assert project is not None
    value = PLACES[(model, name)][1](project.pipelines[0])
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(("model", "name"), FIELDS, ids=IDS)
def test_a_bare_number_is_bytes_or_seconds(
    model: type[BaseModel], name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, error = compile_field(tmp_path, monkeypatch, model, name, "7")
    assert error is None
    assert project is not None
    assert PLACES[(model, name)][1](project.pipelines[0]) == 7


@pytest.mark.parametrize(("model", "name"), FIELDS, ids=IDS)
def test_a_quoted_quantity_of_the_right_kind_gets_the_fix_without_quotes(
    model: type[BaseModel], name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = UNITS[(model, name)]
    written = f'"{FIX[unit]}"'
    _, error = compile_field(tmp_path, monkeypatch, model, name, written)
    assert error is not None
    assert error.diagnostics == [
        Diagnostic(
            f"'{name}' takes a {unit}, not a string",
            value_position(model, name, written),
            f"write {FIX[unit]} without quotes",
        )
    ]


# --- the rendered errors a user sees ---------------------------------------------------

RENDERED = {
    "size_field_given_a_duration": (ir.RunOptions, "max_file_size", "5m"),
    "size_field_given_seconds": (ir.RunOptions, "max_file_size", "30s"),
    "size_field_given_a_quoted_size": (ir.RunOptions, "max_file_size", '"5MB"'),
    "size_field_given_a_quoted_duration": (ir.RunOptions, "max_file_size", '"5m"'),
    "size_field_given_a_boolean": (ir.RunOptions, "max_file_size", "true"),
    "size_field_given_a_list": (ir.RunOptions, "max_file_size", "[5MB]"),
    "duration_field_given_a_size": (ir.ApiSource, "timeout", "5MB"),
    "duration_field_given_kilobytes": (ir.RetryPolicy, "backoff", "1KB"),
    "duration_field_given_a_quoted_duration": (ir.DbSource, "lookback", '"10m"'),
    "duration_field_given_a_word": (ir.DbSource, "lookback", "soon"),
}


@pytest.mark.parametrize("case", sorted(RENDERED))
def test_rendered_error(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snapshot) -> None:
    model, name, value = RENDERED[case]
    _, error = compile_field(tmp_path, monkeypatch, model, name, value)
    assert error is not None
    assert error.render() == snapshot


# --- sizes and durations where a plain value goes ----------------------------------------


def test_a_duration_in_a_number_field_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "platform.bronze").write_text(PLATFORM)
    (tmp_path / "main.bronze").write_text(main_text(FILES + "  run {\n    max_rows_per_file = 5m\n  }\n"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load(["main.bronze"])
    assert info.value.diagnostics == [
        Diagnostic(
            "'max_rows_per_file' must be an integer, not a duration",
            Position("main.bronze", 9, 25, 9, 27),
            "write a plain number, without a unit",
        )
    ]


def test_a_size_in_a_string_field_is_refused_with_quotes_as_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "platform.bronze").write_text(PLATFORM)
    (tmp_path / "main.bronze").write_text(main_text(DB + "    initial_cursor = 10KB\n  }\n"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load(["main.bronze"])
    assert info.value.diagnostics == [
        Diagnostic(
            "'initial_cursor' must be a string, not a size",
            Position("main.bronze", 8, 22, 8, 26),
            'write it in quotes: initial_cursor = "10KB"',
        )
    ]


def test_sizes_and_durations_in_free_form_params_stay_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "platform.bronze").write_text(PLATFORM)
    (tmp_path / "main.bronze").write_text(
        main_text(
            '  source custom {\n    module = "m"\n    class_name = "C"\n'
            "    params { chunk = 1KB, every = 2m }\n  }\n"
        )
    )
    monkeypatch.chdir(tmp_path)
    (p,) = load(["main.bronze"]).pipelines
    assert isinstance(p.source, ir.CustomSource)
    assert p.source.params == {"chunk": 1024, "every": 120.0}


# --- the YAML front end: the spec's sizes and durations are numbers ------------------------


def test_yaml_max_file_size_mb_is_a_size_in_megabytes() -> None:
    text = change("storage_enabled: true", "storage_enabled: true\n    max_file_size_mb: 5")
    assert one(text).run.max_file_size == 5 * 1024 * 1024


def test_yaml_timeout_seconds_is_a_duration_in_seconds() -> None:
    text = change("storage_enabled: true", "storage_enabled: true\n    timeout_seconds: 90")
    source = one(text).source
    assert isinstance(source, ir.ApiSource) and source.timeout == 90.0


def test_yaml_retry_backoff_is_a_duration_in_seconds() -> None:
    text = change('endpoint: "/orders"', 'endpoint: "/orders"\n    retry:\n      backoff: 2\n      max_backoff: 60')
    source = one(text).source
    assert isinstance(source, ir.ApiSource)
    assert (source.retry.backoff, source.retry.max_backoff) == (2.0, 60.0)
