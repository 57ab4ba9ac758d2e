"""Semantic mistakes in `.bronze` files: each gives one positioned, helpful error.

Every case is a small set of files; the snapshot is the full rendered output a
user sees from `foundry validate`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_dsl.errors import ConfigError
from foundry_dsl.frontends.load import load

PLATFORM = """\
platform dev {
  storage local {
    path = "./out"
  }
  partition = date
  formats = [parquet, csv]
}
"""


def pipeline(body: str, name: str = "sales.orders") -> str:
    return f'import "platform.bronze"\n\npipeline {name} {{\n  platform = dev\n{body}}}\n'


FILES_SOURCE = '  source files {\n    paths = ["a.csv"]\n  }\n'

CASES: dict[str, dict[str, str]] = {
    "unknown_field_with_suggestion": {
        "main.bronze": pipeline(FILES_SOURCE + "  run {\n    max_file_sise = 128MB\n  }\n")
    },
    "unknown_field_without_suggestion": {
        "main.bronze": pipeline(FILES_SOURCE + "  run {\n    colour = blue\n  }\n")
    },
    "wrong_type_integer": {
        "main.bronze": pipeline(FILES_SOURCE + '  run {\n    workers = "two"\n  }\n')
    },
    "wrong_type_list": {"main.bronze": pipeline('  source files {\n    paths = 3\n  }\n')},
    "out_of_range": {"main.bronze": pipeline(FILES_SOURCE + "  run {\n    workers = 0\n  }\n")},
    "bad_enum_with_suggestion": {
        "platform.bronze": PLATFORM.replace("partition = date", "partition = hourlly"),
        "main.bronze": pipeline(FILES_SOURCE),
    },
    "bad_enum_in_list": {
        "main.bronze": pipeline(FILES_SOURCE + "  run {\n    formats = [parquet, json]\n  }\n")
    },
    "format_not_allowed_by_platform": {
        "platform.bronze": PLATFORM.replace("[parquet, csv]", "[parquet]"),
        "main.bronze": pipeline(FILES_SOURCE + "  run {\n    formats = [csv]\n  }\n"),
    },
    "missing_required_field": {
        "main.bronze": pipeline('  source api {\n    endpoint = "/v1/items"\n  }\n')
    },
    "missing_source": {"main.bronze": pipeline("")},
    "literal_secret": {
        "main.bronze": pipeline(
            '  source api {\n    base_url = "https://x.test"\n'
            '    auth bearer {\n      token = "ghp_abc123"\n    }\n  }\n'
        )
    },
    "literal_secret_in_header": {
        "main.bronze": pipeline(
            '  source api {\n    base_url = "https://x.test"\n'
            '    headers {\n      Authorization = "Bearer abc"\n    }\n  }\n'
        )
    },
    "password_in_connection_string": {
        "main.bronze": pipeline(
            '  source db {\n    connection = "DSN=pg;UID=me;PWD=hunter2"\n'
            '    query = "SELECT 1"\n  }\n'
        )
    },
    "env_where_not_allowed": {
        "main.bronze": pipeline(FILES_SOURCE + '  run {\n    workers = env("WORKERS")\n  }\n')
    },
    "unknown_source_kind": {"main.bronze": pipeline('  source ftp {\n    host = "x"\n  }\n')},
    "unknown_auth_kind": {
        "main.bronze": pipeline(
            '  source api {\n    base_url = "https://x.test"\n    auth bearr {}\n  }\n'
        )
    },
    "unknown_storage_kind": {
        "platform.bronze": PLATFORM.replace("storage local", "storage s4"),
        "main.bronze": pipeline(FILES_SOURCE),
    },
    "unknown_platform": {
        "main.bronze": pipeline(FILES_SOURCE).replace("platform = dev", "platform = deev")
    },
    "import_cycle": {
        "main.bronze": 'import "a.bronze"\n',
        "a.bronze": 'import "b.bronze"\n',
        "b.bronze": 'import "a.bronze"\n',
    },
    "missing_import": {"main.bronze": 'import "platfrom.bronze"\n'},
    "import_of_a_directory": {"main.bronze": 'import "shared.bronze"\n', "shared.bronze/": ""},
    "duplicate_pipeline": {
        "main.bronze": pipeline(FILES_SOURCE) + "\n" + pipeline(FILES_SOURCE).split("\n", 2)[2]
    },
    "duplicate_field": {
        "main.bronze": pipeline(FILES_SOURCE + "  run {\n    workers = 2\n    workers = 3\n  }\n")
    },
    "pipeline_name_not_system_table": {"main.bronze": pipeline(FILES_SOURCE, name="orders")},
    "unsafe_name": {"main.bronze": pipeline(FILES_SOURCE, name='"sales/x.orders"')},
    "unknown_top_level_block": {"main.bronze": "pipline sales.orders {\n}\n"},
    "unknown_template": {
        "main.bronze": pipeline('  source githib {\n    endpoint = "/x"\n  }\n')
    },
    "cursor_pagination_without_cursor": {
        "main.bronze": pipeline(
            '  source api {\n    base_url = "https://x.test"\n    paginate cursor {}\n  }\n'
        )
    },
    "platform_mistake_shared_by_two_pipelines_is_reported_once": {
        "platform.bronze": PLATFORM.replace("[parquet, csv]", "[parquet, json]\n  compresion = zstd"),
        "main.bronze": pipeline(FILES_SOURCE)
        + "\n"
        + pipeline(FILES_SOURCE, name="sales.returns").split("\n", 2)[2],
    },
    "broken_import_is_not_followed_by_unknown_names": {
        "platform.bronze": PLATFORM.replace("partition = date", "partition: date"),
        "main.bronze": pipeline('  source githib {\n    endpoint = "/x"\n  }\n')
        + "\n"
        + pipeline(FILES_SOURCE, name="sales.returns").split("\n", 2)[2].replace("  platform = dev\n", ""),
    },
    "platform_defined_twice": {
        "platform.bronze": PLATFORM + "\n" + PLATFORM,
        "main.bronze": pipeline(FILES_SOURCE),
    },
    "several_errors_sorted_by_position": {
        "main.bronze": pipeline(
            '  source files {\n    path = ["a.csv"]\n  }\n  run {\n    workers = -1\n'
            "    formats = [parqet]\n  }\n"
        )
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_output(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snapshot) -> None:
    files = {"platform.bronze": PLATFORM, **CASES[case]}
    for name, text in files.items():
        if name.endswith("/"):
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load(["main.bronze"])
    assert info.value.render() == snapshot


def test_an_absurd_file_size_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "platform.bronze").write_text(PLATFORM)
    (tmp_path / "main.bronze").write_text(pipeline(FILES_SOURCE + "  run {\n    max_file_size = 2048TB\n  }\n"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load(["main.bronze"])
    assert info.value.diagnostics[0].message == (
        f"'max_file_size' must be at most {2**40}, got {2048 * 2**40}"
    )
