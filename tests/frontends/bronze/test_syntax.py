"""Syntax layer: `.bronze` text → syntax tree (values, labels, blocks, comments, positions)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from foundry_dsl.errors import ConfigError, Position
from foundry_dsl.frontends.bronze import tree as syntax
from foundry_dsl.frontends.bronze.parser import parse

F = "t.bronze"


def P(line: int, col: int, end_line: int, end_col: int) -> Position:
    return Position(F, line, col, end_line, end_col)


def only_block(text: str) -> syntax.Block:
    (item,) = parse(text, F).items
    assert isinstance(item, syntax.Block)
    return item


def attr(text: str) -> syntax.Attribute:
    """The single attribute of `b { <text> }`."""
    (member,) = only_block("b {\n" + text + "\n}\n").body
    assert isinstance(member, syntax.Attribute)
    return member


def value_of(text: str) -> syntax.Value:
    return attr(f"v = {text}").value


def scalar(text: str) -> syntax.Scalar:
    v = value_of(text)
    assert isinstance(v, syntax.ScalarValue)
    assert v.raw == text
    return v.value


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"hello"', "hello"),
        ('""', ""),
        ('"tab\\tquote\\"back\\\\slash\\u00e9"', 'tab\tquote"back\\slashé'),
        ('"# not a comment"', "# not a comment"),
    ],
)
def test_string_uses_json_escapes(text: str, expected: str) -> None:
    assert scalar(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("100", 100), ("0", 0), ("-7", -7), ("1_000_000", 1_000_000), ("10_000", 10000)],
)
def test_integer(text: str, expected: int) -> None:
    value = scalar(text)
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.5", 0.5), ("-1.25", -1.25), ("1e3", 1000.0), ("2.5e-3", 0.0025), ("1E+2", 100.0)],
)
def test_float(text: str, expected: float) -> None:
    value = scalar(text)
    assert value == expected
    assert type(value) is float


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("10B", 10),
        ("512KB", 512 * 1024),
        ("128MB", 128 * 1024**2),
        ("1.5GB", 3 * 1024**3 // 2),
        ("2TB", 2 * 1024**4),
        ("1_024KB", 1024 * 1024),
    ],
)
def test_size_is_binary_bytes(text: str, size: int) -> None:
    assert scalar(text) == syntax.Size(size, text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("100ms", 0.1), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), ("1.5h", 5400.0)],
)
def test_duration_in_seconds(text: str, seconds: float) -> None:
    assert scalar(text) == syntax.Duration(seconds, text)


def test_date() -> None:
    assert scalar("2025-01-12") == dt.date(2025, 1, 12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-12T14:30:00Z", dt.datetime(2025, 1, 12, 14, 30, tzinfo=dt.timezone.utc)),
        (
            "2025-01-12T14:30:00+02:00",
            dt.datetime(2025, 1, 12, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        ),
        (
            "2025-01-12T14:30:00-05:30",
            dt.datetime(2025, 1, 12, 14, 30, tzinfo=dt.timezone(-dt.timedelta(hours=5, minutes=30))),
        ),
        ("2025-01-12T14:30:00", dt.datetime(2025, 1, 12, 14, 30)),
        ("2025-01-12T14:30", dt.datetime(2025, 1, 12, 14, 30)),
        ("2025-01-12T14:30:05.25", dt.datetime(2025, 1, 12, 14, 30, 5, 250000)),
    ],
)
def test_datetime(text: str, expected: dt.datetime) -> None:
    value = scalar(text)
    assert value == expected
    assert isinstance(value, dt.datetime)
    assert value.tzinfo == expected.tzinfo


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("false", False), ("null", None)])
def test_true_false_null(text: str, expected: bool | None) -> None:
    assert scalar(text) is expected


@pytest.mark.parametrize("name", ["hourly", "parquet", "github.issues", "_x1"])
def test_bare_name_is_ident(name: str) -> None:
    assert scalar(name) == syntax.Ident(name)


def test_env_call() -> None:
    v = value_of('env( "GITHUB_TOKEN" )')
    assert v == syntax.ScalarValue(
        syntax.EnvCall("GITHUB_TOKEN"), P(2, 5, 2, 26), 'env("GITHUB_TOKEN")'
    )


def test_triple_quoted_string_is_dedented_without_first_and_last_newline() -> None:
    text = 'q = """\n    SELECT *\n      FROM t\n    """'
    v = attr(text).value
    assert isinstance(v, syntax.ScalarValue)
    assert v.value == "SELECT *\n  FROM t"
    assert v.raw == '"""\n    SELECT *\n      FROM t\n    """'
    assert v.pos == P(2, 5, 5, 8)


def test_triple_quoted_string_is_raw() -> None:
    assert scalar('"""a\\nb "quoted" # c"""') == 'a\\nb "quoted" # c'


