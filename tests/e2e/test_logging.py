"""Logging as a user sees it: `--debug` turns on DEBUG lines (the spec's debug mode),
text lines carry the date, and on a terminal log lines print above the live progress
instead of into it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.helpers import REPO, foundry

LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (DEBUG|INFO|WARNING|ERROR) ")
STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (DEBUG|INFO|WARNING|ERROR) ")

SOURCE = """
class Rows:
    def extract(self, ctx):
        for b in range(3):
            yield [{"id": b * 10 + i} for i in range(10)]
"""

PIPELINE = """platform lake {
  storage local {
    path = "out"
  }
}

pipeline lab.rows {
  platform = lake
  source custom {
    module = "rows"
    class_name = "Rows"
  }
  run {
    max_rows_per_file = 10
  }
}
"""

CONFIG = """platform:
  bronze:
    storage_backend: s3
    s3_bucket: unused
source:
  type: custom
  system: lab
  table: rows
  custom_extractor:
    module: rows
    class_name: Rows
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "rows.py").write_text(SOURCE)
    (tmp_path / "rows.bronze").write_text(PIPELINE)
    (tmp_path / "rows.yaml").write_text(CONFIG)
    return tmp_path


def _levels(stderr: str) -> set[str]:
    return {m.group(1) for line in stderr.splitlines() if (m := LINE.match(line))}


def test_debug_logs_debug_lines(project: Path) -> None:
    out = foundry(project, "apply", "rows.bronze", "--debug")
    assert out.returncode == 0, out.stderr
    assert "DEBUG" in _levels(out.stderr)


def test_without_debug_there_are_no_debug_lines(project: Path) -> None:
    out = foundry(project, "apply", "rows.bronze")
    assert out.returncode == 0, out.stderr
    assert _levels(out.stderr) == {"INFO"}


def test_bronze_extract_debug_logs_debug_lines(project: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "foundry_dsl.cli.bronze_extract", "--config", "rows.yaml", "--debug"],
        cwd=project, env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "DEBUG" in _levels(out.stderr)


def test_every_text_log_line_starts_with_the_date_and_time(project: Path) -> None:
    out = foundry(project, "apply", "rows.bronze")
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines


def screen(raw: str) -> list[str]:
    """The lines a terminal shows after ``raw``: text, CR, LF, erase-line, cursor-up."""
    lines, row, col, i = [""], 0, 0, 0
    while i < len(raw):
        if raw[i] == "\x1b":
            m = re.match(r"\x1b\[\??(\d*)([A-Za-z])", raw[i:])
            assert m, repr(raw[i:i + 10])
            n, cmd = int(m.group(1) or 1), m.group(2)
            if cmd == "K":
                lines[row] = ""
            elif cmd == "A":
                row = max(0, row - n)
            i += len(m.group(0))
            continue
        ch = raw[i]
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + ch + line[col + 1:]
            col += 1
        i += 1
    return lines


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_on_a_terminal_log_lines_print_above_the_progress_not_into_it(project: Path) -> None:
    import pty

    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal has closed it
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc = subprocess.run(
        [sys.executable, "-m", "foundry_dsl", "apply", "rows.bronze", "--debug"],
        cwd=project, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TERM": "xterm",
             "PYTHONPATH": str(REPO)},
        timeout=120, check=False,
    )
    os.close(slave)
    reader.join(timeout=30)
    os.close(master)
    assert proc.returncode == 0
    shown = screen(b"".join(chunks).decode("utf-8", "replace"))
    logged = [line for line in shown if STAMP.search(line)]
    assert any(" DEBUG " in line for line in logged), shown
    # a line garbled by the progress reads "… 0:00:002025-01-12 14:30:00 DEBUG …"
    assert all(LINE.match(line) for line in logged), shown
