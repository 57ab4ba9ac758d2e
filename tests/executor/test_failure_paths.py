"""Failure paths of a run that the happy-path tests never take: a writer that dies or
a disk that fills while a file streams, and a partition whose ``_metadata.json`` is
corrupt. Each run must fail naming the task, commit nothing, keep the previous
commit and the cursor, and leave no thread behind."""

from __future__ import annotations

import errno
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from foundry_dsl.executor import streams
from foundry_dsl.storage.local import local_backend
from foundry_dsl.storage.state import StateStore
from tests.executor.helpers import apply, custom_pipeline, only, partition, rows

# 60 rows in six batches, the cursor after them; files of 10 rows, so a run streams
# several files one slice at a time
SOURCE = """
from foundry_dsl.sources.base import Extractor, NewCursor
class Source(Extractor):
    def extract(self, ctx, part=0):
        for start in range(0, 60, 10):
            yield [{"id": i} for i in range(start, start + 10)]
        yield NewCursor("60")
"""


def _pipeline(tmp_path: Path) -> Any:
    return custom_pipeline(tmp_path, SOURCE, max_rows_per_file=10)


def _state(tmp_path: Path) -> dict[str, Any] | None:
    return StateStore(local_backend(str(tmp_path / "out"))).get("s", "t")


def _writer_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if ":write" in t.name or ":format" in t.name)


@pytest.fixture
def failing_writer(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """From the moment ``armed["error"]`` is set, the third file's writer raises it after
    taking its first slice: mid-stream, with files before it written."""
    armed: dict[str, Any] = {"error": None, "raised": 0}
    real = streams.write_stream

    def write_stream(job: Any, fmt: str, compression: str, schema: pa.Schema,
                     tables: Any) -> Any:
        if armed["error"] is None or job.index != 3:
            return real(job, fmt, compression, schema, tables)

        def dying() -> Iterator[pa.Table]:
            yield next(iter(tables))
            armed["raised"] += 1
            raise armed["error"]

        return real(job, fmt, compression, schema, dying())

    monkeypatch.setattr(streams, "write_stream", write_stream)
    return armed


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (RuntimeError("writer thread died"), "writer thread died"),
    ],
    ids=["disk-full", "writer-dies"],
)
def test_a_writer_failing_mid_stream_fails_the_run_and_keeps_the_previous_commit(
    tmp_path: Path, failing_writer: dict[str, Any], error: BaseException, text: str,
) -> None:
    p = _pipeline(tmp_path)
    first = only(apply(p))
    assert first.status == "succeeded", first.error
    before_rows = rows(tmp_path)
    before_meta = (partition(tmp_path) / "_metadata.json").read_bytes()
    before_state = _state(tmp_path)

    failing_writer["error"] = error
    failed = only(apply(p))
    assert failing_writer["raised"] == 1
    assert failed.status == "failed"
    assert (failed.task or "").startswith("write[parquet] (part-0003")
    assert text in (failed.error or "")
    assert rows(tmp_path) == before_rows
    assert (partition(tmp_path) / "_metadata.json").read_bytes() == before_meta
    assert _state(tmp_path) == before_state
    assert _writer_threads() == []
    staging = tmp_path / "out" / "_foundry" / "staging"
    assert [p for p in staging.rglob("*") if p.is_file()] == []


def test_a_corrupt_metadata_file_fails_the_run_naming_it_and_how_to_recover(
    tmp_path: Path,
) -> None:
    p = _pipeline(tmp_path)
    assert only(apply(p)).status == "succeeded"
    marker = partition(tmp_path) / "_metadata.json"
    marker.write_text('{"files": [')  # cut short, by hand or by a tool that is not foundry
    listed = sorted(f.name for f in partition(tmp_path).iterdir())
    state = _state(tmp_path)

    failed = only(apply(p))
    assert failed.status == "failed"
    error = failed.error or ""
    assert "system=s/table=t/dt=2025-01-12: _metadata.json is not valid JSON" in error
    assert "inspect it, then delete it to land the partition again" in error
    # nothing was replaced: the partition's files and the cursor are as they were
    assert sorted(f.name for f in partition(tmp_path).iterdir()) == listed
    assert marker.read_text() == '{"files": ['
    assert _state(tmp_path) == state


def test_after_the_corrupt_metadata_file_is_deleted_the_run_lands_again(tmp_path: Path) -> None:
    p = _pipeline(tmp_path)
    assert only(apply(p)).status == "succeeded"
    marker = partition(tmp_path) / "_metadata.json"
    marker.write_text("not json")
    assert only(apply(p)).status == "failed"
    marker.unlink()
    again = only(apply(p))
    assert again.status == "succeeded", again.error
    assert json.loads(marker.read_text())["num_files"] == 6
