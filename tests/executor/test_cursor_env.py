"""The cursor env variable overrides the stored cursor (a real db source over SQLite ODBC)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from foundry_dsl import ir
from tests.executor.helpers import apply, only, rows


def _pipeline(folder: Path) -> ir.Pipeline:
    db = folder / "events.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE events (id INTEGER, updated_at TEXT)")
    con.executemany(
        "INSERT INTO events VALUES (?, ?)", [(i, f"2025-01-{i:02d}T00:00:00") for i in range(1, 11)]
    )
    con.commit()
    con.close()
    out = str(folder / "out")
    return ir.Pipeline(
        system="s",
        table="t",
        platform=ir.Platform(name="p", storage=ir.LocalStorage(path=out)),
        source=ir.DbSource(
            connection=ir.EnvRef(name="EV_DSN"),
            query="SELECT id, updated_at FROM events",
            incremental_key="updated_at",
            cursor_env="EV_CURSOR",
        ),
        run=ir.RunOptions(local_output_dir=out),
        source_file=str(folder / "p.bronze"),
    )


def test_cursor_env_variable_wins_over_the_stored_cursor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EV_DSN", f"Driver=SQLite3;Database={tmp_path / 'events.db'}")
    monkeypatch.delenv("EV_CURSOR", raising=False)
    p = _pipeline(tmp_path)
    first = only(apply(p))
    assert first.status == "succeeded", first.error
    assert first.rows == 10
    monkeypatch.setenv("EV_CURSOR", "2025-01-07T00:00:00")
    second = only(apply(p))
    assert second.status == "succeeded", second.error
    assert rows(tmp_path, columns="id") == [(8,), (9,), (10,)]
