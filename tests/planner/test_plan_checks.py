"""`foundry plan` says what would make `apply` fail at once: unset variables, warnings.

Every environment variable a pipeline reads is listed by name (never by value)
and the unset ones are marked; a files glob that matches nothing and a custom
source whose module or class is not there are warnings at the setting's
position. `--detailed-exitcode` exits 3 for any of them. `validate` refuses a
custom module that is not there, as an error with its position.
"""

from __future__ import annotations

import json
from pathlib import Path

from syrupy.assertion import SnapshotAssertion

from tests.e2e.helpers import foundry

FIXED = ["--date", "2025-01-12", "--at", "2025-01-12T14:30:00Z"]
SECRET = "tok-3f9c1e77-do-not-print"

API = """platform lake {
  storage s3 {
    bucket = "landing"
    endpoint = env("T12_S3_ENDPOINT")
    access_key = env("T12_S3_KEY")
    secret_key = env("T12_S3_SECRET")
  }
}

pipeline shop.orders {
  platform = lake
  source api {
    base_url = "http://127.0.0.1:9/v1"
    auth bearer {
      token = env("T12_TOKEN")
    }
    incremental {
      field = "updated_at"
      param = "since"
      cursor_env = "T12_SINCE"
    }
  }
  run {
    storage_enabled = STORAGE
  }
}
"""

FILES = """platform lake {
  storage local {
    path = "out"
  }
}

pipeline shop.orders {
  platform = lake
  source files {
    paths = ["data/*.csv"]
    format = csv
  }
}
"""

CUSTOM = """platform lake {
  storage local {
    path = "out"
  }
}

pipeline shop.orders {
  platform = lake
  source custom {
    module = "MODULE"
    class_name = "CLASS"
  }
}
"""

EXTRACTOR = """
from foundry_dsl.sources.base import Extractor

class OrdersExtractor(Extractor):
    def extract(self, ctx, part=0):
        yield [{"id": 1}]
"""


def _api(folder: Path, storage: bool = True) -> Path:
    (folder / "pipeline.bronze").write_text(API.replace("STORAGE", str(storage).lower()))
    return folder


def _custom(folder: Path, module: str, cls: str, code: str = EXTRACTOR) -> Path:
    (folder / "orders_extractor.py").write_text(code)
    (folder / "pipeline.bronze").write_text(CUSTOM.replace("MODULE", module).replace("CLASS", cls))
    return folder


