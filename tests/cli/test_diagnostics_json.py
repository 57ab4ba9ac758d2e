"""`validate --json` and `plan --json` give diagnostics as data, for editors and CI.

Run as a user runs them, on files in a temp folder; the documents are snapshots.
"""

from __future__ import annotations

import json
from pathlib import Path

from syrupy.assertion import SnapshotAssertion

from tests.e2e.helpers import foundry

BROKEN = """platform lake {
  storage local {
    path = "out"
  }
  formats = parquet
}

pipeline shop.orders {
  platform = lake
  source api {
    base_url = "http://127.0.0.1:9"
    auth bearer {
      token = "ghp_do-not-print-me"
    }
  }
  run {
    max_file_size = "5 mb"
  }
}
"""

GOOD = """platform lake {
  storage local {
    path = "out"
  }
}

pipeline shop.orders {
  platform = lake
  source files {
    paths = ["*.csv"]
  }
}
"""


def _write(folder: Path, text: str) -> Path:
    (folder / "pipeline.bronze").write_text(text)
    return folder


def test_validate_json_gives_every_error_with_position_and_code(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    done = foundry(_write(tmp_path, BROKEN), "validate", "pipeline.bronze", "--json")
    assert (done.returncode, done.stderr) == (1, "")
    assert json.loads(done.stdout) == snapshot


def test_validate_json_never_holds_a_literal_secret(tmp_path: Path) -> None:
    done = foundry(_write(tmp_path, BROKEN), "validate", "pipeline.bronze", "--json")
    assert "do-not-print-me" not in done.stdout


def test_validate_json_of_valid_files_lists_the_pipelines(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    done = foundry(_write(tmp_path, GOOD), "validate", "pipeline.bronze", "--json")
    assert done.returncode == 0
    assert json.loads(done.stdout) == snapshot


def test_plan_json_on_a_compile_error_prints_the_same_diagnostics(tmp_path: Path) -> None:
    _write(tmp_path, BROKEN)
    planned = foundry(tmp_path, "plan", "pipeline.bronze", "--json", "--offline")
    validated = foundry(tmp_path, "validate", "pipeline.bronze", "--json")
    assert (planned.returncode, planned.stderr) == (1, "")
    assert json.loads(planned.stdout) == json.loads(validated.stdout)


def test_plan_json_on_a_plan_error_is_a_diagnostic_without_position(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    _write(tmp_path, GOOD)
    done = foundry(tmp_path, "plan", "pipeline.bronze", "--json", "--offline", "--date", "12/01/2025")
    assert done.returncode == 1
    assert json.loads(done.stdout)["diagnostics"] == snapshot


def test_plan_json_on_a_missing_file_names_the_kind(tmp_path: Path) -> None:
    done = foundry(tmp_path, "plan", "missing.bronze", "--json")
    (diag,) = json.loads(done.stdout)["diagnostics"]
    assert (done.returncode, diag["code"], diag["name"], diag["file"]) == (
        1, "E001", "file-not-found", None,
    )


def test_plan_without_json_still_prints_errors_as_text(tmp_path: Path) -> None:
    done = foundry(_write(tmp_path, BROKEN), "plan", "pipeline.bronze", "--offline")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("pipeline.bronze:5:13: error: 'formats' must be a list")


def test_yaml_errors_carry_positions_too(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("platform:\n  bronze:\n    s3_bucket: x\nsource: [\n")
    done = foundry(tmp_path, "validate", "p.yaml", "--json")
    (diag,) = json.loads(done.stdout)["diagnostics"]
    assert (diag["code"], diag["file"], diag["line"]) == ("E015", "p.yaml", 5)
