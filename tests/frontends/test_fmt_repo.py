"""fmt over the repository's own files: already canonical, idempotent, IR-preserving."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from foundry_dsl import ir
from foundry_dsl.frontends.fmt import format_text
from foundry_dsl.frontends.load import load

REPO = Path(__file__).resolve().parents[2]
FILES = sorted([*(REPO / "pipelines").rglob("*.bronze"), *(REPO / "stdlib").rglob("*.bronze")])
IDS = [str(p.relative_to(REPO)) for p in FILES]


def test_fmt_check_passes_on_the_repository() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "foundry_dsl", "fmt", "--check", *map(str, FILES)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_fmt_is_idempotent(path: Path) -> None:
    once = format_text(path.read_text(), str(path))
    assert format_text(once, str(path)) == once


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_formatted_file_compiles_to_the_same_ir(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "pipelines", copy / "pipelines", ignore=shutil.ignore_patterns("data"))
    shutil.copytree(REPO / "stdlib", copy / "stdlib")
    target = copy / path.relative_to(REPO)
    before = load([str(target)])
    target.write_text(format_text(target.read_text(), str(target)))
    assert [ir.canonical(p) for p in load([str(target)]).pipelines] == [
        ir.canonical(p) for p in before.pipelines
    ]


def test_a_blank_line_between_comment_groups_is_kept() -> None:
    text = "# file header\n\n# about dev\nplatform dev {\n  partition = date\n}\n"
    assert format_text(text, "t.bronze") == text