def _plan(folder: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = foundry(folder, "plan", "pipeline.bronze", "--offline", *FIXED, *extra, env=env)
    assert not done.stderr, done.stderr
    return done.returncode, done.stdout


def _rows(text: str, key: str) -> list[str]:
    """The plan text's row ``key`` with its continuation lines, stripped."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {key} "))
    out = [lines[start][len(key) + 2 :].strip()]
    for line in lines[start + 1 :]:
        if not line.startswith("             "):
            break
        out.append(line.strip())
    return out


# --- environment variables -------------------------------------------------------------


def test_plan_lists_every_variable_and_marks_the_unset_ones(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    code, text = _plan(_api(tmp_path), env={"T12_TOKEN": SECRET, "T12_S3_KEY": "AKIA-x"})
    assert code == 0
    assert _rows(text, "env") == snapshot


def test_plan_never_prints_a_variable_s_value(tmp_path: Path) -> None:
    _, text = _plan(_api(tmp_path), env={"T12_TOKEN": SECRET})
    _, as_json = _plan(tmp_path, "--json", env={"T12_TOKEN": SECRET})
    assert SECRET not in text and SECRET not in as_json


def test_plan_json_lists_every_variable_with_its_status_and_uses(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    _, text = _plan(_api(tmp_path), "--json", env={"T12_TOKEN": SECRET, "T12_S3_KEY": "AKIA-x"})
    (pipeline,) = json.loads(text)["pipelines"]
    assert (pipeline["env"], pipeline["blocked"]) == snapshot


def test_a_variable_set_to_whitespace_counts_as_not_set(tmp_path: Path) -> None:
    _, text = _plan(_api(tmp_path, storage=False), env={"T12_TOKEN": "  "})
    assert _rows(text, "env")[0] == "not set: T12_TOKEN (empty)"


def test_storage_variables_are_not_needed_when_storage_is_disabled(tmp_path: Path) -> None:
    _, text = _plan(_api(tmp_path, storage=False), "--json")
    (pipeline,) = json.loads(text)["pipelines"]
    assert [v["name"] for v in pipeline["env"]] == ["T12_TOKEN", "T12_SINCE"]


def test_the_cursor_variable_is_optional_and_blocks_nothing(tmp_path: Path) -> None:
    _, text = _plan(_api(tmp_path, storage=False), "--json", env={"T12_TOKEN": SECRET})
    (pipeline,) = json.loads(text)["pipelines"]
    assert [(v["name"], v["required"], v["set"]) for v in pipeline["env"]] == [
        ("T12_TOKEN", True, True), ("T12_SINCE", False, False),
    ]
    assert pipeline["blocked"] is False


def test_summary_counts_the_pipelines_that_cannot_run_yet(tmp_path: Path) -> None:
    _, text = _plan(_api(tmp_path, storage=False))
    assert text.splitlines()[-1] == (
        "1 pipeline: 1 to write (storage not checked); 1 cannot run yet (see env and warning)"
    )


def test_detailed_exitcode_is_3_when_a_variable_is_not_set(tmp_path: Path) -> None:
    code, _ = _plan(_api(tmp_path, storage=False), "--detailed-exitcode")
    assert code == 3


def test_detailed_exitcode_is_2_once_every_variable_is_set(tmp_path: Path) -> None:
    code, _ = _plan(_api(tmp_path, storage=False), "--detailed-exitcode", env={"T12_TOKEN": SECRET})
    assert code == 2


def test_plain_exit_code_stays_0_with_a_variable_not_set(tmp_path: Path) -> None:
    code, _ = _plan(_api(tmp_path, storage=False))
    assert code == 0


# --- warnings ----------------------------------------------------------------------------


def test_plan_warns_at_the_setting_when_a_files_glob_matches_nothing(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    (tmp_path / "pipeline.bronze").write_text(FILES)
    code, text = _plan(tmp_path)
    assert code == 0
    assert _rows(text, "warning") == snapshot


def test_plan_has_no_warning_once_the_glob_matches(tmp_path: Path) -> None:
    (tmp_path / "pipeline.bronze").write_text(FILES)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("id\n1\n")
    _, text = _plan(tmp_path, "--json")
    assert json.loads(text)["pipelines"][0]["warnings"] == []


def test_plan_json_gives_the_warning_as_a_diagnostic(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    (tmp_path / "pipeline.bronze").write_text(FILES)
    _, text = _plan(tmp_path, "--json")
    (pipeline,) = json.loads(text)["pipelines"]
    assert pipeline["warnings"] == snapshot


def test_detailed_exitcode_is_3_when_there_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "pipeline.bronze").write_text(FILES)
    code, _ = _plan(tmp_path, "--detailed-exitcode")
    assert code == 3


def test_plan_warns_when_the_custom_module_is_missing_and_suggests_the_closest(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    code, text = _plan(_custom(tmp_path, "orders_extractr", "OrdersExtractor"))
    assert code == 0
    assert _rows(text, "warning") == snapshot


def test_plan_warns_when_the_custom_class_is_missing_and_suggests_the_closest(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    _, text = _plan(_custom(tmp_path, "orders_extractor", "OrderExtractor"))
    assert _rows(text, "warning") == snapshot


def test_plan_warns_when_a_package_lacks_the_submodule(tmp_path: Path) -> None:
    (tmp_path / "extractors_pkg").mkdir()
    (tmp_path / "extractors_pkg" / "orders.py").write_text(EXTRACTOR)
    _, text = _plan(_custom(tmp_path, "extractors_pkg.order", "OrdersExtractor"), "--json")
    (warning,) = json.loads(text)["pipelines"][0]["warnings"]
    assert (warning["code"], warning["line"], warning["help"]) == (
        "E060", 10, "did you mean 'orders'?",
    )


def test_plan_finds_a_class_in_a_module_on_the_python_path(tmp_path: Path) -> None:
    _, text = _plan(_custom(tmp_path, "json", "JSONDecoder"), "--json")
    assert json.loads(text)["pipelines"][0]["warnings"] == []


def test_plan_never_imports_the_custom_module(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    code = f"open({str(marker)!r}, 'w').close()\n" + EXTRACTOR
    _, text = _plan(_custom(tmp_path, "orders_extractor", "Missing", code), "--json")
    assert json.loads(text)["pipelines"][0]["warnings"][0]["code"] == "E061"
    assert not marker.exists()


def test_a_star_import_leaves_the_class_unchecked(tmp_path: Path) -> None:
    code = "from json import *\n"
    _, text = _plan(_custom(tmp_path, "orders_extractor", "Anything", code), "--json")
    assert json.loads(text)["pipelines"][0]["warnings"] == []


# --- validate ----------------------------------------------------------------------------


def test_validate_refuses_a_missing_custom_module_at_its_position(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    _custom(tmp_path, "orders_extractr", "OrdersExtractor")
    done = foundry(tmp_path, "validate", "pipeline.bronze")
    assert done.returncode == 1
    assert done.stderr == snapshot


def test_validate_refuses_a_custom_module_that_is_not_valid_python(tmp_path: Path) -> None:
    _custom(tmp_path, "orders_extractor", "OrdersExtractor", "class OrdersExtractor(:\n")
    done = foundry(tmp_path, "validate", "pipeline.bronze", "--json")
    (diag,) = json.loads(done.stdout)["diagnostics"]
    assert (done.returncode, diag["code"], diag["line"], diag["severity"]) == (1, "E062", 10, "error")
    assert "orders_extractor.py, line 1" in diag["message"]


def test_validate_accepts_a_custom_source_whose_class_is_there(tmp_path: Path) -> None:
    done = foundry(_custom(tmp_path, "orders_extractor", "OrdersExtractor"), "validate", "pipeline.bronze")
    assert (done.returncode, done.stderr) == (0, "")


def test_validate_leaves_an_empty_glob_to_plan(tmp_path: Path) -> None:
    (tmp_path / "pipeline.bronze").write_text(FILES)
    done = foundry(tmp_path, "validate", "pipeline.bronze")
    assert (done.returncode, done.stderr) == (0, "")
