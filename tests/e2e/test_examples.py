"""The repository's runnable examples land data as their files say: the demo (the
README's first command) and the stdlib's synthetic custom source."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb

from tests.e2e.helpers import REPO, foundry


def copy_pipelines(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    return tmp_path


def test_the_demo_lands_the_shipped_sample_data(tmp_path: Path) -> None:
    work = copy_pipelines(tmp_path)
    out = foundry(work, "apply", "pipelines/demo.bronze", "--date", "2025-01-12")
    assert out.returncode == 0, out.stderr + out.stdout
    con = duckdb.connect()
    landed = con.sql(
        "SELECT count(*), count(DISTINCT order_id) FROM read_parquet("
        f"'{work}/output/system=shop/table=orders/**/*.parquet', hive_partitioning=true)"
    ).fetchall()[0]
    source = con.sql(
        f"SELECT count(*), count(DISTINCT order_id) FROM read_csv('{REPO}/pipelines/data/orders/*.csv')"
    ).fetchall()[0]
    assert landed == source


def test_the_stdlib_synthetic_source_streams_its_rows(tmp_path: Path) -> None:
    work = copy_pipelines(tmp_path)
    out = foundry(
        work, "apply", "pipelines/warehouse.bronze", "--select", "warehouse.sensors",
        "--date", "2025-01-12", "--batch-id", "b1",
    )
    assert out.returncode == 0, out.stderr + out.stdout
    table = work / "output" / "snapshots" / "system=warehouse" / "table=sensors"
    rows = duckdb.connect().sql(
        f"SELECT count(*), count(DISTINCT reading_id), min(_batch_id), max(_batch_id) "
        f"FROM read_csv('{table}/*.csv')"
    ).fetchall()[0]
    assert rows == (10_000, 10_000, "b1", "b1")
    assert json.loads((table / "_metadata.json").read_text())["total_records"] == 10_000


def test_the_runnable_examples_need_no_test_only_package(tmp_path: Path) -> None:
    """numpy comes with the test extra only: an example that imports it fails for a user
    who ran the README's install, so the examples run here with numpy unimportable."""
    blocker = tmp_path / "blocked" / "numpy"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("numpy is not a foundry dependency")\n')
    work = copy_pipelines(tmp_path / "work")
    path = f"{tmp_path / 'blocked'}{os.pathsep}{REPO}"
    for pipeline in ("pipelines/demo.bronze", "pipelines/warehouse.bronze"):
        out = foundry(work, "apply", pipeline, "--date", "2025-01-12", "--batch-id", "b1",
                      env={"PYTHONPATH": path})
        assert out.returncode == 0, pipeline + "\n" + out.stderr + out.stdout