def test_list_of_mixed_values_with_positions() -> None:
    v = value_of('[a, "b", 3]')
    assert v == syntax.ListValue(
        (
            syntax.ScalarValue(syntax.Ident("a"), P(2, 6, 2, 7), "a"),
            syntax.ScalarValue("b", P(2, 9, 2, 12), '"b"'),
            syntax.ScalarValue(3, P(2, 14, 2, 15), "3"),
        ),
        P(2, 5, 2, 16),
    )


def test_list_may_span_lines_with_trailing_comma() -> None:
    v = value_of("[\n  parquet,\n  csv,\n]")
    assert isinstance(v, syntax.ListValue)
    assert [i.value for i in v.items if isinstance(i, syntax.ScalarValue)] == [
        syntax.Ident("parquet"),
        syntax.Ident("csv"),
    ]
    assert v.pos == P(2, 5, 5, 2)


def test_empty_list_and_nested_list() -> None:
    v = value_of("[[], [1]]")
    assert isinstance(v, syntax.ListValue)
    inner_empty, inner_one = v.items
    assert inner_empty == syntax.ListValue((), P(2, 6, 2, 8))
    assert isinstance(inner_one, syntax.ListValue) and len(inner_one.items) == 1


def test_inline_map_is_map_value() -> None:
    v = value_of('{ delimiter = ",", header = true }')
    assert isinstance(v, syntax.MapValue)
    assert [(e.key, e.value) for e in v.entries] == [
        ("delimiter", syntax.ScalarValue(",", P(2, 19, 2, 22), '","')),
        ("header", syntax.ScalarValue(True, P(2, 33, 2, 37), "true")),
    ]
    assert v.pos == P(2, 5, 2, 39)


def test_map_may_span_lines() -> None:
    v = value_of("{\n  a = 1\n  b = 2,\n}")
    assert isinstance(v, syntax.MapValue)
    assert [e.key for e in v.entries] == ["a", "b"]


def test_empty_map() -> None:
    assert value_of("{}") == syntax.MapValue((), P(2, 5, 2, 7))


def test_map_in_list() -> None:
    v = value_of("[{ a = 1 }, {\n  b = 2\n}]")
    assert isinstance(v, syntax.ListValue)
    assert all(isinstance(i, syntax.MapValue) for i in v.items)


# --------------------------------------------------------------------------- structure


def test_attribute_key_position() -> None:
    a = attr("  bucket = 1")
    assert a.key == "bucket"
    assert a.key_pos == P(2, 3, 2, 9)


def test_quoted_key() -> None:
    a = attr('"User-Agent" = "foundry"')
    assert a.key == "User-Agent"
    assert a.key_pos == P(2, 1, 2, 13)


def test_keywordlike_names_are_fine_as_keys() -> None:
    block = only_block("b { env = 1, true = 2, null = 3 }")
    assert [m.key for m in block.body if isinstance(m, syntax.Attribute)] == ["env", "true", "null"]


def test_block_with_labels() -> None:
    block = only_block('source github api {}\n')
    assert (block.kind, block.labels, block.body) == ("source", ("github", "api"), ())
    assert block.pos == P(1, 1, 1, 21)
    assert block.label_pos == (P(1, 8, 1, 14), P(1, 15, 1, 18))


def test_dotted_and_string_labels() -> None:
    block = only_block('pipeline github.issues "my label" {}')
    assert block.labels == ("github.issues", "my label")


def test_block_without_labels() -> None:
    block = only_block("run {\n}")
    assert (block.kind, block.labels, block.body) == ("run", (), ())
    assert block.pos == P(1, 1, 2, 2)


