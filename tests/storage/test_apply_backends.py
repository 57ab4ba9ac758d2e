"""`foundry apply` end to end on every backend: land, read back with pyarrow through
fsspec, rerun, and find the partition replaced, not doubled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from foundry_dsl.storage.fsspec_backend import FsspecBackend
from foundry_dsl.storage.layout import committed_metadata
from foundry_dsl.storage.registry import backend_for
from tests.e2e.helpers import AT, DATE, foundry, write_orders
from tests.fixtures.storage_services import (
    ENV_AZ_CONN,
    ENV_GCS_ENDPOINT,
    ENV_S3_ENDPOINT,
    ENV_S3_KEY,
    ENV_S3_SECRET,
    Service,
    make_pipeline,
)

PARTITION = "system=shop/table=orders/dt=2025-01-12"


def _storage_block(service: Service, prefix: str) -> str:
    if service.name == "local":
        return f'storage local {{\n    path = "{service.endpoint}/{prefix}"\n  }}'
    if service.name == "s3":
        return (f'storage s3 {{\n    bucket = "foundry"\n    prefix = "{prefix}"\n'
                f'    endpoint = env("{ENV_S3_ENDPOINT}")\n    access_key = env("{ENV_S3_KEY}")\n'
                f'    secret_key = env("{ENV_S3_SECRET}")\n    region = "us-east-1"\n  }}')
    if service.name == "azure":
        return (f'storage azure {{\n    container = "foundry"\n    prefix = "{prefix}"\n'
                f'    connection_string = env("{ENV_AZ_CONN}")\n  }}')
    return (f'storage gcs {{\n    bucket = "foundry"\n    prefix = "{prefix}"\n'
            f'    project = "foundry-test"\n    endpoint = env("{ENV_GCS_ENDPOINT}")\n  }}')


def _project(folder: Path, service: Service, prefix: str) -> list[tuple[Any, ...]]:
    rows = write_orders(folder / "data", files=2, rows_per_file=600)
    (folder / "pipeline.bronze").write_text(f"""platform lake {{
  {_storage_block(service, prefix)}
  partition = date
  formats = [parquet]
}}

pipeline shop.orders {{
  platform = lake
  source files {{
    paths = ["data/*.csv"]
    format = csv
  }}
  run {{
    max_rows_per_file = 500
  }}
}}
""")
    return rows


def _read_back(backend: FsspecBackend) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    meta = committed_metadata(backend, PARTITION)
    assert meta is not None
    rows: list[tuple[Any, ...]] = []
    for f in meta["files"]:
        with backend.fs.open(f"{backend.root}/{PARTITION}/{f['name']}", "rb") as fh:
            table = pq.read_table(fh, columns=["order_id", "customer", "amount", "note"])
        rows.extend(tuple(r.values()) for r in table.to_pylist())
    return meta, sorted(rows)


@pytest.mark.slow
def test_apply_lands_reads_back_and_a_rerun_replaces(
    any_service: Service, prefix: str, tmp_path: Path
) -> None:
    source = _project(tmp_path, any_service, prefix)
    backend = backend_for(make_pipeline(any_service.storage(prefix)))
    assert isinstance(backend, FsspecBackend)
    args = ("apply", "pipeline.bronze", "--date", DATE, "--at", AT)
    before = foundry(tmp_path, "plan", "pipeline.bronze", "--date", DATE, "--at", AT)
    assert before.returncode == 0, before.stderr + before.stdout
    assert "1 pipeline: 1 to create" in before.stdout

    first = foundry(tmp_path, *args)
    assert first.returncode == 0, first.stderr + first.stdout
    meta1, rows1 = _read_back(backend)
    assert rows1 == source
    assert len(meta1["files"]) == 3

    planned = foundry(tmp_path, "plan", "pipeline.bronze", "--date", DATE, "--at", AT)
    assert planned.returncode == 0, planned.stderr + planned.stdout
    assert "1 pipeline: 1 to replace" in planned.stdout

    second = foundry(tmp_path, *args)
    assert second.returncode == 0, second.stderr + second.stdout
    meta2, rows2 = _read_back(backend)
    assert rows2 == source  # replaced, not doubled
    cut = len(PARTITION) + 1
    on_store = sorted(p[cut:] for p in backend.list_files(PARTITION) if not p.endswith(".json"))
    assert on_store == sorted(f["name"] for f in meta2["files"])
    if any_service.name != "local":  # object stores: new tagged names, old files gone
        assert not {f["name"] for f in meta1["files"]} & set(on_store)
    for secret in any_service.secrets:
        for text in (first.stdout, first.stderr, second.stdout, second.stderr, str(meta2)):
            assert secret not in text
