"""The CLI as a user runs it: files that cannot be read and global options.

Every input a user can type gives a `file:line:col: error:` style message and
exit 1, never a Python traceback (unless they ask for one with --debug).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def foundry(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "foundry_dsl", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture()
def unreadable(tmp_path: Path) -> Path:
    """A folder named like a pipeline file, a file in Latin-1, and nothing for missing.bronze."""
    (tmp_path / "folder.bronze").mkdir()
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "latin1.bronze").write_bytes(b"# caf\xe9\n")
    (tmp_path / "latin1.yaml").write_bytes(b"# caf\xe9\n")
    return tmp_path


@pytest.mark.parametrize("command", ["validate", "fmt", "plan"])
@pytest.mark.parametrize(
    "name", ["folder.bronze", "folder.yaml", "latin1.bronze", "latin1.yaml", "missing.bronze"]
)
def test_a_file_that_cannot_be_read_is_an_error_not_a_traceback(
    command: str, name: str, unreadable: Path, snapshot: object
) -> None:
    out = foundry(command, name, cwd=unreadable)
    if command == "fmt" and name == "latin1.yaml":
        assert (out.returncode, out.stderr) == (0, f"skipped {name}: fmt formats .bronze files\n")
        return
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr == snapshot


def test_a_directory_without_a_suffix_is_named_as_a_directory(unreadable: Path) -> None:
    (unreadable / "pipelines").mkdir()
    out = foundry("validate", "pipelines", cwd=unreadable)
    assert out.returncode == 1
    assert out.stderr == (
        "error: 'pipelines' is a directory\n"
        "   = help: name the pipeline files in it, e.g. pipelines/*.bronze\n\n"
        "1 error found\n"
    )


def test_fmt_counts_only_the_files_it_formatted(tmp_path: Path) -> None:
    (tmp_path / "a.bronze").write_text("")
    (tmp_path / "a.yaml").write_text("")
    out = foundry("fmt", "a.bronze", "a.yaml", cwd=tmp_path)
    assert out.returncode == 0
    assert out.stdout == "1 file already formatted\n"


@pytest.mark.parametrize("where", ["before the command", "after the command"])
def test_debug_shows_the_traceback_wherever_it_is_written(where: str, tmp_path: Path) -> None:
    args = ["--debug", "validate", "missing.bronze"]
    if where == "after the command":
        args = ["validate", "--debug", "missing.bronze"]
    out = foundry(*args, cwd=tmp_path)
    assert out.returncode == 1
    assert "Traceback (most recent call last)" in out.stderr


def test_without_debug_there_is_no_traceback(tmp_path: Path) -> None:
    out = foundry("validate", "missing.bronze", cwd=tmp_path)
    assert out.stderr == "error: file not found: missing.bronze\n\n1 error found\n"


FILES_PIPELINE = """\
platform lake {
  storage local {
    path = "./out"
  }
}

pipeline shop.orders {
  source files {
    paths = ["orders.csv"]
  }
}
"""


def test_state_set_refuses_a_pipeline_that_reads_no_cursor(tmp_path: Path) -> None:
    (tmp_path / "shop.bronze").write_text(FILES_PIPELINE)
    out = foundry("state", "set", "shop.orders", "2025-01-01", "-f", "shop.bronze", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr == (
        "error: state set shop.orders: the pipeline is not incremental, so no run would read "
        "the cursor; add incremental { ... } to an api source or incremental_key to a db source\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("action", ["show", "reset"])
def test_state_show_and_reset_refuse_a_cursor_argument(action: str, tmp_path: Path) -> None:
    (tmp_path / "shop.bronze").write_text(FILES_PIPELINE)
    out = foundry("state", action, "shop.orders", "2025-01-01", "-f", "shop.bronze", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr == (
        f"error: state {action} shop.orders: unexpected argument '2025-01-01'; "
        "only `state set` takes a cursor\n"
    )
