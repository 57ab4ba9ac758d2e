"""`foundry plan --estimate`: a range-partitioned query's ranges, asked of a real database.

The session's PostgreSQL is read through psqlODBC by `foundry plan` run as a
subprocess. A plain plan never connects: a loopback listener standing in for
the database counts every connection made to it.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from foundry_dsl.planner.plan import describe_ranges
from foundry_dsl.sources.db import DbExtractor
from tests.planner.test_plan_cli import foundry
from tests.sources.db_helpers import context, pipeline

ENV = "FOUNDRY_PLAN_PG"
TABLE = "plan_estimate_orders"
FIXED = ["--date", "2025-01-12", "--at", "2025-01-12T14:30:00Z", "--offline"]
SECRET = "not-a-real-pa55word"


def _write(folder: Path, *, db: str = "") -> Path:
    (folder / "pipeline.bronze").write_text(f'''platform lake {{
  storage local {{
    path = "out"
  }}
  formats = [parquet]
}}

pipeline shop.orders {{
  platform = lake
  source db {{
    connection = env("{ENV}")
    query = "SELECT id, amount FROM {TABLE}"
    partition_column = "id"
    partitions = 3
    {db}
  }}
}}
''')
    return folder


@pytest.fixture(scope="module")
def orders(postgres: Any) -> str:
    """ids 1..100 (MIN 1, MAX 100) and one NULL id: N = 3 cuts at 34 and 67."""
    postgres.psql(
        f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (id int, amount numeric(10,2)); "
        f"INSERT INTO {TABLE} SELECT i, i * 1.5 FROM generate_series(1, 100) i; "
        f"INSERT INTO {TABLE} VALUES (NULL, 0)"
    )
    return TABLE


class Listener:
    """A loopback port that accepts and hangs up at once, counting connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def conn_str(self) -> str:
        return (
            "Driver={PostgreSQL Unicode};Server=127.0.0.1;"
            f"Port={self.port};Database=foundry;UID=postgres;PWD={{{SECRET}}};"
        )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def _plan(folder: Path, conn: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return foundry("plan", "pipeline.bronze", *FIXED, *args, cwd=folder, env={ENV: conn, **(env or {})})


def test_estimate_shows_the_three_ranges_as_text(tmp_path: Path, postgres: Any, orders: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    out = _plan(_write(tmp_path), postgres.conn_str(), "--estimate")
    assert out.returncode == 0, out.stderr
    assert "  ranges     [.., 34), [34, 67), [67, ..]\n" in out.stdout
    assert out.stdout == snapshot


def test_estimate_shows_the_three_ranges_in_json(tmp_path: Path, postgres: Any, orders: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    out = _plan(_write(tmp_path), postgres.conn_str(), "--estimate", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    (only,) = doc["pipelines"]
    assert only["estimate"]["ranges"] == [
        {"part": 0, "low": None, "high": "34"},
        {"part": 1, "low": "34", "high": "67"},
        {"part": 2, "low": "67", "high": None},
    ]
    assert only["estimate_check"] == {"asked": True, "error": None}
    assert doc["run"]["estimate"] is True
    assert doc == snapshot


def test_estimate_ranges_start_from_the_cursor_the_run_would_use(
    tmp_path: Path, postgres: Any, orders: str
) -> None:
    folder = _write(tmp_path, db='incremental_key = "id"\n    cursor_env = "PLAN_CURSOR"')
    out = _plan(folder, postgres.conn_str(), "--estimate", env={"PLAN_CURSOR": "50"})
    assert out.returncode == 0, out.stderr
    # MIN/MAX over id > 50: 51 and 100
    assert "  ranges     [.., 67), [67, 83), [83, ..]\n" in out.stdout


def test_estimated_ranges_are_the_cut_points_the_run_uses(postgres: Any, orders: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, postgres.conn_str())
    p = pipeline(ENV, f"SELECT id, amount FROM {TABLE}", partition_column="id", partitions=3)
    ctx = context(p)
    estimate = DbExtractor(p.source).estimate_live(ctx)  # type: ignore[arg-type]
    prepared = DbExtractor(p.source).prepare(dataclasses.replace(ctx))  # type: ignore[arg-type]
    assert estimate is not None and estimate.ranges is not None
    assert tuple(high for _, high in estimate.ranges[:-1]) == prepared.cuts == ("34", "67")


def test_plain_plan_never_connects(tmp_path: Path, listener: Listener) -> None:
    out = _plan(_write(tmp_path), listener.conn_str())
    assert out.returncode == 0, out.stderr
    assert listener.accepted == 0
    assert "  ranges " not in out.stdout and "  estimate " not in out.stdout


def test_plain_plan_never_connects_even_to_a_nonexistent_driver(tmp_path: Path) -> None:
    out = _plan(_write(tmp_path), "Driver={No Such Driver};Server=nowhere.invalid;PWD=x")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "1 pipeline: 1 to write (storage not checked)"


def test_an_unreachable_database_shows_why_and_exits_0(tmp_path: Path, listener: Listener) -> None:
    out = _plan(_write(tmp_path), listener.conn_str(), "--estimate")
    assert out.returncode == 0, out.stderr
    assert listener.accepted >= 1
    text = " ".join(out.stdout.split())  # the message wraps inside its column
    assert "estimate not available: pipeline shop.orders: database error while connecting" in text
    assert "next: check the connection string and that the database is reachable" in text
    unwrapped = out.stdout.replace("\n" + " " * 13, "")  # a folded value, joined again
    assert "PWD=***;" in unwrapped
    assert SECRET not in unwrapped + out.stderr
    assert "  ranges " not in out.stdout
    assert out.stdout.splitlines()[-1] == "1 pipeline: 1 to write (storage not checked)"


def test_an_unreachable_database_is_an_estimate_error_in_json(tmp_path: Path, listener: Listener) -> None:
    out = _plan(_write(tmp_path), listener.conn_str(), "--estimate", "--json")
    assert out.returncode == 0, out.stderr
    (only,) = json.loads(out.stdout)["pipelines"]
    assert only["estimate"] is None
    assert only["estimate_check"]["asked"] is True
    assert only["estimate_check"]["error"].startswith("pipeline shop.orders: database error while connecting")
    assert "PWD=***;" in only["estimate_check"]["error"]
    assert SECRET not in out.stdout


def test_a_missing_connection_variable_is_an_estimate_error(tmp_path: Path) -> None:
    out = foundry("plan", "pipeline.bronze", *FIXED, "--estimate", cwd=_write(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "estimate   not available: " in out.stdout
    assert ENV in out.stdout


def test_explicit_bounds_give_the_ranges_without_connecting(tmp_path: Path, listener: Listener) -> None:
    folder = _write(tmp_path, db="partition_bounds = [0, 90]")
    for args in ((), ("--estimate",)):
        out = _plan(folder, listener.conn_str(), *args)
        assert out.returncode == 0, out.stderr
        assert "  ranges     [.., 30), [30, 60), [60, ..]\n" in out.stdout
    assert listener.accepted == 0


def test_ranges_read_as_half_open_intervals() -> None:
    assert describe_ranges(((None, "34"), ("34", "67"), ("67", None))) == "[.., 34), [34, 67), [67, ..]"


def test_ranges_of_a_column_without_values_say_so() -> None:
    assert describe_ranges(((None, None), (None, None))) == (
        "none: the column has no values, every row goes to part 0"
    )
