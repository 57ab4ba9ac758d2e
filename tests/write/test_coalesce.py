"""Small Arrow batches joined before the executor queues them: fewer batches, the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from foundry_dsl.sources.base import NewCursor
from foundry_dsl.write.convert import coalesce
from foundry_dsl.write.schema import BatchSchema


def page(start: int, n: int = 3, kind: type = int) -> pa.RecordBatch:
    return pa.record_batch({"id": [kind(i) for i in range(start, start + n)]})


def rows(items: list[Any]) -> list[Any]:
    return [r for b in items for r in (b.to_pylist() if hasattr(b, "to_pylist") else [b])]


def test_pages_of_one_schema_become_one_batch_with_every_row_in_order() -> None:
    pages = [page(0), page(3), page(6)]
    out = list(coalesce(iter(pages)))
    assert len(out) == 1
    assert out[0].schema == pages[0].schema
    assert rows(out) == rows(pages)


def test_a_batch_of_another_schema_ends_the_group_at_the_same_row() -> None:
    pages = [page(0), page(3), page(6, kind=float), page(9, kind=float)]
    out = list(coalesce(iter(pages)))
    assert [b.num_rows for b in out] == [6, 6]
    assert [b.schema.field("id").type for b in out] == [pa.int64(), pa.float64()]
    assert rows(out) == rows(pages)


def test_records_cursors_and_empty_batches_pass_through_in_order() -> None:
    empty = pa.record_batch({"id": pa.array([], pa.int64())})
    items: list[Any] = [page(0), [{"id": 99}], page(3), page(6), empty, NewCursor("c")]
    out = list(coalesce(iter(items)))
    assert [type(x).__name__ for x in out] == ["RecordBatch", "list", "Table", "RecordBatch",
                                                "NewCursor"]
    assert out[2].num_rows == 6 and out[3] is empty


def test_a_group_ends_at_max_rows_and_max_bytes() -> None:
    by_rows = list(coalesce(iter([page(i * 3) for i in range(5)]), max_rows=6))
    assert [b.num_rows for b in by_rows] == [6, 6, 3]
    one = page(0).get_total_buffer_size()
    by_bytes = list(coalesce(iter([page(i * 3) for i in range(5)]), max_bytes=2 * one))
    assert [b.num_rows for b in by_bytes] == [6, 6, 3]


def test_a_batch_as_large_as_a_group_is_handed_on_as_it_is() -> None:
    big = page(0, n=10)
    out = list(coalesce(iter([page(100), big, page(200)]), max_rows=10))
    assert out[1] is big
    assert rows(out) == rows([page(100), big, page(200)])


def test_a_group_is_handed_on_once_its_first_batch_has_waited_max_seconds() -> None:
    out = list(coalesce(iter([page(0), page(3), page(6)]), max_seconds=0.0))
    assert [b.num_rows for b in out] == [3, 3, 3]


def test_stopping_early_closes_the_source_at_once() -> None:
    closed = []

    def source() -> Iterator[pa.RecordBatch]:
        try:
            for i in range(100):
                yield page(i * 3)
        finally:
            closed.append(True)

    stream = coalesce(source(), max_rows=6)
    next(stream)
    stream.close()
    assert closed == [True]


def test_joined_batches_widen_the_batch_schema_as_the_pages_did() -> None:
    pages = [page(0), page(3), page(6, kind=float), page(9)]
    one_by_one, joined = BatchSchema(), BatchSchema()
    for p in pages:
        one_by_one.add(pa.Table.from_batches([p]))
    for b in coalesce(iter(pages)):
        joined.add(b if isinstance(b, pa.Table) else pa.Table.from_batches([b]))
    assert joined.schema == one_by_one.schema
    assert joined.version == one_by_one.version
