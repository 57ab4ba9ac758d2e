"""The CLI starts without heavy imports, and the wheel carries the grammar and stdlib."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ["duckdb", "pyarrow", "fsspec", "requests", "lark", "pydantic", "yaml", "rich"]


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys, json, contextlib, io\n"
        "from foundry_dsl.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help']) if False else main([])\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "foundry_dsl", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.startswith("foundry ")


def test_wheel_ships_grammar_and_stdlib(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("foundry_dsl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "foundry_dsl/_grammar/bronze.lark" in names
    assert "foundry_dsl/_stdlib/apis/github.bronze" in names
