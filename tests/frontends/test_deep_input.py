"""Hostile input ends in a positioned error, never in a traceback.

Nesting 20,000 levels deep, aliases that would expand a few lines into a
billion values, and characters YAML does not allow: `foundry validate` prints
one positioned error and exits 1, in both front ends. Nesting up to
``MAX_NESTING`` levels is read as usual.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_dsl.errors import ConfigError, Diagnostic, Position
from foundry_dsl.frontends.load import load
from foundry_dsl.frontends.medallion.read import MAX_ALIAS_VALUES
from foundry_dsl.frontends.positioned import MAX_NESTING
from tests.e2e.helpers import foundry

DEEP = 20_000
TOO_DEEP = "the file is nested too deeply to read"
BRONZE_HELP = f"at most {MAX_NESTING} blocks, lists and maps may be open inside one another"
YAML_HELP = f"at most {MAX_NESTING} mappings and lists may be nested inside one another"

CUSTOM = 'platform p {}\npipeline a.b {\n  source custom {\n    module = "m"\n    class_name = "C"\n'


def bronze_value(value: str) -> str:
    """A valid pipeline whose custom params hold ``x = value`` on line 7, column 11
    (three blocks are open around it: pipeline, source, params)."""
    return CUSTOM + f"    params {{\n      x = {value}\n    }}\n  }}\n}}\n"


def validate(tmp_path: Path, name: str, text: str) -> tuple[int, str, str]:
    (tmp_path / name).write_text(text, encoding="utf-8")
    result = foundry(tmp_path, "validate", name, timeout=60)
    return result.returncode, result.stdout, result.stderr


def errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> list[Diagnostic]:
    (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load([name])
    return info.value.diagnostics


# --- foundry validate, as a subprocess -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("lists.yaml", "a: " + "[" * DEEP + "]" * DEEP + "\n", "lists.yaml:1:103:"),
        ("maps.yaml", "a: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n", "maps.yaml:1:400:"),
        ("lists.bronze", bronze_value("[" * DEEP + "]" * DEEP), "lists.bronze:7:108:"),
        ("maps.bronze", bronze_value("{ a = " * DEEP + "1" + " }" * DEEP), "maps.bronze:7:593:"),
        ("blocks.bronze", "platform p {}\n" + "x {\n" * DEEP + "}\n" * DEEP, "blocks.bronze:102:3:"),
    ],
    ids=["yaml-lists", "yaml-maps", "bronze-lists", "bronze-maps", "bronze-blocks"],
)
def test_validate_refuses_20000_levels_with_a_positioned_error(
    name: str, text: str, where: str, tmp_path: Path
) -> None:
    code, out, err = validate(tmp_path, name, text)
    assert code == 1
    assert "Traceback" not in err + out
    assert err.startswith(f"{where} error: {TOO_DEEP}\n")
    assert err.endswith("\n1 error found\n")


def test_validate_refuses_a_billion_laughs(tmp_path: Path) -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    code, out, err = validate(tmp_path, "lol.yaml", "\n".join(lines) + "\n")
    assert code == 1
    assert "Traceback" not in err + out
    assert err.startswith(f"lol.yaml:5:45: error: aliases expand to more than {MAX_ALIAS_VALUES:,} values\n")


# --- the errors, in process ------------------------------------------------------------


def test_yaml_deep_block_mappings_stop_at_the_first_level_too_many(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "".join(" " * i + f"k{i}:\n" for i in range(1000)) + " " * 1000 + "v: 1\n"
    assert errors(tmp_path, monkeypatch, "deep.yaml", text) == [
        Diagnostic(TOO_DEEP, Position("deep.yaml", MAX_NESTING + 1, MAX_NESTING + 1), YAML_HELP)
    ]


def test_yaml_an_alias_counts_as_the_nesting_it_brings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "x0: &x0 " + "[" * 60 + "]" * 60 + "\nx1: " + "[" * 60 + "*x0" + "]" * 60 + "\n"
    assert errors(tmp_path, monkeypatch, "alias.yaml", text) == [
        Diagnostic(
            TOO_DEEP,
            Position("alias.yaml", 2, 65),
            f"{YAML_HELP} (an alias *name counts as what &name holds)",
        )
    ]


def test_yaml_aliases_are_refused_where_they_pass_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = ", ".join(["x"] * 999)
    text = f"a: &a [{values}]\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    (d,) = errors(tmp_path, monkeypatch, "many.yaml", text)
    # 100 copies of 1,000 values are the limit; the 101st passes it
    assert d.message == f"aliases expand to more than {MAX_ALIAS_VALUES:,} values"
    assert d.position == Position("many.yaml", 2, 5 + 4 * 100)


def test_yaml_nesting_up_to_the_limit_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    depth = MAX_NESTING - 1  # inside the document's own mapping
    found = errors(tmp_path, monkeypatch, "ok.yaml", "a: " + "[" * depth + "]" * depth + "\n")
    assert TOO_DEEP not in [d.message for d in found]
    assert found  # the spec's own complaints about a document that is not a pipeline


def test_yaml_one_level_more_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    depth = MAX_NESTING
    assert errors(tmp_path, monkeypatch, "deep.yaml", "a: " + "[" * depth + "]" * depth + "\n") == [
        Diagnostic(TOO_DEEP, Position("deep.yaml", 1, 3 + depth), YAML_HELP)
    ]


def test_bronze_nesting_up_to_the_limit_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    depth = MAX_NESTING - 3  # pipeline, source and params are open around the value
    (tmp_path / "ok.bronze").write_text(bronze_value("[" * depth + "]" * depth))
    monkeypatch.chdir(tmp_path)
    (p,) = load(["ok.bronze"]).pipelines
    assert p.name == "a.b"


def test_bronze_one_level_more_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    depth = MAX_NESTING - 2
    text = bronze_value("[" * depth + "]" * depth)
    assert errors(tmp_path, monkeypatch, "deep.bronze", text) == [
        Diagnostic(TOO_DEEP, Position("deep.bronze", 7, 10 + depth, 7, 11 + depth), BRONZE_HELP)
    ]


def test_bronze_errors_before_the_deep_part_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "platform p {\n  partition: date\n}\n" + bronze_value("[" * DEEP + "]" * DEEP)
    messages = [d.message for d in errors(tmp_path, monkeypatch, "two.bronze", text)]
    assert messages == ["unexpected character ':'", TOO_DEEP]


# --- other input YAML does not allow ---------------------------------------------------


def test_yaml_a_control_character_is_a_positioned_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert errors(tmp_path, monkeypatch, "ctrl.yaml", 'a: 1\nb: "x\x01y"\n') == [
        Diagnostic(
            "invalid YAML: unexpected character '\\x01'",
            Position("ctrl.yaml", 2, 6, 2, 7),
            "an invisible character: delete it and retype the text around it",
        )
    ]


@pytest.mark.parametrize(("key", "shown"), [("[a, b]", "a list"), ("{a: 1}", "a block")])
def test_yaml_a_list_or_mapping_as_a_key_is_a_positioned_error(
    key: str, shown: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert errors(tmp_path, monkeypatch, "key.yaml", f"? {key}\n: 1\n") == [
        Diagnostic(f"keys must be names, got {shown}", Position("key.yaml", 1, 3, 1, 9), "quote the key")
    ]


# --- what the user sees ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.yaml", "source:\n  run:\n    x: " + "[" * 98 + "]" * 98 + "\n"),
        ("deep.bronze", bronze_value("[" * 98 + "]" * 98)),
        ("lol.yaml", "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
         + "".join(f"b{i}: &b{i} [" + ", ".join(["*a" if i == 0 else f"*b{i - 1}"] * 10) + "]\n" for i in range(6))),
    ],
    ids=["yaml-deep", "bronze-deep", "yaml-aliases"],
)
def test_rendered_error(name: str, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snapshot) -> None:
    (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load([name])
    assert info.value.render() == snapshot
