"""`foundry init KIND NAME` writes a commented starter that validates and is formatted
as written, and never overwrites a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_dsl.cli.starters import KINDS
from tests.e2e.helpers import foundry


@pytest.mark.parametrize("kind", KINDS)
def test_each_starter_validates_as_written(kind: str, tmp_path: Path) -> None:
    made = foundry(tmp_path, "init", kind, "shop")
    assert made.returncode == 0, made.stderr
    out = foundry(tmp_path, "validate", "shop.bronze")
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout.endswith("1 file valid, 1 pipeline\n")


@pytest.mark.parametrize("kind", KINDS)
def test_each_starter_is_formatted_as_written(kind: str, tmp_path: Path) -> None:
    assert foundry(tmp_path, "init", kind, "shop").returncode == 0
    out = foundry(tmp_path, "fmt", "--check", "shop.bronze")
    assert (out.returncode, out.stdout) == (0, "1 file already formatted\n")


def test_a_starter_is_commented(tmp_path: Path) -> None:
    assert foundry(tmp_path, "init", "api", "shop").returncode == 0
    text = (tmp_path / "shop.bronze").read_text()
    assert text.startswith("# shop.bronze: a starter pipeline written by `foundry init api shop`.\n")


def test_a_system_dot_table_name_names_the_pipeline(tmp_path: Path) -> None:
    out = foundry(tmp_path, "init", "files", "shop.orders")
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == (
        "wrote shop.orders.bronze\n"
        "next: foundry validate shop.orders.bronze, then foundry plan shop.orders.bronze\n"
    )
    assert "\npipeline shop.orders {\n" in (tmp_path / "shop.orders.bronze").read_text()


def test_the_custom_starter_writes_its_module_and_lands_rows(tmp_path: Path) -> None:
    assert foundry(tmp_path, "init", "custom", "lab.readings").returncode == 0
    assert (tmp_path / "lab_readings.py").is_file()
    out = foundry(tmp_path, "apply", "lab.readings.bronze", "--date", "2025-01-12")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "output/system=lab/table=readings/dt=2025-01-12/_metadata.json").is_file()


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "shop.bronze").write_text("# mine\n")
    out = foundry(tmp_path, "init", "db", "shop")
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr == (
        "error: shop.bronze already exists; foundry init never overwrites a file: "
        "choose another NAME or move it away\n"
    )
    assert (tmp_path / "shop.bronze").read_text() == "# mine\n"


def test_the_custom_starter_writes_nothing_when_its_module_exists(tmp_path: Path) -> None:
    (tmp_path / "lab_readings.py").write_text("# mine\n")
    out = foundry(tmp_path, "init", "custom", "lab.readings")
    assert out.returncode == 1
    assert not (tmp_path / "lab.readings.bronze").exists()


def test_a_name_that_is_not_a_pipeline_name_is_refused(tmp_path: Path) -> None:
    out = foundry(tmp_path, "init", "api", "my shop")
    assert out.returncode == 1
    assert out.stderr == (
        "error: 'my shop' is not a pipeline name: write SYSTEM.TABLE or SYSTEM, each of ASCII "
        "letters, digits, '_' and '-' (e.g. foundry init api github.issues)\n"
    )
    assert list(tmp_path.iterdir()) == []
