"""fmt: one canonical layout, idempotent, and it never changes what a file means."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from foundry_dsl.errors import ConfigError, Position
from foundry_dsl.frontends.bronze import tree as syntax
from foundry_dsl.frontends.bronze.parser import parse
from foundry_dsl.frontends.fmt import format_file, format_text

F = "t.bronze"
NOWHERE = Position("", 0, 0)


def meaning(node: Any) -> Any:
    """The tree with positions, comments, raw text and the source blanked out."""
    if isinstance(node, Position):
        return NOWHERE
    if isinstance(node, tuple):
        return tuple(meaning(n) for n in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {}
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if f.name in ("comments", "inner_comments", "trailing_comments"):
                value = ()
            elif f.name in ("trailing", "text") and isinstance(node, syntax.Attribute | syntax.Block | syntax.Import | syntax.File):
                value = None if f.name == "trailing" else ""
            elif f.name == "raw":
                value = ""
            else:
                value = meaning(value)
            changes[f.name] = value
        return dataclasses.replace(node, **changes)
    return node


SAMPLES = {
    "platform": """# platform.bronze: owned by the data platform team

platform analytics {
  storage s3 {
    bucket     = "analytics-bronze"
    endpoint   = env("BRONZE_S3_ENDPOINT")
  }
  partition   = hourly          # date | hourly | timestamp | batch_id, or none
  formats     = [parquet]       # parquet, csv
  compression = snappy
}
source github api {
  headers { "User-Agent" = "foundry", Accept = "application/vnd.github+json" }
  auth bearer { token = env("GITHUB_TOKEN") }
  paginate link {}
}
""",
    "pipeline": '''import "platform.bronze"
import "stdlib/github.bronze"
pipeline pg.orders {
  platform = analytics
  source db {
    connection = env("PG_CONN")
    query = """
      SELECT * FROM orders WHERE is_deleted = false
    """
    incremental { key = "updated_at", lookback = 10m }
    batch_size = 10_000
  }


  run {
    formats = [parquet, csv]
    date = 2025-01-12
    since = 2025-01-12T14:30:00Z
    ratio = 0.5
    tags = ["a", "b"]
    options = { delimiter = ",", header = true }
  }
}
''',
    "comments_everywhere": """# head
a {  # after brace
  # above b
  b = 1  # after b
  o = {
    # above x
    x = [1,
      2]  # after list
    # before map brace
  }
  c {
    d = 1
  }  # after c
  e = 2
  # before a brace
}
# end of file
""",
    "commas_and_one_liners": "a { b = 1, c { d = 2 }, e = [ 1,2 , ], f = {  } , g = {x=1} }\nimport \"z\"\n",
    "long_line": "a { b = [" + ", ".join(f'"item number {i}"' for i in range(12)) + "] }\n",
    "multiline_list_of_maps": "a {\n  l = [\n    { a = 1 },\n    {\n      b = 2\n    },\n  ]\n}\n",
    "quoted_keys_and_labels": 'a "x y" b.c {\n  "k-1" = "v"\n  "plain" = 1\n}\n',
    "only_comments": "# just\n# comments\n",
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_fmt_is_idempotent(name: str) -> None:
    once = format_text(SAMPLES[name], F)
    assert format_text(once, F) == once


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_fmt_keeps_the_tree(name: str) -> None:
    text = SAMPLES[name]
    assert meaning(parse(format_text(text, F), F)) == meaning(parse(text, F))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_fmt_keeps_every_comment(name: str) -> None:
    text = SAMPLES[name]
    out = format_text(text, F)
    for line in text.splitlines():
        if "#" in line and '"' not in line:
            assert line[line.index("#") :].rstrip() in out


def test_messy_input_formats_canonically(snapshot: object) -> None:
    messy = (
        'import   "platform.bronze"\n\n\nimport "stdlib/github.bronze"  # templates\n'
        "pipeline    github.issues{   # system.table\n"
        "platform=analytics\n"
        "      source github {\n"
        '  endpoint="/repos/owner/repo/issues",params{state="all",per_page=100}\n'
        "        }\n\n\n\n"
        "  run { max_file_size = 128MB, workers = 2, formats = [ parquet ,csv ], }\n"
        "  # trailing thoughts\n"
        "}\n"
        "pipeline x {}\n"
        "# bye\n"
    )
    out = format_text(messy, F)
    assert out == snapshot
    assert format_text(out, F) == out


def test_one_line_block_that_does_not_fit_is_split() -> None:
    text = "a { b { " + ", ".join(f"k{i} = {i}" for i in range(30)) + " } }\n"
    out = format_text(text, F)
    assert out.splitlines()[:3] == ["a {", "  b {", "    k0 = 0"]


def test_multiline_block_stays_multiline() -> None:
    assert format_text("a {\n  b = 1\n}\n", F) == "a {\n  b = 1\n}\n"


def test_fmt_keeps_numbers_and_strings_as_written() -> None:
    text = 'a { n = 1_000_000, f = 1e3, s = "\\u00e9", d = 2025-01-12T14:30:00+02:00 }\n'
    assert format_text(text, F) == text


def test_fmt_of_constructed_tree_without_raw() -> None:
    pos = Position(F, 1, 1, 1, 1)
    tree = syntax.File(
        F,
        (
            syntax.Block(
                "run",
                (),
                (
                    syntax.Attribute("workers", pos, syntax.ScalarValue(2, pos)),
                    syntax.Attribute("token", pos, syntax.ScalarValue(syntax.EnvCall("T"), pos)),
                ),
                pos,
            ),
        ),
        "",
    )
    assert format_file(tree) == 'run { workers = 2, token = env("T") }\n'


def test_fmt_refuses_broken_files() -> None:
    with pytest.raises(ConfigError):
        format_text("a {\n", F)


def _parsed(text: str) -> Any:
    """The tree of ``text``, or None when it does not parse."""
    try:
        return parse(text, F)
    except ConfigError:
        return None


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(SAMPLES)),
    st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from([" ", "\n", "\n\n", ","])), max_size=4),
)
def test_fmt_is_stable_under_whitespace_changes(name: str, edits: list[tuple[int, str]]) -> None:
    text = SAMPLES[name]
    for at, insert in edits:
        i = at % (len(text) + 1)
        text = text[:i] + insert + text[i:]
    tree = _parsed(text)
    # an edit that breaks the file (a comma inside a word) checks nothing: hypothesis
    # counts it as discarded, not as an example that held
    assume(tree is not None)
    assert tree is not None
    once = format_file(tree)
    assert format_text(once, F) == once
    assert meaning(parse(once, F)) == meaning(tree)
