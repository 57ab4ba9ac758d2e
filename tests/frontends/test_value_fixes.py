"""Mistakes a new user makes in the first hour, each answered with the fix itself.

`formats = parquet` (one value where a list belongs), `auth = bearer { ... }`
(a block written with `=`), a size in quotes written loosely (`"5 mb"`), and the
field reference that documents `auth api_key { name }` and sizes as sizes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_dsl import api
from foundry_dsl.errors import ConfigError, Diagnostic
from foundry_dsl.frontends.reference import field_tables

PLATFORM = 'platform lake {\n  storage local {\n    path = "out"\n  }\n}\n\n'


def _errors(tmp_path: Path, text: str) -> list[Diagnostic]:
    path = tmp_path / "p.bronze"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        api.load([str(path)])
    return err.value.diagnostics


def _pipeline(source: str, run: str = "") -> str:
    return (f"{PLATFORM}pipeline shop.orders {{\n  platform = lake\n  {source}\n"
            f"  run {{\n    {run}\n  }}\n}}\n")


FILES = 'source files {\n    paths = ["*.csv"]\n  }'


def test_a_single_format_is_refused_with_the_list_to_write(tmp_path: Path) -> None:
    (d,) = _errors(tmp_path, _pipeline(FILES, "formats = parquet"))
    assert (d.message, d.help) == (
        "'formats' must be a list, got parquet", "write it as a list: formats = [parquet]",
    )


def test_a_single_path_is_offered_as_a_list_of_one_quoted_string(tmp_path: Path) -> None:
    (d,) = _errors(tmp_path, _pipeline('source files {\n    paths = "data/*.csv"\n  }'))
    assert d.help == 'write it as a list: paths = ["data/*.csv"]'


def test_a_single_value_the_list_would_not_take_gets_no_made_up_fix(tmp_path: Path) -> None:
    (d,) = _errors(tmp_path, _pipeline(FILES, "formats = orc"))
    assert (d.message, d.help) == ("'formats' must be a list, got orc", None)


BLOCK_WITH_EQUALS = _pipeline(
    'source api {\n    base_url = "http://x"\n    auth = bearer {\n      token = env("T")\n    }\n  }'
)


def test_a_block_written_with_equals_is_one_error_at_the_equals(tmp_path: Path) -> None:
    (d,) = _errors(tmp_path, BLOCK_WITH_EQUALS)
    assert (d.message, d.help, d.kind().code) == (
        "'auth' is a block, and blocks take no '='", "write auth bearer { ... }", "E013",
    )
    assert d.position is not None and (d.position.line, d.position.col) == (11, 10)


def test_a_block_written_with_equals_is_still_read_to_its_end(tmp_path: Path) -> None:
    text = BLOCK_WITH_EQUALS.replace('token = env("T")', "token = = x")
    assert [d.message for d in _errors(tmp_path, text)] == [
        "'auth' is a block, and blocks take no '='", "unexpected '=' after '='",
    ]


@pytest.mark.parametrize(
    ("written", "fix"),
    [('"5 mb"', "5MB"), ('"5mb"', "5MB"), ('"5MiB"', "5MB"), ('"5 M"', "5MB"), ('"1_024 KB"', "1_024KB")],
)
def test_a_quoted_size_written_loosely_gets_the_size_to_write(
    tmp_path: Path, written: str, fix: str
) -> None:
    (d,) = _errors(tmp_path, _pipeline(FILES, f"max_file_size = {written}"))
    assert d.help == f"write {fix} without quotes"


def test_a_quoted_duration_written_loosely_gets_the_duration_to_write(tmp_path: Path) -> None:
    source = 'source api {\n    base_url = "http://x"\n    timeout = "30 sec"\n  }'
    (d,) = _errors(tmp_path, _pipeline(source))
    assert d.help == "write 30s without quotes"


def test_a_quoted_word_in_a_size_field_gets_an_example(tmp_path: Path) -> None:
    (d,) = _errors(tmp_path, _pipeline(FILES, 'max_file_size = "big"'))
    assert d.help == "write a size, e.g. max_file_size = 128MB"


def _reference_rows(block: str) -> list[str]:
    text = field_tables()
    section = text.split(f"**{block}**\n\n", 1)[1].split("\n\n", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def test_the_reference_lists_the_header_name_of_api_key_auth() -> None:
    assert _reference_rows("api_key")[0] == "| `name` | string | `X-API-Key` |"


def test_the_reference_calls_max_file_size_a_size() -> None:
    assert "| `max_file_size` | size | `0` |" in field_tables().splitlines()
