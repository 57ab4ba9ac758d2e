"""The table of diagnostic codes (`foundry_dsl.errors.CODES`): stable, documented, complete.

One example per code, compiled for real; every positioned error in the test
suite's snapshots has a kind other than the catch-all; docs/diagnostics.md
lists exactly the table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from foundry_dsl import api
from foundry_dsl.errors import CODES, OTHER, ConfigError, Diagnostic, code_named, code_of_message

REPO = Path(__file__).resolve().parents[1]

PLATFORM = 'platform lake {\n  storage local {\n    path = "out"\n  }\n}\n'


def _pipeline(body: str, source: str = 'source files {\n    paths = ["*.csv"]\n  }') -> str:
    return f"{PLATFORM}\npipeline shop.orders {{\n  platform = lake\n  {source}\n{body}}}\n"


#: code → a file that has exactly that mistake (.bronze unless the name says YAML)
EXAMPLES: dict[str, tuple[str, str]] = {
    "E002": ("a.bronze", "\xff"),
    "E003": ("a.bronze", "p { a = " + "[" * 150 + "]" * 150 + " }\n"),
    "E010": ("a.bronze", "p {\n  a = 1 2\n}\n"),
    "E011": ("a.bronze", 'p {\n  a = "abc\n}\n'),
    "E012": ("a.bronze", "p {\n  a = [1, 2\n"),
    "E013": ("a.bronze", _pipeline("", 'source api {\n    auth = bearer {\n    }\n  }')),
    "E014": ("a.bronze", "p { x = 1.2.3 }\n"),
    "E015": ("a.yaml", "platform: [\n"),
    "E020": ("a.bronze", _pipeline("  run {\n    workerz = 2\n  }\n")),
    "E021": ("a.bronze", _pipeline("", "source files {\n  }")),
    "E022": ("a.bronze", _pipeline("  run {\n    workers = 2\n    workers = 3\n  }\n")),
    "E023": ("a.bronze", _pipeline("", "source nosuchkind {\n  }")),
    "E024": ("a.bronze", _pipeline("").replace("platform = lake", "platform = lakes")),
    "E025": ("a.bronze", _pipeline("").replace("shop.orders", "orders")),
    "E030": ("a.bronze", _pipeline("  run {\n    max_file_size = 5m\n  }\n")),
    "E031": ("a.bronze", _pipeline("  run {\n    formats = parquet\n  }\n")),
    "E032": ("a.bronze", _pipeline("  run {\n    workers = \"two\"\n  }\n")),
    "E033": ("a.bronze", _pipeline("  run {\n    workers = 0\n  }\n")),
    "E040": ("a.bronze", _pipeline("", 'source api {\n    base_url = "http://x"\n'
                                       '    auth bearer {\n      token = "abc123"\n    }\n  }')),
    "E050": ("a.bronze", _pipeline("  run {\n    formats = [csv]\n  }\n")),
}


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_example_compiles_to_its_code(code: str, tmp_path: Path) -> None:
    name, text = EXAMPLES[code]
    (tmp_path / name).write_bytes(text.encode("latin-1"))  # E002: the byte 0xff
    with pytest.raises(ConfigError) as err:
        api.load([str(tmp_path / name)])
    assert [d.kind().code for d in err.value.diagnostics] == [code]


def test_codes_and_names_are_unique() -> None:
    assert len({c.code for c in CODES}) == len({c.name for c in CODES}) == len(CODES)


def test_a_diagnostic_that_names_its_code_keeps_it() -> None:
    d = Diagnostic("no file matches 'x'", code="W001")
    assert (d.kind().name, d.to_json()["code"]) == ("files-no-match", "W001")


def test_a_code_is_found_by_its_name_too() -> None:
    assert code_named("custom-module-not-found").code == "E060"


def test_an_unknown_message_falls_to_the_catch_all() -> None:
    assert code_of_message("something no table entry expects") == OTHER


def test_docs_list_exactly_the_table() -> None:
    text = (REPO / "docs" / "diagnostics.md").read_text()
    rows = re.findall(r"^\| `([EW]\d{3})` \| `([a-z-]+)` \| (.+) \|$", text, re.M)
    assert rows == [(c.code, c.name, c.summary) for c in sorted(CODES, key=lambda c: c.code)]


def _snapshot_errors() -> list[str]:
    """Every positioned error message in the test suite's snapshots."""
    found = set()
    for path in sorted((REPO / "tests").rglob("__snapshots__/*.ambr")):
        for line in path.read_text().splitlines():
            m = re.search(r"\S+:\d+:\d+: error: (.*)$", line)
            if m:
                found.add(m.group(1).strip())
    return sorted(found)


def test_every_error_in_the_snapshots_has_a_kind() -> None:
    errors = _snapshot_errors()
    assert len(errors) > 50  # the corpus is there
    assert [m for m in errors if code_of_message(m) == OTHER] == []
