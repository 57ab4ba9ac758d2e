"""`foundry fmt DIR` formats every `.bronze` file below DIR; finding none is an error."""

from __future__ import annotations

from pathlib import Path

from syrupy.assertion import SnapshotAssertion

from tests.e2e.helpers import foundry

FORMATTED = """pipeline shop.orders {
  source files {
    paths = ["orders.csv"]
  }
}
"""
UNFORMATTED = FORMATTED.replace("  ", "    ")  # indented by four: fmt puts two back


def _tree(root: Path) -> Path:
    (root / "pipelines" / "nested").mkdir(parents=True)
    (root / "pipelines" / "a.bronze").write_text(FORMATTED)
    (root / "pipelines" / "nested" / "b.bronze").write_text(UNFORMATTED)
    (root / "top.bronze").write_text(UNFORMATTED)
    return root


def test_check_on_a_directory_finds_the_files_in_every_folder_below_it(tmp_path: Path) -> None:
    out = foundry(_tree(tmp_path), "fmt", "--check", ".")
    assert (out.returncode, out.stderr) == (1, "")
    assert out.stdout == "would reformat pipelines/nested/b.bronze\nwould reformat top.bronze\n"


def test_fmt_on_a_directory_rewrites_the_files_below_it(tmp_path: Path) -> None:
    out = foundry(_tree(tmp_path), "fmt", "pipelines")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "pipelines" / "nested" / "b.bronze").read_text() == FORMATTED
    assert (tmp_path / "top.bronze").read_text() == UNFORMATTED  # not below pipelines/


def test_hidden_folders_are_not_searched(tmp_path: Path) -> None:
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "x.bronze").write_text(UNFORMATTED)
    (tmp_path / "a.bronze").write_text(FORMATTED)
    out = foundry(tmp_path, "fmt", "--check", ".")
    assert (out.returncode, out.stdout) == (0, "1 file already formatted\n")


def test_yaml_files_in_a_directory_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "a.bronze").write_text(FORMATTED)
    (tmp_path / "config.yaml").write_text("source:   {type: api}\n")
    out = foundry(tmp_path, "fmt", ".")
    assert (out.returncode, out.stdout, out.stderr) == (0, "1 file already formatted\n", "")
    assert (tmp_path / "config.yaml").read_text() == "source:   {type: api}\n"


def test_a_directory_without_pipeline_files_is_an_error(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "a.yaml").write_text("source: {}\n")
    out = foundry(tmp_path, "fmt", "--check", ".")
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr == snapshot
