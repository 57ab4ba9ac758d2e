"""Syntax layer: every mistake gives a positioned, human ConfigError, and nothing else escapes.

The table below is the error-message table of ``frontends.bronze.messages``: one example per
rule, each snapshotted as the full rendered error.
"""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_dsl.errors import ConfigError
from foundry_dsl.frontends.bronze import tree as syntax
from foundry_dsl.frontends.bronze.parser import parse

F = "t.bronze"

MISTAKES: dict[str, str] = {
    "missing_equals_before_string": 'p {\n  bucket "analytics"\n}\n',
    "missing_equals_before_number": "p {\n  workers 2\n}\n",
    "missing_equals_in_map": "p { o = { a 1 } }\n",
    "missing_brace_after_header": "pipeline github.issues\n  platform = analytics\n}\n",
    "unclosed_brace": "pipeline a {\n  source x {\n    a = 1\n  }\n",
    "unclosed_map": "p {\n  o = {\n    a = 1\n",
    "unclosed_list": "p {\n  a = [1, 2\n  b = 3\n}\n",
    "unclosed_list_at_end": "p {\n  a = [1, 2\n",
    "list_missing_comma": "p { a = [1 2] }\n",
    "unterminated_string": 'p {\n  a = "abc\n  b = 2\n}\n',
    "unterminated_triple_string": 'p {\n  q = """\n    select 1\n}\n',
    "invalid_escape": 'p { a = "C:\\dir" }\n',
    "size_unit_unknown": "p { max_file_size = 128MiB }\n",
    "size_unit_lower_case": "p { max_file_size = 5mb }\n",
    "duration_unit_unknown": "p { lookback = 5min }\n",
    "duration_unit_upper_case": "p { lookback = 30S }\n",
    "ambiguous_unit_m": "p { x = 5M }\n",
    "size_not_whole_bytes": "p { x = 1.5B }\n",
    "invalid_date": "p { date = 2025-02-30 }\n",
    "invalid_datetime": "p { since = 2025-01-12T25:00:00Z }\n",
    "invalid_number": "p { x = 1.2.3 }\n",
    "env_with_number": "p { token = env(1) }\n",
    "env_with_two_args": 'p { token = env("A", "B") }\n',
    "unknown_function": 'p { token = ENV("A") }\n',
    "stray_closing_brace": "p {}\n}\n",
    "missing_value_at_end_of_line": "p {\n  a =\n  b = 2\n}\n",
    "missing_value_before_brace": "p { a = }\n",
    "two_values_on_a_line": "p {\n  a = 1 2\n}\n",
    "bad_character": "p {\n  a = @x\n}\n",
    "single_quotes": "p { a = 'x' }\n",
    "colon_instead_of_equals": "p { a: 1 }\n",
    "import_inside_block": 'p {\n  import "x.bronze"\n}\n',
    "import_without_quotes": "import platform.bronze\n",
    "attribute_at_top_level": "partition = hourly\n",
    "dotted_key": "p { a.b = 1 }\n",
    "dotted_block_kind": "a.b {}\n",
    "value_at_top_level": "123\n",
    "equals_without_key": "p {\n  = 1\n}\n",
    "block_written_with_equals": 'p {\n  auth = bearer {\n    token = env("T")\n  }\n}\n',
    "non_ascii_letter_in_name": "pipeline crm.kunden_\u00fcbersicht {}\n",
    "non_ascii_name_after_dot": "pipeline crm.\u00fcbersicht {}\n",
    "invisible_character": "p {\n  a\u200b = 1\n}\n",
    "value_after_equals_is_a_keyword": "p { a = import }\n",
    "two_blocks_on_a_line": "a {} b {}\n",
    "block_then_attribute_on_a_line": "a { x {} y = 1 }\n",
    "string_key_without_value": 'p { "User-Agent" }\n',
    "unclosed_call": 'p { a = env("X" }\n',
}


def render(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text, F)
    return info.value.render()


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_mistake_is_rendered_as_positioned_error(name: str, snapshot: object) -> None:
    rendered = render(MISTAKES[name])
    assert re.match(r"t\.bronze:\d+:\d+: error: \S", rendered)
    assert "\n  | " in rendered and "^" in rendered
    assert rendered == snapshot


def test_every_mistake_has_its_own_message() -> None:
    firsts = {}
    for name, text in MISTAKES.items():
        with pytest.raises(ConfigError) as info:
            parse(text, F)
        firsts[name] = info.value.diagnostics[0].message
    # a few pairs share a message on purpose (same rule, different tokens)
    assert len(set(firsts.values())) >= 30


