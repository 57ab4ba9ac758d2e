"""Sources hand on batches bounded in bytes: wide rows make short batches."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from foundry_dsl import ir
from foundry_dsl.sources import custom, files
from foundry_dsl.sources.base import ExtractContext, NewCursor
from foundry_dsl.sources.files import FilesExtractor
from foundry_dsl.write.convert import estimate_bytes
from tests.write.data import mixed_table, wide_table

KB = 2**10


def _records(n: int, width: int) -> list[dict[str, object]]:
    return [{"id": i, "text": "t" * width} for i in range(n)]


@pytest.mark.parametrize("as_list", [True, False])
def test_old_style_records_are_sliced_by_bytes(monkeypatch: pytest.MonkeyPatch, as_list: bool) -> None:
    monkeypatch.setattr(custom, "RECORDS_BYTES", 64 * KB)
    records = _records(1000, 2 * KB)
    slices = list(custom._slices(records if as_list else iter(records)))
    assert [r for s in slices for r in s] == records
    assert len(slices) >= 25
    assert max(estimate_bytes(s) for s in slices) <= 1.1 * 64 * KB


def test_narrow_old_style_records_keep_slices_of_records_per_batch() -> None:
    records = _records(120_000, 5)
    assert [len(s) for s in custom._slices(records)] == [50_000, 50_000, 20_000]
    assert [len(s) for s in custom._slices(iter(records))] == [50_000, 50_000, 20_000]


def _extract(base: Path, *paths: str) -> list[pa.Table]:
    source = ir.FilesSource(paths=paths)
    p = ir.Pipeline(system="s", table="t", platform=ir.Platform(name="p"), source=source)
    now = dt.datetime(2025, 1, 12, 14, 30)
    ctx = ExtractContext(pipeline=p, run_date=now.date(), run_at=now, base_dir=base)
    items = list(FilesExtractor(source).extract(ctx))
    assert items[-1] == NewCursor(None)
    return items[:-1]  # type: ignore[return-value]


def test_files_of_wide_rows_are_read_in_byte_sized_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "BATCH_BYTES", 1 * 2**20)
    for i in range(3):
        pq.write_table(wide_table(3000, 1 * KB, 3000 * i), tmp_path / f"wide-{i}.parquet")
    batches = _extract(tmp_path, "wide-*.parquet")
    assert pa.concat_tables(batches).column("id").to_pylist() == list(range(9000))
    # the first file's reads are 2,048 rows (2 MB): each is a batch of its own; once
    # rows were seen, reads shrink and are gathered into batches within the budget
    first, rest = batches[:2], batches[2:]
    assert [b.num_rows for b in first] == [2048, 952]
    assert len(rest) >= 6
    assert max(b.nbytes for b in rest) <= 1 * 2**20


def test_a_file_of_narrow_rows_is_read_in_batches_of_batch_rows(tmp_path: Path) -> None:
    pq.write_table(mixed_table(250_000), tmp_path / "narrow.parquet")
    batches = _extract(tmp_path, "narrow.parquet")
    assert sum(b.num_rows for b in batches) == 250_000
    assert all(b.num_rows >= files.BATCH_ROWS for b in batches[:-1])
    assert len(batches) == 3
