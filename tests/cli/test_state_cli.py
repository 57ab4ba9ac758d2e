"""`foundry state`: files given anywhere (`-f` never takes the words after it), `list`,
and a `reset` that asks on a terminal and needs `--yes` elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from tests.e2e.helpers import REPO

AT = "2025-03-05T10:00:00Z"

SOURCE = """
from foundry_dsl.sources.base import NewCursor

class Events:
    def extract(self, ctx):
        yield [{"id": i} for i in range(1, 4)]
        yield NewCursor("3")
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

SNAPSHOTS = """pipeline app.files {
  platform = lake
  source files {
    paths = ["data/*.csv"]
  }
}
"""


def run(cwd: Path, *args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    """`foundry ARGS` with stdin that is not a terminal (unless a pty is given)."""
    return subprocess.run(
        [sys.executable, "-m", "foundry_dsl", *args], cwd=cwd, stdin=stdin,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=60,
    )


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "events.py").write_text(SOURCE)
    (tmp_path / "events.bronze").write_text(PIPELINE)
    (tmp_path / "files.bronze").write_text('import "events.bronze"\n\n' + SNAPSHOTS)
    return tmp_path


@pytest.fixture()
def landed(project: Path) -> Path:
    out = run(project, "apply", "events.bronze", "--date", "2025-03-01", "--at", AT)
    assert out.returncode == 0, out.stderr
    return project


def test_a_file_option_before_the_action_leaves_the_action_s_words_alone(landed: Path) -> None:
    out = run(landed, "state", "-f", "events.bronze", "show", "app.events")
    assert out.returncode == 0, out.stderr
    assert '"cursor": "3"' in out.stdout


def test_words_after_a_file_option_are_files_too(landed: Path) -> None:
    out = run(landed, "state", "show", "app.files", "-f", "events.bronze", "files.bronze")
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == "app.files: no stored state (the next run starts from the initial cursor)\n"


def test_list_shows_every_pipeline_s_cursor_and_last_commit(
    landed: Path, snapshot: SnapshotAssertion
) -> None:
    out = run(landed, "state", "list", "events.bronze", "files.bronze")
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == snapshot


def test_reset_without_a_terminal_needs_yes_and_keeps_the_state(landed: Path) -> None:
    out = run(landed, "state", "reset", "app.events", "events.bronze")
    assert out.returncode == 1
    assert out.stderr == (
        "error: state reset app.events: stdin is not a terminal, so foundry cannot ask; "
        "run again with --yes to reset the stored cursor\n"
    )
    assert (landed / "out" / "_state" / "system=app" / "table=events.json").exists()


def test_reset_with_yes_forgets_the_cursor(landed: Path) -> None:
    out = run(landed, "state", "reset", "app.events", "events.bronze", "--yes")
    assert (out.returncode, out.stderr) == (0, "")
    assert not (landed / "out" / "_state" / "system=app" / "table=events.json").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize(("answer", "kept"), [("n", True), ("", True), ("y", False)])
def test_reset_on_a_terminal_asks_first(answer: str, kept: bool, landed: Path) -> None:
    import pty

    master, slave = pty.openpty()
    try:
        os.write(master, f"{answer}\n".encode())
        out = run(landed, "state", "reset", "app.events", "events.bronze", stdin=slave)
    finally:
        os.close(slave)
        os.close(master)
    assert out.stderr.startswith("Reset the stored state of app.events (")
    assert out.returncode == (1 if kept else 0)
    assert (landed / "out" / "_state" / "system=app" / "table=events.json").exists() == kept
