"""Two commands that change files the user keeps, run as the user runs them:
``foundry state set`` stores a cursor the next run starts from, and ``foundry fmt``
rewrites pipeline files in place (and only the ones that need it)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import foundry

INCREMENTAL = """platform lake {
  storage local {
    path = "out"
  }
  partition = date
  formats = [parquet]
}

pipeline shop.orders {
  platform = lake
  source api {
    base_url = "http://127.0.0.1:9"
    endpoint = "/orders"
    records = "data"
    incremental {
      field = "updated_at"
      param = "since"
    }
  }
}
"""

STATE = Path("out/_state/system=shop/table=orders.json")


def test_state_set_stores_the_cursor_where_runs_read_it(tmp_path: Path) -> None:
    (tmp_path / "shop.bronze").write_text(INCREMENTAL)
    out = foundry("state", "set", "shop.orders", "2025-01-01T00:00:00Z", "-f", "shop.bronze",
                  cwd=tmp_path)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == "shop.orders: cursor set to 2025-01-01T00:00:00Z\n"
    entry = json.loads((tmp_path / STATE).read_text())
    assert (entry["cursor"], entry["set_by"]) == ("2025-01-01T00:00:00Z", "foundry state set")


def test_state_show_prints_what_state_set_stored(tmp_path: Path) -> None:
    (tmp_path / "shop.bronze").write_text(INCREMENTAL)
    foundry("state", "set", "shop.orders", "42", "-f", "shop.bronze", cwd=tmp_path)
    out = foundry("state", "show", "shop.orders", "-f", "shop.bronze", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert (shown["cursor"], shown["set_by"]) == ("42", "foundry state set")


def test_state_set_replaces_the_cursor_and_reset_removes_it(tmp_path: Path) -> None:
    (tmp_path / "shop.bronze").write_text(INCREMENTAL)
    foundry("state", "set", "shop.orders", "1", "-f", "shop.bronze", cwd=tmp_path)
    foundry("state", "set", "shop.orders", "2", "-f", "shop.bronze", cwd=tmp_path)
    assert json.loads((tmp_path / STATE).read_text())["cursor"] == "2"
    out = foundry("state", "reset", "shop.orders", "--yes", "-f", "shop.bronze", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "shop.orders: state reset (the next run starts from the initial cursor)\n"
    assert not (tmp_path / STATE).exists()


MESSY = 'platform lake {\n  storage local {\n      path   =   "out"\n  }\n}\n'
TIDY = 'platform lake {\n  storage local {\n    path = "out"\n  }\n}\n'


def test_fmt_rewrites_a_file_in_place(tmp_path: Path) -> None:
    (tmp_path / "a.bronze").write_text(MESSY)
    out = foundry("fmt", "a.bronze", cwd=tmp_path)
    assert (out.returncode, out.stdout) == (0, "reformatted a.bronze\n")
    assert (tmp_path / "a.bronze").read_text() == TIDY


def test_fmt_leaves_a_formatted_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "a.bronze"
    path.write_text(TIDY)
    before = path.stat().st_mtime_ns
    out = foundry("fmt", "a.bronze", cwd=tmp_path)
    assert (out.returncode, out.stdout) == (0, "1 file already formatted\n")
    assert path.read_text() == TIDY
    assert path.stat().st_mtime_ns == before


def test_fmt_rewrites_only_the_files_that_need_it(tmp_path: Path) -> None:
    (tmp_path / "messy.bronze").write_text(MESSY)
    (tmp_path / "tidy.bronze").write_text(TIDY)
    out = foundry("fmt", "messy.bronze", "tidy.bronze", cwd=tmp_path)
    assert (out.returncode, out.stdout) == (0, "reformatted messy.bronze\n")
    assert [(tmp_path / n).read_text() for n in ("messy.bronze", "tidy.bronze")] == [TIDY, TIDY]


def test_fmt_leaves_a_broken_file_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "broken.bronze").write_text("platform lake {\n")
    out = foundry("fmt", "broken.bronze", cwd=tmp_path)
    assert out.returncode == 1
    assert (tmp_path / "broken.bronze").read_text() == "platform lake {\n"
