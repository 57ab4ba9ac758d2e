"""`foundry apply` end to end: a subprocess lands files; DuckDB reads them back.

For every partition strategy, Parquet and CSV are both written, and read back
with hive_partitioning, row for row equal to the source.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.helpers import (
    AT,
    DATE,
    foundry,
    metadata,
    pipeline_file,
    read_hive,
    read_partition,
    write_orders,
)

PARTITIONS = {
    "date": ("system=shop/table=orders/dt=2025-01-12", "dt = DATE '2025-01-12'"),
    "hourly": ("system=shop/table=orders/dt=2025-01-12/hour=14", "dt = DATE '2025-01-12' AND hour = 14"),
    "timestamp": ("system=shop/table=orders/dt=2025-01-12/batch=20250112_1430", "batch = '20250112_1430'"),
    "batch_id": ("system=shop/table=orders/dt=2025-01-12/batch_id=b7", "batch_id = 'b7'"),
    "none": ("system=shop/table=orders", "\"table\" = 'orders'"),
}


@pytest.mark.parametrize("strategy", sorted(PARTITIONS))
def test_apply_lands_every_row_once_in_parquet_and_csv(tmp_path: Path, strategy: str) -> None:
    source = write_orders(tmp_path / "data")
    pipeline_file(tmp_path, strategy=strategy)
    out = foundry(tmp_path, "apply", "pipeline.bronze", "--date", DATE, "--at", AT, "--batch-id", "b7")
    assert out.returncode == 0, out.stderr + out.stdout
    rel, where = PARTITIONS[strategy]
    partition = tmp_path / "out" / rel
    assert read_partition(partition, "parquet") == source
    assert read_partition(partition, "csv") == source
    assert read_hive(tmp_path / "out", "parquet", where) == source
    assert read_hive(tmp_path / "out", "csv", where) == source


def test_files_rotate_at_max_rows_and_metadata_lists_them(tmp_path: Path) -> None:
    write_orders(tmp_path / "data", files=1, rows_per_file=1200)
    pipeline_file(tmp_path, formats="[parquet]")
    assert foundry(tmp_path, "apply", "pipeline.bronze", "--date", DATE, "--at", AT).returncode == 0
    meta = metadata(tmp_path / "out" / PARTITIONS["date"][0])
    assert meta is not None
    assert [(re.sub(r"-[0-9a-f]{8}\.", ".", f["name"]), f["rows"]) for f in meta["files"]] == [
        ("part-0001.parquet", 500),
        ("part-0002.parquet", 500),
        ("part-0003.parquet", 200),
    ]
    assert meta["total_records"] == 1200
    assert meta["batch_id"] == "20250112_143000"


def test_rerun_replaces_the_partition_without_doubling(tmp_path: Path) -> None:
    source = write_orders(tmp_path / "data")
    pipeline_file(tmp_path)
    for _ in range(2):
        assert foundry(tmp_path, "apply", "pipeline.bronze", "--date", DATE, "--at", AT).returncode == 0
    assert read_partition(tmp_path / "out" / PARTITIONS["date"][0], "parquet") == source


def test_rerun_with_fewer_rows_leaves_no_old_file(tmp_path: Path) -> None:
    write_orders(tmp_path / "data", files=3)
    pipeline_file(tmp_path)
    assert foundry(tmp_path, "apply", "pipeline.bronze", "--date", DATE, "--at", AT).returncode == 0
    for f in (tmp_path / "data").glob("orders-[12].csv"):
        f.unlink()
    fewer = write_orders(tmp_path / "data", files=1)
    assert foundry(tmp_path, "apply", "pipeline.bronze", "--date", DATE, "--at", AT).returncode == 0
    assert read_partition(tmp_path / "out" / PARTITIONS["date"][0], "parquet") == fewer


def test_plan_shows_create_then_replace_once_committed(tmp_path: Path) -> None:
    write_orders(tmp_path / "data", files=1, rows_per_file=10)
    pipeline_file(tmp_path)
    args = ("plan", "pipeline.bronze", "--date", DATE, "--at", AT)
    before = foundry(tmp_path, *args)
    assert "+ create shop.orders" in before.stdout
    assert before.stdout.splitlines()[-1] == "1 pipeline: 1 to create"
    assert foundry(tmp_path, "apply", "pipeline.bronze", "--date", DATE, "--at", AT).returncode == 0
    after = foundry(tmp_path, *args)
    assert "~ replace shop.orders" in after.stdout
    assert "existing   10 records in 2 files" in after.stdout
    assert after.stdout.splitlines()[-1] == "1 pipeline: 1 to replace"


def test_plan_writes_nothing(tmp_path: Path) -> None:
    write_orders(tmp_path / "data", files=1, rows_per_file=10)
    pipeline_file(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert foundry(tmp_path, "plan", "pipeline.bronze").returncode == 0
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_failing_pipeline_fails_alone_and_the_exit_code_says_so(tmp_path: Path) -> None:
    source = write_orders(tmp_path / "data", files=1, rows_per_file=20)
    (tmp_path / "boom.py").write_text(
        "class Boom:\n"
        "    def extract(self, ctx):\n"
        "        yield [{'a': 1}]\n"
        "        raise RuntimeError('the source went away')\n"
    )
    pipeline_file(tmp_path)
    text = (tmp_path / "pipeline.bronze").read_text() + (
        '\npipeline shop.broken {\n  platform = lake\n'
        '  source custom {\n    module = "boom"\n    class_name = "Boom"\n  }\n}\n'
    )
    (tmp_path / "pipeline.bronze").write_text(text)
    out = foundry(tmp_path, "apply", "pipeline.bronze", "--date", DATE, "--at", AT, "--parallel", "2")
    assert out.returncode == 1
    assert "pipeline shop.broken: task extract[0] failed" in out.stderr
    assert "the source went away" in out.stderr
    assert "failed at extract[0]" in out.stdout
    assert "2 pipelines: 1 succeeded, 1 failed" in out.stdout
    assert read_partition(tmp_path / "out" / PARTITIONS["date"][0], "parquet") == source
    assert not (tmp_path / "out" / "system=shop" / "table=broken" / "dt=2025-01-12" / "_metadata.json").exists()


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    write_orders(tmp_path / "data", files=1, rows_per_file=10)
    pipeline_file(tmp_path)
    out = foundry(tmp_path, "apply", "pipeline.bronze", "--date", DATE, "--at", AT, "--log-format", "json")
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stderr.splitlines()]
    assert [e["event"] for e in events if e.get("event") in ("started", "finished")] == ["started", "finished"]
    assert events[-1]["status"] == "succeeded" and events[-1]["rows"] == 10


def test_secrets_never_reach_the_logs(tmp_path: Path) -> None:
    (tmp_path / "leaky.py").write_text(
        "import os\n"
        "class Leaky:\n"
        "    def extract(self, ctx):\n"
        "        raise RuntimeError('cannot log in with ' + os.environ['SHOP_TOKEN'])\n"
        "        yield []\n"
    )
    source = 'source custom {\n    module = "leaky"\n    class_name = "Leaky"\n    params { token = env("SHOP_TOKEN") }\n  }'
    pipeline_file(tmp_path, source=source)
    out = foundry(tmp_path, "apply", "pipeline.bronze", "--date", DATE, "--at", AT, env={"SHOP_TOKEN": "tok-5up3r-s3cret"})
    assert out.returncode == 1
    assert "cannot log in with ***" in out.stderr
    assert "tok-5up3r-s3cret" not in out.stderr + out.stdout


def test_state_holds_the_cursor_after_commit_and_can_be_reset(tmp_path: Path) -> None:
    (tmp_path / "inc.py").write_text(
        "from foundry_dsl.sources.base import NewCursor\n"
        "class Inc:\n"
        "    def extract(self, ctx):\n"
        "        start = int(ctx.cursor or 0)\n"
        "        yield [{'id': i} for i in range(start, start + 5)]\n"
        "        yield NewCursor(str(start + 5))\n"
    )
    pipeline_file(tmp_path, source='source custom {\n    module = "inc"\n    class_name = "Inc"\n  }')
    # two days: the second run lands another partition, from the first run's cursor
    for day in (DATE, "2025-01-13"):
        assert foundry(tmp_path, "apply", "pipeline.bronze", "--date", day, "--at", AT).returncode == 0
    shown = foundry(tmp_path, "state", "show", "shop.orders", "--file", "pipeline.bronze")
    assert json.loads(shown.stdout)["cursor"] == "10"
    reset = foundry(tmp_path, "state", "reset", "shop.orders", "--file", "pipeline.bronze", "--yes")
    assert reset.returncode == 0
    again = foundry(tmp_path, "state", "show", "shop.orders", "--file", "pipeline.bronze")
    assert "no stored state" in again.stdout


def test_bronze_extract_runs_the_original_yaml_configs(tmp_path: Path) -> None:
    source = write_orders(tmp_path / "data", files=1, rows_per_file=30)
    (tmp_path / "extract.py").write_text(
        "import csv\n"
        "from extractors.base import BaseExtractor\n"
        "class CsvRows(BaseExtractor):\n"
        "    def fetch_records(self, cfg, run_date):\n"
        "        path = cfg['source']['custom_extractor']['params']['path']\n"
        "        with open(path) as fh:\n"
        "            rows = list(csv.DictReader(fh))\n"
        "        for r in rows:\n"
        "            r['order_id'] = int(r['order_id']); r['amount'] = float(r['amount'])\n"
        "            r['note'] = r['note'] or None\n"
        "        return rows, None\n"
    )
    (tmp_path / "a.yaml").write_text(
        "platform:\n  bronze:\n    storage_backend: local\n    local_path: out\n"
        "    partitioning:\n      partition_strategy: date\n"
        "    output_defaults:\n      allow_parquet: true\n"
        "source:\n  type: custom\n  system: shop\n  table: orders\n"
        "  custom_extractor:\n    module: extract\n    class_name: CsvRows\n"
        f"    params:\n      path: {tmp_path / 'data' / 'orders-0.csv'}\n"
        "  run:\n    write_parquet: true\n    local_output_dir: out\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "foundry_dsl.cli.bronze_extract", "--config", "a.yaml", "--parallel-workers", "2", "--date", DATE],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    assert read_partition(tmp_path / "out" / PARTITIONS["date"][0], "parquet") == source


def test_plan_goes_on_when_a_store_cannot_be_checked(tmp_path: Path) -> None:
    write_orders(tmp_path / "data", files=1, rows_per_file=10)
    pipeline_file(tmp_path)
    text = (tmp_path / "pipeline.bronze").read_text().replace(
        'storage local {\n    path = "out"\n  }',
        'storage s3 {\n    bucket = "b"\n    access_key = env("NO_SUCH_KEY_VAR")\n'
        '    secret_key = env("NO_SUCH_SECRET_VAR")\n  }',
    )
    (tmp_path / "pipeline.bronze").write_text(text)
    out = foundry(tmp_path, "plan", "pipeline.bronze", "--date", DATE, "--at", AT)
    assert out.returncode == 0, out.stderr
    assert "? write shop.orders" in out.stdout
    assert "storage    not checked: " in out.stdout
    assert out.stdout.splitlines()[-1] == (
        "1 pipeline: 1 to write (storage not checked); 1 cannot run yet (see env and warning)")
