"""The CLI starts without heavy imports, and the wheel carries the grammar and stdlib."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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


def _closure(root: str, extras: set[str]) -> set[str]:
    """Distributions ``root[extras]`` needs, by the metadata of what is installed."""
    import re
    from importlib import metadata

    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    names: set[str] = set()
    visited: set[tuple[str, frozenset[str]]] = set()
    todo = [(root, frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        if (norm(name), wanted) in visited:
            continue
        visited.add((norm(name), wanted))
        names.add(norm(name))
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, frozenset(req.extras)))
    return names


@pytest.mark.skipif(
    "FOUNDRY_TEST_VENV" not in os.environ, reason="run by scripts/test, in the venv it builds"
)
def test_the_suite_runs_in_a_fresh_venv_holding_only_what_pyproject_declares() -> None:
    import re
    from importlib import metadata

    venv = Path(os.environ["FOUNDRY_TEST_VENV"])
    assert Path(sys.prefix).resolve() == venv.resolve()
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in metadata.distributions()}
    extra = installed - _closure("foundry-dsl", {"test"}) - {"pip", "setuptools"}
    assert extra == set(), f"installed but not declared (directly or through a dependency): {extra}"


def test_an_apply_logged_as_json_imports_no_rich(tmp_path: Path) -> None:
    # rich draws a terminal's progress and the text summary; JSON logs pay for neither
    shutil.copy(REPO / "pipelines" / "demo.bronze", tmp_path)
    shutil.copytree(REPO / "pipelines" / "data", tmp_path / "data")
    code = (
        "import sys, json, contextlib, io\n"
        "from foundry_dsl.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['apply', 'demo.bronze', '--date', '2025-01-12', '--log-format', 'json'])\n"
        "print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] == 'rich')]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [0, []]
