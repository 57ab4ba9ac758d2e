"""Local copies after an upload (the spec's `local_output_dir`): with `keep_local_files`
(`.bronze`) or by default (YAML, unless `cleanup_local_files: true`), a run that uploads
to an object store leaves `<local_output_dir>/<partition>/` holding exactly what it
committed; otherwise it leaves nothing on local disk."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.e2e.helpers import DATE, foundry, read_partition, write_orders
from tests.fixtures.storage_services import (
    BUCKET,
    ENV_S3_ENDPOINT,
    ENV_S3_KEY,
    ENV_S3_SECRET,
    S3_KEY,
    S3_SECRET,
    Service,
)

PARTITION = f"system=shop/table=orders/dt={DATE}"

CONFIG = f"""platform:
  bronze:
    s3_bucket: "{BUCKET}"
    s3_prefix: "{{prefix}}"
  s3_connection:
    endpoint_url_env: "{ENV_S3_ENDPOINT}"
    access_key_env: "{ENV_S3_KEY}"
    secret_key_env: "{ENV_S3_SECRET}"
source:
  type: files
  system: shop
  table: orders
  files:
    paths: ["data/*.csv"]
    format: csv
  run:
    max_rows_per_file: 500
    storage_enabled: true
{{extra}}"""


def _bronze(folder: Path, prefix: str, run: str, storage: str = "") -> Path:
    storage = storage or (
        f'storage s3 {{\n    bucket = "{BUCKET}"\n    prefix = "{prefix}"\n'
        f'    endpoint = env("{ENV_S3_ENDPOINT}")\n    access_key = env("{ENV_S3_KEY}")\n'
        f'    secret_key = env("{ENV_S3_SECRET}")\n    region = "us-east-1"\n  }}'
    )
    path = folder / "p.bronze"
    path.write_text(f"""platform lake {{
  {storage}
}}

pipeline shop.orders {{
  platform = lake
  source files {{
    paths = ["data/*.csv"]
    format = csv
  }}
  run {{
    max_rows_per_file = 500
    {run}
  }}
}}
""")
    return path


def _keys(s3: Service, prefix: str) -> list[str]:
    """The names in the committed partition on S3."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=S3_KEY,
                          aws_secret_access_key=S3_SECRET, region_name="us-east-1")
    where = f"{prefix}/{PARTITION}/"
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=where).get("Contents", [])
    return sorted(o["Key"][len(where):] for o in listed)


def _local(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "output" / PARTITION).iterdir())


@pytest.fixture()
def prefix() -> str:
    return f"keep-{uuid.uuid4().hex[:8]}"


def test_keep_local_files_keeps_exactly_the_committed_files(
    tmp_path: Path, moto_s3: Service, prefix: str
) -> None:
    write_orders(tmp_path / "data", files=2, rows_per_file=600)
    _bronze(tmp_path, prefix, "keep_local_files = true")
    out = foundry(tmp_path, "apply", "p.bronze", "--date", DATE)
    assert out.returncode == 0, out.stderr
    assert _local(tmp_path) == _keys(moto_s3, prefix)
    assert len(_local(tmp_path)) == 4  # 1,200 rows in files of 500, and _metadata.json


def test_the_local_copy_holds_every_row_and_the_committed_metadata(
    tmp_path: Path, moto_s3: Service, prefix: str
) -> None:
    rows = write_orders(tmp_path / "data", files=2, rows_per_file=600)
    _bronze(tmp_path, prefix, "keep_local_files = true")
    assert foundry(tmp_path, "apply", "p.bronze", "--date", DATE).returncode == 0
    local = tmp_path / "output" / PARTITION
    assert read_partition(local, "parquet") == sorted(rows)
    meta = json.loads((local / "_metadata.json").read_text())
    assert sorted(f["name"] for f in meta["files"]) == _local(tmp_path)[1:]


def test_a_rerun_replaces_the_local_copy(tmp_path: Path, moto_s3: Service, prefix: str) -> None:
    write_orders(tmp_path / "data", files=2, rows_per_file=600)
    _bronze(tmp_path, prefix, "keep_local_files = true")
    assert foundry(tmp_path, "apply", "p.bronze", "--date", DATE).returncode == 0
    write_orders(tmp_path / "data", files=1, rows_per_file=300)  # orders-0.csv rewritten
    assert foundry(tmp_path, "apply", "p.bronze", "--date", DATE).returncode == 0
    assert _local(tmp_path) == _keys(moto_s3, prefix)
    assert sorted(p.name for p in (tmp_path / "output" / PARTITION).parent.iterdir()) == [
        f"dt={DATE}"
    ]


def test_without_keep_local_files_nothing_stays_on_local_disk(
    tmp_path: Path, moto_s3: Service, prefix: str
) -> None:
    write_orders(tmp_path / "data", files=1, rows_per_file=10)
    _bronze(tmp_path, prefix, "")
    out = foundry(tmp_path, "apply", "p.bronze", "--date", DATE)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "output").exists()


def test_on_local_disk_storage_no_second_copy_is_made(tmp_path: Path) -> None:
    write_orders(tmp_path / "data", files=1, rows_per_file=10)
    _bronze(tmp_path, "", "keep_local_files = true", storage='storage local {\n    path = "lake"\n  }')
    out = foundry(tmp_path, "apply", "p.bronze", "--date", DATE)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "output").exists()


def test_yaml_keeps_the_local_files_by_default_as_the_original_tool(
    tmp_path: Path, moto_s3: Service, prefix: str
) -> None:
    write_orders(tmp_path / "data", files=1, rows_per_file=10)
    (tmp_path / "orders.yaml").write_text(CONFIG.format(prefix=prefix, extra=""))
    out = foundry(tmp_path, "apply", "orders.yaml", "--date", DATE)
    assert out.returncode == 0, out.stderr
    assert _local(tmp_path) == _keys(moto_s3, prefix)


def test_yaml_cleanup_local_files_drops_them_after_the_upload(
    tmp_path: Path, moto_s3: Service, prefix: str
) -> None:
    write_orders(tmp_path / "data", files=1, rows_per_file=10)
    config = CONFIG.format(prefix=prefix, extra="    cleanup_local_files: true\n")
    (tmp_path / "orders.yaml").write_text(config)
    out = foundry(tmp_path, "apply", "orders.yaml", "--date", DATE)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "output").exists()
    assert len(_keys(moto_s3, prefix)) == 2


def test_parts_landed_on_dask_workers_are_downloaded_into_the_local_copy(
    tmp_path: Path, moto_s3: Service, prefix: str
) -> None:
    write_orders(tmp_path / "data", files=2, rows_per_file=600)
    _bronze(tmp_path, prefix, "keep_local_files = true")
    out = foundry(tmp_path, "apply", "p.bronze", "--date", DATE, "--executor", "dask",
                  "--workers", "1", timeout=300)
    assert out.returncode == 0, out.stderr
    assert _local(tmp_path) == _keys(moto_s3, prefix)
