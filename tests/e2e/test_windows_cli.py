"""Incremental windows as a user meets them: `foundry plan` shows them, `apply` keeps to them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from syrupy.assertion import SnapshotAssertion

from tests.e2e.helpers import foundry

AT = "2025-03-05T10:00:00Z"

SOURCE = """
import os
from foundry_dsl.sources.base import Extractor, NewCursor

class Events(Extractor):
    def extract(self, ctx, part=0):
        n = int(open(os.path.join(os.path.dirname(__file__), "count.txt")).read())
        since = int(ctx.cursor) if ctx.cursor is not None else 0
        top = min(n, int(ctx.until)) if ctx.until is not None else n
        yield [{"id": i} for i in range(since + 1, top + 1)]
        yield NewCursor(str(top) if top > since else None)
"""

PIPELINE = """platform lake {
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


def _project(tmp_path: Path, n: int) -> Path:
    (tmp_path / "events.py").write_text(SOURCE)
    (tmp_path / "pipeline.bronze").write_text(PIPELINE)
    (tmp_path / "count.txt").write_text(str(n))
    return tmp_path


def _apply(folder: Path, date: str, *extra: str) -> str:
    done = foundry(folder, "apply", "pipeline.bronze", "--date", date, "--at", AT, *extra)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout + done.stderr


def _plan(folder: Path, date: str, *extra: str) -> tuple[int, str]:
    done = foundry(folder, "plan", "pipeline.bronze", "--date", date, "--at", AT, *extra)
    text = done.stdout + done.stderr
    return done.returncode, re.sub(r"/\S*/out", "<root>/out", text)


def test_plan_shows_the_window_each_partition_would_extract(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    folder = _project(tmp_path, 100)
    _apply(folder, "2025-03-01")
    (folder / "count.txt").write_text("150")
    _apply(folder, "2025-03-02")
    shown = {}
    for date in ("2025-03-01", "2025-03-02", "2025-03-03"):
        code, text = _plan(folder, date)
        assert code == 0, text
        shown[date] = next(line.strip() for line in text.splitlines() if "window" in line)
    assert shown == snapshot


def test_plan_refuses_an_ambiguous_backfill_and_says_what_to_give(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    folder = _project(tmp_path, 100)
    _apply(folder, "2025-03-03")
    code, text = _plan(folder, "2025-03-01")
    assert code == 1
    refused = text[text.index("refused"):text.index("tasks")]
    assert " ".join(refused.split()) == snapshot


def test_plan_json_carries_the_window(tmp_path: Path) -> None:
    folder = _project(tmp_path, 100)
    _apply(folder, "2025-03-01")
    code, text = _plan(folder, "2025-03-02", "--json")
    assert code == 0
    window = json.loads(text)["pipelines"][0]["window"]
    assert {k: window[k] for k in ("start", "end", "kind")} == {
        "start": "100", "end": None, "kind": "new"
    }


def test_apply_refuses_the_same_backfill_and_writes_nothing(tmp_path: Path) -> None:
    folder = _project(tmp_path, 100)
    _apply(folder, "2025-03-03")
    done = foundry(folder, "apply", "pipeline.bronze", "--date", "2025-03-01", "--at", AT)
    assert done.returncode == 1
    assert "is older than the newest commit" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (folder / "out" / "system=app" / "table=events" / "dt=2025-03-01").exists()


def test_apply_with_from_and_to_lands_the_backfill_window(tmp_path: Path) -> None:
    folder = _project(tmp_path, 100)
    _apply(folder, "2025-03-03", "--from", "40")
    _apply(folder, "2025-03-01", "--from", "0", "--to", "40")
    meta = json.loads(
        (folder / "out" / "system=app" / "table=events" / "dt=2025-03-01" / "_metadata.json")
        .read_text()
    )
    assert meta["total_records"] == 40
    assert meta["window"] == {"start": "0", "end": "40", "kind": "explicit"}
    state = json.loads((folder / "out" / "_state" / "system=app" / "table=events.json").read_text())
    assert (state["cursor"], state["partition"]) == ("100", "system=app/table=events/dt=2025-03-03/")
