"""The package's layers ([tool.importlinter] in pyproject.toml, docs/architecture.md) hold,
and the check that enforces them can fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BACK_EDGE = "foundry_dsl.ir -> foundry_dsl.cli"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the foundry_dsl found first on PYTHONPATH=root, with root's config."""
    exe = Path(sys.executable).with_name("lint-imports")
    found = str(exe) if exe.exists() else shutil.which("lint-imports")
    assert found, "lint-imports is not installed: pip install -e '.[test]'"
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [found, "--no-logo", "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _imported_from(root: Path) -> Path:
    """Where foundry_dsl is imported from by a process started as _lint_imports starts one."""
    out = subprocess.run(
        [sys.executable, "-c", "import foundry_dsl; print(foundry_dsl.__file__)"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip()).resolve()


def _broken_contracts(output: str) -> str:
    """The part of lint-imports' report that names the broken contracts' import chains."""
    _, sep, tail = output.partition("Broken contracts")
    return sep + tail if sep else output


def test_lint_imports_keeps_every_contract() -> None:
    assert _imported_from(REPO).is_relative_to(REPO)
    run = _lint_imports(REPO)
    if run.returncode != 0:  # the report names each import chain that breaks a contract
        pytest.fail(
            f"lint-imports exited {run.returncode}: an import points up a layer or makes a "
            f"cycle (docs/architecture.md, Layers)\n{_broken_contracts(run.stdout + run.stderr)}",
            pytrace=False,
        )


def test_a_back_edge_breaks_the_layers_contract(tmp_path: Path) -> None:
    shutil.copytree(
        REPO / "foundry_dsl",
        tmp_path / "foundry_dsl",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    # lint-imports must read the copy, not the editable install of the repo
    assert _imported_from(tmp_path) == (tmp_path / "foundry_dsl" / "__init__.py").resolve()

    before = _lint_imports(tmp_path)
    assert "Contracts:" in before.stdout, before.stdout + before.stderr
    assert BACK_EDGE not in before.stdout

    ir = tmp_path / "foundry_dsl" / "ir.py"
    ir.write_text(ir.read_text() + "\nfrom foundry_dsl.cli import main  # noqa\n")
    after = _lint_imports(tmp_path)
    out = after.stdout + after.stderr
    assert after.returncode != 0, out
    assert "one package per stage: imports point down BROKEN" in out, out
    assert BACK_EDGE in _broken_contracts(out), out
    # the edge closes a cycle too (cli imports ir through planner and executor)
    assert "no import cycles between the stage packages BROKEN" in out, out
    assert "- .ir -> .cli (1 import)" in out.partition("No cycles are allowed")[2], out


def _cycles(graph: object) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):  # type: ignore[attr-defined]
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    # the package's import chains are a few dozen modules deep: the default limit holds
    for module in sorted(graph.modules):  # type: ignore[attr-defined]
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_through_others() -> None:
    import grimp

    graph = grimp.build_graph(
        "foundry_dsl", include_external_packages=False, exclude_type_checking_imports=False
    )
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    import grimp

    graph = grimp.ImportGraph()
    for m in ("p.a", "p.b", "p.c"):
        graph.add_module(m)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    assert _cycles(graph) == [["p.a", "p.b", "p.c"]]


def test_no_module_is_over_500_lines() -> None:
    """One job per module: past 500 lines a module holds more than one (STYLE.md)."""
    package = Path(__file__).resolve().parents[1] / "foundry_dsl"
    long = {
        str(p.relative_to(package)): n
        for p in package.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 500
    }
    assert long == {}
