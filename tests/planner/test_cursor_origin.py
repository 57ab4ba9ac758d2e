"""`foundry plan` shows where each start cursor comes from.

The original tool started from its cursor variable, and from nothing (a full
load) when it was unset; foundry keeps its own state, so the plan says which it
is: the variable, `--from`, the stored state, the partition's last commit, or
none (a full load).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from foundry_dsl.planner.origin import CursorOrigin, from_window, unresolved
from foundry_dsl.planner.windows import Window, WindowRequest
from tests.e2e.helpers import foundry

AT = "2025-03-05T10:00:00Z"

API = """platform lake {
  storage local {
    path = "out"
  }
}

pipeline shop.orders {
  platform = lake
  source api {
    base_url = "http://127.0.0.1:9/v1"
    incremental {
      field = "updated_at"
      param = "since"
      cursor_env = "T12O_SINCE"
    }
  }
}
"""

EVENTS = """
from foundry_dsl.sources.base import Extractor, NewCursor

class Events(Extractor):
    def extract(self, ctx, part=0):
        since = int(ctx.cursor) if ctx.cursor is not None else 0
        yield [{"id": i} for i in range(since + 1, 11)]
        yield NewCursor("10")
"""

CUSTOM = """platform lake {
  storage local {
    path = "out"
  }
}

pipeline app.events {
  platform = lake
  source custom {
    module = "events"
    class_name = "Events"
  }
}
"""


@pytest.mark.parametrize(
    ("window", "request_", "expected"),
    [
        (Window(None, None, "full-refresh"), WindowRequest(full_refresh=True),
         CursorOrigin("none", full_refresh=True)),
        (Window("5", None, "explicit"), WindowRequest(start="5"), CursorOrigin("flag")),
        (Window("5", None, "explicit"), WindowRequest(), CursorOrigin("env", "SINCE")),
        (Window("5", None, "extend"), WindowRequest(), CursorOrigin("commit")),
        (Window("5", "9", "replay"), WindowRequest(), CursorOrigin("commit")),
        (Window("9", None, "new"), WindowRequest(), CursorOrigin("state")),
        (Window(None, None, "new"), WindowRequest(), CursorOrigin("none")),
    ],
)
def test_each_kind_of_window_names_where_its_start_comes_from(
    window: Window, request_: WindowRequest, expected: CursorOrigin
) -> None:
    assert from_window(window, request_, "SINCE") == expected


def test_without_storage_only_a_given_start_is_known() -> None:
    assert unresolved(WindowRequest(), "SINCE", env_set=False) == CursorOrigin("unknown", "SINCE")
    assert unresolved(WindowRequest(), "SINCE", env_set=True) == CursorOrigin("env", "SINCE")


def _cursor_row(folder: Path, date: str, *extra: str, env: dict[str, str] | None = None) -> str:
    done = foundry(folder, "plan", "pipeline.bronze", "--date", date, "--at", AT, *extra, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  cursor "))
    rows = [lines[start][len("  cursor "):].strip()]
    rows += [line.strip() for line in lines[start + 1:] if line.startswith("             ")][:1]
    return " ".join(rows)


def test_plan_shows_each_origin_of_an_incremental_api_source(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    (tmp_path / "pipeline.bronze").write_text(API)
    shown = {
        "nothing stored": _cursor_row(tmp_path, "2025-03-05"),
        "variable set": _cursor_row(tmp_path, "2025-03-05", env={"T12O_SINCE": "2025-03-01"}),
        "--from": _cursor_row(tmp_path, "2025-03-05", "--from", "2025-03-02"),
        "--full-refresh": _cursor_row(tmp_path, "2025-03-05", "--full-refresh"),
        "--offline": _cursor_row(tmp_path, "2025-03-05", "--offline"),
    }
    assert shown == snapshot


def test_plan_json_gives_the_origin_and_the_variable(tmp_path: Path) -> None:
    (tmp_path / "pipeline.bronze").write_text(API)
    done = foundry(tmp_path, "plan", "pipeline.bronze", "--json", "--offline", "--at", AT)
    cursor = json.loads(done.stdout)["pipelines"][0]["cursor"]
    assert (cursor["origin"], cursor["env"]) == ("unknown", "T12O_SINCE")


def test_plan_after_a_run_starts_from_the_commit_or_the_stored_state(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    (tmp_path / "events.py").write_text(EVENTS)
    (tmp_path / "pipeline.bronze").write_text(CUSTOM)
    done = foundry(tmp_path, "apply", "pipeline.bronze", "--date", "2025-03-04", "--at", AT)
    assert done.returncode == 0, done.stderr
    shown = {
        "the committed date again": _cursor_row(tmp_path, "2025-03-04"),
        "the next date": _cursor_row(tmp_path, "2025-03-05"),
    }
    assert shown == snapshot


def test_a_source_without_a_cursor_has_no_cursor_line(tmp_path: Path) -> None:
    (tmp_path / "pipeline.bronze").write_text(CUSTOM)
    done = foundry(tmp_path, "plan", "pipeline.bronze", "--json", "--offline", "--at", AT)
    assert json.loads(done.stdout)["pipelines"][0]["cursor"] is None