def test_errors_carry_positions_and_help() -> None:
    with pytest.raises(ConfigError) as info:
        parse("p {\n  max_file_size = 128MiB\n}\n", F)
    (d,) = info.value.diagnostics
    assert (d.position.line, d.position.col, d.position.end_col) == (2, 19, 25)  # type: ignore[union-attr]
    assert d.message == "unknown size unit 'MiB'"
    assert d.help is not None and "128MB" in d.help


def test_several_errors_are_reported_in_one_run(snapshot: object) -> None:
    text = (
        "p {\n"
        "  a =\n"
        "  b 3\n"
        "  c = 2025-13-01\n"
        "  d = 1 2\n"
        "  e = 5mb\n"
        "  f = [1, 2\n"
        "}\n"
        "q {\n"
    )
    with pytest.raises(ConfigError) as info:
        parse(text, F)
    assert [d.position.line for d in info.value.diagnostics] == [2, 3, 4, 5, 6, 7, 9]  # type: ignore[union-attr]
    assert info.value.render() == snapshot


def test_slip_inside_multiline_list_does_not_cascade() -> None:
    with pytest.raises(ConfigError) as info:
        parse("p {\n  a = [\n    1\n    2\n  ]\n  b = 2025-99-01\n}\n", F)
    assert [(d.position.line, d.message) for d in info.value.diagnostics] == [  # type: ignore[union-attr]
        (4, "expected ',' or ']' after a list item, found '2'"),
        (6, "invalid date '2025-99-01': month must be in 1..12"),
    ]


def test_header_without_brace_is_read_as_a_block_when_the_body_is_indented() -> None:
    with pytest.raises(ConfigError) as info:
        parse("pipeline a.b\n  platform = x\n  run { bad = 5mb }\n}\n", F)
    assert [d.position.line for d in info.value.diagnostics] == [1, 3]  # type: ignore[union-attr]


def test_one_error_per_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse("p {\n  a = @ 1 2 ]\n}\n", F)
    assert len(info.value.diagnostics) == 1


# --------------------------------------------------------------------------- fuzzing

VALID = [
    """# platform.bronze
platform analytics {
  storage s3 {
    bucket     = "analytics-bronze"
    endpoint   = env("BRONZE_S3_ENDPOINT")
  }
  partition   = hourly          # date | hourly
  formats     = [parquet]
}

source github api {
  base_url = "https://api.github.com"
  headers { "User-Agent" = "foundry", Accept = "application/vnd.github+json" }
  auth bearer { token = env("GITHUB_TOKEN") }
  paginate link {}
}
""",
    '''import "platform.bronze"

pipeline pg.orders {
  platform = analytics
  source db {
    query = """
      SELECT * FROM orders
    """
    incremental { key = "updated_at", lookback = 10m }
    batch_size = 10_000
  }
  run {
    formats = [parquet, csv,]
    date = 2025-01-12
    since = 2025-01-12T14:30:00Z
    ratio = -0.5e3
    nothing = null
    options = {
      delimiter = ",", header = true
    }
  }
  # done
}
''',
]

TOKENS = [
    "{", "}", "[", "]", "(", ")", "=", ",", "\n", " ", '"', '"""', "#", "import", "env",
    "env(", "x", "a.b", "1", "-", "1.5", "128MB", "5m", "2025-02-30", "2025-01-12T10:00Z",
    "true", "null", "'", "\\", "@", ":", "\t", "\r", "é", "1e", "9" * 30,
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "swap"]))
        i = draw(st.integers(0, len(text)))
        if op == "delete":
            j = draw(st.integers(i, min(len(text), i + 12)))
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        else:
            words = re.split(r"(\s+)", text)
            a = draw(st.integers(0, len(words) - 1))
            b = draw(st.integers(0, len(words) - 1))
            words[a], words[b] = words[b], words[a]
            text = "".join(words)
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_any_mutation_gives_a_file_or_a_config_error(text: str) -> None:
    try:
        result = parse(text, F)
    except ConfigError as e:
        assert e.diagnostics
        for d in e.diagnostics:
            assert d.position is not None and d.position.file == F
        e.render()
    else:
        assert isinstance(result, syntax.File)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_any_token_soup_gives_a_file_or_a_config_error(tokens: list[str]) -> None:
    with contextlib.suppress(ConfigError):
        parse("".join(tokens), F)