def test_nested_block_versus_map_attribute() -> None:
    block = only_block("s {\n  params { a = 1 }\n  options = { a = 1 }\n}")
    params, options = block.body
    assert isinstance(params, syntax.Block) and params.kind == "params"
    assert isinstance(options, syntax.Attribute) and isinstance(options.value, syntax.MapValue)


def test_one_line_body_with_commas_and_trailing_comma() -> None:
    block = only_block("run { a = 1, b = 2, }")
    assert [m.key for m in block.body if isinstance(m, syntax.Attribute)] == ["a", "b"]


def test_body_mixes_newlines_and_commas() -> None:
    block = only_block("run {\n  a = 1,\n\n  b = 2\n  c = 3, d = 4\n}")
    assert [m.key for m in block.body if isinstance(m, syntax.Attribute)] == ["a", "b", "c", "d"]


def test_imports() -> None:
    file = parse('import "platform.bronze"\nimport "stdlib/github.bronze"\n', F)
    assert file.items == (
        syntax.Import("platform.bronze", P(1, 1, 1, 25)),
        syntax.Import("stdlib/github.bronze", P(2, 1, 2, 30)),
    )


def test_file_keeps_path_and_text() -> None:
    text = "a {}\n"
    file = parse(text, "dir/x.bronze")
    assert (file.path, file.text) == ("dir/x.bronze", text)
    assert file.items[0].pos.file == "dir/x.bronze"


def test_empty_file() -> None:
    assert parse("", F).items == ()
    assert parse("\n\n  \n", F).items == ()


def test_no_trailing_newline_and_crlf() -> None:
    assert only_block("a {\r\n  b = 1\r\n}").body[0] == syntax.Attribute(
        "b", P(2, 3, 2, 4), syntax.ScalarValue(1, P(2, 7, 2, 8), "1")
    )


# --------------------------------------------------------------------------- comments


def test_full_line_comments_attach_to_next_item() -> None:
    file = parse("# one\n# two\na {\n  # about b\n  b = 1\n}\n", F)
    (block,) = file.items
    assert isinstance(block, syntax.Block)
    assert block.comments == ("# one", "# two")
    assert block.body[0].comments == ("# about b",)


def test_trailing_comment_attaches_to_item_on_its_line() -> None:
    block = only_block("a {  # header\n  b = 1   # why b  \n}")
    assert block.trailing == "# header"
    assert block.body[0].trailing == "# why b"


def test_trailing_comment_of_one_line_block_goes_to_block() -> None:
    block = only_block("a {\n  h { x = 1 }  # hi\n}")
    inner = block.body[0]
    assert isinstance(inner, syntax.Block)
    assert inner.trailing == "# hi"
    assert inner.body[0].trailing is None


def test_comment_before_closing_brace_is_inner_comment() -> None:
    block = only_block("a {\n  b = 1\n  # last\n}")
    assert block.inner_comments == ("# last",)
    assert block.body[0].comments == ()


def test_comments_at_end_of_file() -> None:
    file = parse("a {}\n# bye\n# now\n", F)
    assert file.trailing_comments == ("# bye", "# now")


def test_comment_inside_multiline_map_attaches_to_entry() -> None:
    v = attr("o = {\n  # first\n  x = 1  # one\n}").value
    assert isinstance(v, syntax.MapValue)
    assert (v.entries[0].comments, v.entries[0].trailing) == (("# first",), "# one")


def test_comment_after_multiline_block_brace_moves_above_next_item() -> None:
    block = only_block("a {\n  b {\n    x = 1\n  }  # end b\n  c = 2\n}")
    assert block.body[1].comments == ("# end b",)


def test_hash_inside_string_is_not_a_comment() -> None:
    file = parse('a { b = "#x" }\n', F)
    assert file.trailing_comments == ()


# --------------------------------------------------------------------------- robustness


def test_importing_the_parser_does_not_import_lark() -> None:
    code = "import sys, foundry_dsl.frontends.bronze.parser; print('lark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_deep_nesting_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        parse("a { b = " + "[" * 3000 + "]" * 3000 + " }", F)
