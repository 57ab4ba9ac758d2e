"""The console commands end without the interpreter's teardown, and lose nothing by it:
the exit code, every line written and every atexit hook (cli/exit.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = str(REPO / "pipelines" / "demo.bronze")

#: runs foundry's console entry point after registering an atexit hook and leaving a
#: line unflushed in a block-buffered stdout
CONSOLE = """
import atexit, io, sys
sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=False)
atexit.register(lambda: sys.stdout.write("hook ran\\n"))
sys.argv = ["foundry", *sys.argv[1:]]
from foundry_dsl.cli.main import console
console()
raise AssertionError("console() returned")
"""


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CONSOLE, *args], capture_output=True,
                          text=True, cwd=REPO, env={"PYTHONUNBUFFERED": "", "PATH": ""}, check=False)


def test_a_command_that_succeeds_exits_0_with_its_output_and_the_exit_hooks_run() -> None:
    done = _console("validate", DEMO)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "hook ran"
    assert any("shop.orders" in line for line in lines[:-1])


def test_a_command_that_fails_keeps_its_exit_code_and_its_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bronze"
    bad.write_text("pipeline {\n")
    done = _console("validate", str(bad))
    assert done.returncode == 1
    assert "bad.bronze:" in done.stderr
    assert done.stdout.splitlines()[-1] == "hook ran"


def test_a_usage_error_leaves_the_normal_way_with_exit_2() -> None:
    done = _console("plan")
    assert done.returncode == 2
    assert "the following arguments are required: FILE" in done.stderr


def test_a_reader_that_goes_away_ends_the_command_with_141_and_no_traceback() -> None:
    # `foundry plan | head -1`: the pipe closes before the plan is written out
    proc = subprocess.Popen([sys.executable, "-m", "foundry_dsl", "plan", "--offline", DEMO],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert (proc.wait(), err) == (141, "")
