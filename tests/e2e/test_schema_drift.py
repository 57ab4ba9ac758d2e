"""Schema drift across chunks: a new field, int then float, a value then null.

Each record lands in its own file (max_rows_per_file = 1), so the drift
happens after earlier files were written; they are rewritten so that every
file of the batch shares the final schema, and no value is lost.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tests.e2e.helpers import AT, DATE, foundry, pipeline_file

DRIFT = '''
class Drift:
    def extract(self, ctx):
        yield [{"id": 1, "v": 1}, {"id": 2, "v": 2}]
        yield [{"id": 3, "v": 2.5, "extra": "x"}]
        yield [{"id": 4, "v": None, "extra": None}]
        yield [{"id": 5, "v": 7, "extra": "y", "flag": True}]
        yield [{"id": 6}]
'''

EXPECTED = [
    (1, 1.0, None, None),
    (2, 2.0, None, None),
    (3, 2.5, "x", None),
    (4, None, None, None),
    (5, 7.0, "y", True),
    (6, None, None, None),
]


def _run(tmp_path: Path) -> Path:
    (tmp_path / "drift.py").write_text(DRIFT)
    pipeline_file(
        tmp_path,
        source='source custom {\n    module = "drift"\n    class_name = "Drift"\n  }',
        run="max_rows_per_file = 1\n    workers = 3",
    )
    out = foundry(tmp_path, "apply", "pipeline.bronze", "--date", DATE, "--at", AT)
    assert out.returncode == 0, out.stderr + out.stdout
    return tmp_path / "out" / "system=shop" / "table=orders" / "dt=2025-01-12"


def test_no_value_is_lost_when_the_schema_widens(tmp_path: Path) -> None:
    partition = _run(tmp_path)
    rows = duckdb.sql(
        f"SELECT id, v, extra, flag FROM read_parquet('{partition}/*.parquet') ORDER BY id"
    ).fetchall()
    assert rows == EXPECTED


def test_every_parquet_file_of_the_batch_has_the_final_schema(tmp_path: Path) -> None:
    partition = _run(tmp_path)
    schemas = {str(pq.read_schema(f).remove_metadata()) for f in sorted(partition.glob("*.parquet"))}
    assert len(list(partition.glob("*.parquet"))) == 6
    assert schemas == {"id: int64\nv: double\nextra: string\nflag: bool"}


def test_every_csv_file_has_the_same_header_and_keeps_values(tmp_path: Path) -> None:
    partition = _run(tmp_path)
    headers = {f.read_text().splitlines()[0] for f in partition.glob("*.csv")}
    assert headers == {"id,v,extra,flag"}
    rows = duckdb.sql(
        f"SELECT id, v, extra, flag FROM read_csv('{partition}/*.csv', header=true, "
        "columns={'id': 'BIGINT', 'v': 'DOUBLE', 'extra': 'VARCHAR', 'flag': 'BOOLEAN'}) ORDER BY id"
    ).fetchall()
    assert rows == EXPECTED
