"""What `apply` and `plan` print matches what happened: file names, counts, pipeline names.

The log names each file as it lands (``part-0001-<tag>.parquet``, the name a
reader lists), counts one file in the singular, writes every number the same
way in one table, and names a failed pipeline once per line.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from foundry_dsl.cli.render.summary import summary_table
from foundry_dsl.executor.base import PipelineResult, RunResult
from tests.e2e.helpers import AT, DATE, foundry, pipeline_file, write_orders

PARTITION = "out/system=shop/table=orders/dt=2025-01-12"


def _apply(folder: Path) -> str:
    done = foundry(folder, "apply", "pipeline.bronze", "--date", DATE, "--at", AT)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_log_lines_name_each_file_as_it_is_committed(tmp_path: Path) -> None:
    write_orders(tmp_path / "data", files=1, rows_per_file=30)
    pipeline_file(tmp_path, run="max_rows_per_file = 10")
    logged = re.findall(r"wrote (\S+) \(", _apply(tmp_path))
    committed = sorted(p.name for p in (tmp_path / PARTITION).iterdir() if p.name[0] != "_")
    assert sorted(logged) == committed
    assert len(committed) == 6
    assert all(re.fullmatch(r"part-000[1-3]-[0-9a-f]{8}\.(parquet|csv)", n) for n in logged)


def test_one_file_is_counted_in_the_singular(tmp_path: Path) -> None:
    write_orders(tmp_path / "data", files=1, rows_per_file=5)
    pipeline_file(tmp_path, formats="[parquet]")
    assert "shop.orders: committed 5 rows in 1 file (" in _apply(tmp_path)
    plan = foundry(tmp_path, "plan", "pipeline.bronze", "--date", DATE, "--at", AT)
    assert re.search(r"existing   5 records in 1 file, committed ", plan.stdout), plan.stdout


def test_a_failed_pipeline_is_named_once_in_its_error_line(tmp_path: Path) -> None:
    pipeline_file(tmp_path)  # its glob matches no file
    done = foundry(tmp_path, "apply", "pipeline.bronze", "--date", DATE, "--at", AT)
    (line,) = [x for x in done.stderr.splitlines() if " ERROR " in x]
    assert line.count("shop.orders") == 1
    assert "pipeline shop.orders: task extract[0] failed: no file matches 'data/*.csv'" in line


def test_the_run_table_writes_every_count_the_same_way() -> None:
    result = RunResult((PipelineResult("shop.orders", "succeeded", rows=2000, files=2000),))
    out = io.StringIO()
    Console(file=out, width=100, no_color=True).print(summary_table(result))
    row = next(line for line in out.getvalue().splitlines() if "shop.orders" in line)
    assert "2000" not in row and row.count("2,000") == 2
