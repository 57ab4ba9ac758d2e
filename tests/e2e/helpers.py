"""Helpers for end-to-end tests: a project folder on disk and `foundry` as a subprocess."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATE = "2025-01-12"
AT = "2025-01-12T14:30:00Z"
COLUMNS = ["order_id", "customer", "amount", "note"]


def write_orders(folder: Path, files: int = 3, rows_per_file: int = 700) -> list[tuple[Any, ...]]:
    """CSV source files; returns the rows as DuckDB will read them (int, str, float, str)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[Any, ...]] = []
    n = 0
    for f in range(files):
        with open(folder / f"orders-{f}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(COLUMNS)
            for _ in range(rows_per_file):
                n += 1
                note = ["", "gift, wrapped", 'says "hi"', "two\nlines"][n % 4]
                row = (n, f"customer-{n % 97:03d}", round(n * 1.25, 2), note or None)
                w.writerow([row[0], row[1], row[2], note])
                rows.append(row)
    return rows


def pipeline_file(
    folder: Path,
    *,
    strategy: str = "date",
    formats: str = "[parquet, csv]",
    source: str = 'source files {\n    paths = ["data/*.csv"]\n    format = csv\n  }',
    run: str = "max_rows_per_file = 500\n    workers = 2",
    name: str = "shop.orders",
    extra_platform: str = "",
) -> Path:
    text = f"""platform lake {{
  storage local {{
    path = "out"
  }}
  partition = {strategy}
  formats = [parquet, csv]
  compression = zstd
  {extra_platform}
}}

pipeline {name} {{
  platform = lake
  {source}
  run {{
    formats = {formats}
    {run}
  }}
}}
"""
    path = folder / "pipeline.bronze"
    path.write_text(text)
    return path


def foundry(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "foundry_dsl", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_partition(partition: Path, fmt: str) -> list[tuple[Any, ...]]:
    """Rows of the committed files, as a DuckDB user reads them, sorted."""
    import duckdb

    con = duckdb.connect()
    pattern = str(partition / f"*.{fmt}")
    if fmt == "parquet":
        rel = con.sql(f"SELECT {', '.join(COLUMNS)} FROM read_parquet('{pattern}')")
    else:
        rel = con.sql(
            f"SELECT {', '.join(COLUMNS)} FROM read_csv('{pattern}', header=true, "
            "columns={'order_id': 'BIGINT', 'customer': 'VARCHAR', 'amount': 'DOUBLE', 'note': 'VARCHAR'})"
        )
    return sorted(rel.fetchall())


def read_hive(root: Path, fmt: str, where: str) -> list[tuple[Any, ...]]:
    """Rows through hive_partitioning, filtered on partition columns, sorted."""
    import duckdb

    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    extra = "" if fmt == "parquet" else ", header=true"
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM {reader}('{root}/**/*.{fmt}', hive_partitioning=true{extra}) "
        f"WHERE {where}"
    )
    return sorted(duckdb.connect().sql(sql).fetchall())


def metadata(partition: Path) -> dict[str, Any] | None:
    path = partition / "_metadata.json"
    return json.loads(path.read_text()) if path.exists() else None
