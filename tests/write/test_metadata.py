"""_metadata.json: the spec's fields, foundry's additions, never a secret."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from foundry_dsl import __version__, ir
from foundry_dsl.executor.metadata import build_metadata
from foundry_dsl.write.writers import FileInfo

SECRET = "s3cr3t-value-xyz"


def _pipeline() -> ir.Pipeline:
    return ir.Pipeline(
        system="crm",
        table="accounts",
        platform=ir.Platform(
            name="p",
            storage=ir.S3Storage(bucket="b", secret_key=ir.EnvRef(name="BRONZE_SECRET")),
        ),
        source=ir.CustomSource(
            module="m", class_name="C", params={"token": ir.EnvRef(name="BRONZE_SECRET")}
        ),
    )


def _doc(monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("BRONZE_SECRET", SECRET)
    return build_metadata(
        pipeline=_pipeline(),
        formats=_pipeline().run.formats,
        partition_path="system=crm/table=accounts/dt=2025-01-12",
        run_date=dt.date(2025, 1, 12),
        batch_id="b1",
        batch_timestamp=dt.datetime(2025, 1, 12, 14, 30, 15, 123456),
        files=[
            FileInfo("part-0002.parquet", "parquet", 5, 500, "bb"),
            FileInfo("part-0001.parquet", "parquet", 10, 1000, "aa"),
        ],
        schema=pa.schema([("id", pa.int64()), ("n", pa.struct([("x", pa.string())]))]),
        new_cursor="2025-01-12T14:30:00Z",
        durations={"write": 1.5, "extract": 2.25},
    )


def test_metadata_has_the_spec_fields_then_foundrys(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _doc(monkeypatch)
    assert doc == {
        "batch_timestamp": "2025-01-12T14:30:15.123456",
        "run_date": "2025-01-12",
        "system": "crm",
        "table": "accounts",
        "total_records": 15,
        "num_files": 2,
        "partition_path": "system=crm/table=accounts/dt=2025-01-12/",
        "file_formats": {"csv": False, "parquet": True},
        "new_cursor": "2025-01-12T14:30:00Z",
        "batch_id": "b1",
        "files": [
            {"name": "part-0001.parquet", "format": "parquet", "rows": 10, "bytes": 1000, "sha256": "aa"},
            {"name": "part-0002.parquet", "format": "parquet", "rows": 5, "bytes": 500, "sha256": "bb"},
        ],
        "schema": [{"name": "id", "type": "int64"}, {"name": "n", "type": "struct<x: string>"}],
        "durations": {"extract": 2.25, "write": 1.5},
        "foundry_version": __version__,
        "source_hash": _pipeline().source_hash,
    }


def test_metadata_never_contains_a_secret_value(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SECRET not in json.dumps(_doc(monkeypatch))


def test_total_records_counts_rows_once_when_two_formats_are_written() -> None:
    p = _pipeline().model_copy(update={"run": ir.RunOptions(formats=("parquet", "csv"))})
    doc = build_metadata(
        pipeline=p, formats=p.run.formats, partition_path="x/", run_date=dt.date(2025, 1, 12), batch_id="b",
        batch_timestamp=dt.datetime(2025, 1, 12), schema=pa.schema([]), new_cursor=None, durations={},
        files=[FileInfo("a.parquet", "parquet", 3, 1, "x"), FileInfo("a.csv", "csv", 3, 1, "y")],
    )
    assert (doc["total_records"], doc["file_formats"]) == (3, {"csv": True, "parquet": True})
