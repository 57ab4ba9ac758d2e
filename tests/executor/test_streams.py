"""Streams: every buffer between the source and DuckDB is bounded in bytes, not only items."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from foundry_dsl.executor import streams
from foundry_dsl.executor.jobs import WriteJob
from foundry_dsl.executor.streams import (
    ByteQueue,
    Feed,
    FileWriters,
    batch_slices,
    extract_queue,
)
from foundry_dsl.write import chunker as chunker_module
from foundry_dsl.write.chunker import Chunker
from foundry_dsl.write.writers import FileInfo

KB, MB = 2**10, 2**20


def _wide(n: int, width: int, start: int = 0) -> pa.Table:
    rng = np.random.default_rng(start)
    data = rng.integers(97, 123, n * width, dtype=np.uint8)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    text = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return pa.table({"id": np.arange(start, start + n), "payload": text})


# --- ByteQueue -------------------------------------------------------------------------


def test_a_byte_queue_refuses_what_would_pass_its_budget() -> None:
    q: ByteQueue[bytes] = ByteQueue(100, size=len)
    q.put(b"x" * 60)
    with pytest.raises(queue.Full):
        q.put(b"y" * 60, timeout=0.01)
    q.put(b"z" * 40, timeout=0.01)  # 100: exactly the budget
    assert q.bytes == 100
    assert q.get() == b"x" * 60
    q.put(b"y" * 60, timeout=0.01)
    assert [q.get(), q.get()] == [b"z" * 40, b"y" * 60]
    assert q.bytes == 0
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)


def test_an_item_heavier_than_the_budget_passes_alone() -> None:
    q: ByteQueue[bytes] = ByteQueue(100, size=len)
    q.put(b"h" * 500, timeout=0.01)  # an empty queue takes it: no deadlock
    with pytest.raises(queue.Full):
        q.put(b"s", timeout=0.01)
    assert q.get() == b"h" * 500
    q.put(b"s", timeout=0.01)


def test_a_byte_queue_also_bounds_items() -> None:
    q: ByteQueue[str] = ByteQueue(10**9, max_items=2, size=lambda _: 0)
    q.put("a")
    q.put("b")
    with pytest.raises(queue.Full):
        q.put("c", timeout=0.01)


def test_a_blocked_put_goes_in_once_the_consumer_frees_bytes() -> None:
    q: ByteQueue[bytes] = ByteQueue(100, size=len)
    q.put(b"a" * 80)
    done = threading.Event()

    def produce() -> None:
        q.put(b"b" * 80)  # blocks until "a" is taken
        done.set()

    th = threading.Thread(target=produce)
    th.start()
    assert not done.wait(0.05)
    assert q.get() == b"a" * 80
    assert done.wait(5)
    th.join()
    assert q.get() == b"b" * 80


def test_the_extract_queue_weighs_batches_and_nothing_else() -> None:
    q = extract_queue(parts=1)
    big = _wide(100, 4 * KB)
    q.put(("batch", 0, big))
    assert q.bytes == big.nbytes
    q.put(("cursor", 0, "c"), timeout=0.01)  # two items per part, as before
    with pytest.raises(queue.Full):
        q.put(("done", 0, None), timeout=0.01)
    assert q.get()[0] == "batch"
    assert q.bytes == 0


def test_the_extract_queue_holds_at_most_queue_bytes_of_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "QUEUE_BYTES", 256 * KB)
    q = extract_queue(parts=8)  # 16 items allowed: the bytes bound first
    piece = _wide(50, 2 * KB)  # ~100 KB
    q.put(("batch", 0, piece))
    q.put(("batch", 1, piece))
    with pytest.raises(queue.Full):
        q.put(("batch", 2, piece), timeout=0.01)
    assert q.bytes <= 256 * KB


# --- splitting before the queue --------------------------------------------------------


def test_a_huge_batch_is_split_into_slices_before_it_is_queued() -> None:
    big = _wide(4000, 4 * KB)  # 16 MB
    pieces = list(batch_slices(big, 1 * MB))
    assert len(pieces) >= 16
    assert all(p.nbytes <= 1 * MB for p in pieces)
    assert pa.concat_tables(pieces).equals(big)


def test_records_are_split_too_and_small_batches_are_not() -> None:
    records = [{"id": i, "text": "r" * 2000} for i in range(2000)]  # ~4 MB as Arrow
    pieces = list(batch_slices(records, 1 * MB))
    assert len(pieces) >= 4
    assert [r for p in pieces for r in p] == records
    small = pa.table({"a": [1]})
    assert list(batch_slices(small)) == [small]


def test_split_and_slice_budgets_agree() -> None:
    # what is queued is never wider than what the chunker hands a writer, and a feed
    # holds whole slices
    assert streams.SPLIT_BYTES == chunker_module.SLICE_BYTES
    assert streams.FEED_BYTES >= chunker_module.SLICE_BYTES
    assert streams.QUEUE_BYTES >= streams.SPLIT_BYTES


# --- feeds and writers -----------------------------------------------------------------


def test_a_feed_is_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "FEED_BYTES", 300 * KB)
    stop = threading.Event()
    feed = Feed(stop)
    slice_ = _wide(50, 4 * KB)  # ~200 KB: one fits, two do not
    feed.put(slice_, lambda: None)
    blocked = threading.Event()

    def check() -> None:
        blocked.set()  # called while put waits for room
        stop.set()

    with pytest.raises(streams.Cancelled):
        feed.put(slice_, check)
    assert blocked.is_set()


def test_a_streamed_file_of_wide_rows_has_row_groups_bounded_in_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("foundry_dsl.write.writers.ROW_GROUP_BYTES", 1 * MB)
    formats = (("parquet", "snappy"),)

    def make_job(index: int, schema: pa.Schema) -> WriteJob:
        return WriteJob(None, "", "run", str(tmp_path), index, formats, 0)  # type: ignore[arg-type]

    uploaded: list[FileInfo] = []
    stop = threading.Event()
    writers = FileWriters(
        2, formats, make_job, lambda job, infos: uploaded.extend(infos), lambda rows, size: None, stop, "t"
    )
    chunker = Chunker(2500, 0, lanes=2, slice_bytes=256 * KB)
    try:
        for start in range(0, 5000, 500):
            for piece in chunker.add(_wide(500, 2 * KB, start)):
                writers.put(piece)
        for piece in chunker.flush():
            writers.put(piece)
        written = writers.finish()
    finally:
        stop.set()
        writers.close()
    assert [w.infos[0].rows for w in written] == [2500, 2500]
    for w in written:
        md = pq.ParquetFile(w.job.local_path("parquet")).metadata
        sizes = [md.row_group(i).total_byte_size for i in range(md.num_row_groups)]
        assert len(sizes) >= 4
        assert max(sizes) <= 1.05 * MB
