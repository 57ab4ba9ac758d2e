"""Chunker rules, fast and exact: calibration from written files (``observe``), what the
size sample holds, when a slice is handed on, and the byte budget of ``rows_within``.

Sizes come from ``observe`` or from a stand-in for ``writers.measure`` (bytes = 10 per
row), never from writing files, so every expectation is a number, not a tolerance
(scripts/mutate chunker). test_chunker.py checks real file sizes end to end."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from foundry_dsl.write import writers
from foundry_dsl.write.chunker import SAMPLE_ROWS, Chunker, Piece, rows_within, split

PER_ROW = 10  # bytes per row the stand-in measure reports


def ints(start: int, n: int, kind: pa.DataType = pa.int64()) -> pa.Table:
    """``n`` rows of one column; int64 rows take 8 bytes of Arrow buffers, int8 rows 1."""
    return pa.table({"i": pa.array(range(start, start + n), kind)})


def shape(pieces: list[Piece]) -> list[tuple[int, int | None, str | None]]:
    return [(p.file, None if p.table is None else p.table.num_rows, p.end) for p in pieces]


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every sample the chunker measures: its rows, first value, schema and scratch dir."""
    calls: list[dict[str, Any]] = []

    def measure(table: pa.Table, fmt: str, compression: str, scratch_dir: str | None = None) -> int:
        first = table.column(0)[0].as_py() if table.num_rows else None
        calls.append({"rows": table.num_rows, "first": first, "type": table.schema.field(0).type,
                      "scratch": scratch_dir})
        return PER_ROW * table.num_rows

    monkeypatch.setattr(writers, "measure", measure)
    return calls


# --- observe: files actually written calibrate the chunker -----------------------------


def test_the_first_written_file_sets_the_estimate() -> None:
    chunker = Chunker(0, 1000)
    chunker.observe(100, 500)
    assert chunker.bytes_per_row == 5.0


def test_later_files_weigh_half_each() -> None:
    chunker = Chunker(0, 1000)
    chunker.observe(100, 500)
    chunker.observe(100, 1500)
    assert chunker.bytes_per_row == 10.0
    chunker.observe(10, 40)
    assert chunker.bytes_per_row == 7.0


def test_the_first_written_file_replaces_the_sampled_estimate(measured: list[dict[str, Any]]) -> None:
    chunker = Chunker(0, 10_000, sample_bytes=80)
    chunker.add(ints(0, 10))
    assert chunker.bytes_per_row == PER_ROW
    chunker.observe(10, 200)
    assert chunker.bytes_per_row == 20.0


def test_files_without_rows_or_bytes_teach_nothing() -> None:
    chunker = Chunker(0, 1000)
    for rows, size in [(0, 100), (10, 0), (-1, -1)]:
        chunker.observe(rows, size)
    assert chunker.bytes_per_row is None
    chunker.observe(1, 1)
    assert chunker.bytes_per_row == 1.0


def test_an_observed_size_sets_the_rows_of_the_next_files() -> None:
    chunker = Chunker(0, 1000, slice_rows=100)
    chunker.observe(10, 1000)  # 100 bytes a row: 10 rows a file
    assert shape(chunker.add(ints(0, 25))) == [(1, 10, "full"), (2, 10, "full")]
    assert shape(chunker.flush()) == [(3, 5, None), (3, None, "early")]


def test_a_row_wider_than_the_limit_is_a_file_of_its_own() -> None:
    chunker = Chunker(0, 500)
    chunker.observe(1, 1000)
    assert shape(chunker.add(ints(0, 3))) == [(1, 1, "full"), (2, 1, "full"), (3, 1, "full")]


def test_a_shrinking_estimate_ends_the_open_file_full() -> None:
    chunker = Chunker(0, 1000, slice_rows=4)
    chunker.observe(10, 1000)  # 10 rows a file
    assert shape(chunker.add(ints(0, 8))) == [(1, 4, None), (1, 4, None)]
    chunker.observe(10, 1500)  # (100 + 150) / 2 = 125 bytes a row: 8 rows a file
    assert shape(chunker.add(ints(8, 4))) == [(1, None, "full"), (2, 4, None)]


# --- when pieces are handed on -----------------------------------------------------------


def test_the_rest_of_a_file_is_handed_on_without_waiting_for_a_slice() -> None:
    chunker = Chunker(10, 0, slice_rows=4)
    assert shape(chunker.add(ints(0, 8))) == [(1, 4, None), (1, 4, None)]
    assert shape(chunker.add(ints(8, 2))) == [(1, 2, "full")]


def test_the_last_row_of_a_file_is_handed_on_at_once() -> None:
    chunker = Chunker(10, 0, slice_rows=3)
    assert shape(chunker.add(ints(0, 9))) == [(1, 3, None)] * 3
    assert shape(chunker.add(ints(9, 1))) == [(1, 1, "full")]


def test_a_slice_worth_of_bytes_is_handed_on_at_once() -> None:
    chunker = Chunker(0, 0, slice_rows=1000, slice_bytes=80)
    assert shape(chunker.add(ints(0, 10))) == [(1, 10, None)]


def test_less_than_a_slice_waits() -> None:
    chunker = Chunker(0, 0, slice_rows=1000, slice_bytes=81)
    assert chunker.add(ints(0, 10)) == []
    assert chunker.buffered_bytes == 80


def test_after_a_full_file_the_next_rows_open_the_next_file() -> None:
    chunker = Chunker(4, 0, slice_rows=4)
    assert shape(chunker.add(ints(0, 8))) == [(1, 4, "full"), (2, 4, "full")]


def test_three_lanes_take_slices_in_turn() -> None:
    chunker = Chunker(4, 0, lanes=3, slice_rows=2)
    assert [p.file for p in chunker.add(ints(0, 12))] == [1, 2, 3, 1, 2, 3]


def test_flush_ends_each_open_file_once() -> None:
    chunker = Chunker(10, 0)
    chunker.add(ints(0, 3))
    assert shape(chunker.flush()) == [(1, 3, None), (1, None, "early")]
    assert chunker.flush() == []


@pytest.mark.parametrize("setting", [{"slice_rows": 1}, {"slice_rows": 0}, {"slice_bytes": 1},
                                     {"slice_bytes": 0}])
def test_the_smallest_slice_is_one_row(setting: dict[str, int]) -> None:
    chunker = Chunker(0, 0, **setting)
    pieces = chunker.add(ints(0, 3, pa.int8())) + chunker.flush()
    assert shape(pieces) == [(1, 1, None), (1, 1, None), (1, 1, None), (1, None, "early")]


def test_bytes_held_count_down_as_slices_are_handed_on() -> None:
    chunker = Chunker(0, 0, slice_rows=4)
    chunker.add(ints(0, 10))
    assert chunker.buffered_bytes == 16  # the two rows waiting for a slice


def test_whole_tables_handed_on_leave_no_bytes_held() -> None:
    chunker = Chunker(0, 0, slice_rows=4)
    assert chunker.add(ints(0, 2)) == []
    assert chunker.buffered_bytes == 16
    assert shape(chunker.add(ints(2, 2))) == [(1, 4, None)]
    assert chunker.buffered_bytes == 0


# --- the size sample ---------------------------------------------------------------------


def test_nothing_is_measured_before_a_sample_is_there(measured: list[dict[str, Any]]) -> None:
    chunker = Chunker(0, 10_000, sample_bytes=81)
    assert chunker.add(ints(0, 10)) == []
    assert measured == [] and chunker.bytes_per_row is None


def test_a_sample_worth_of_bytes_is_measured_at_once(measured: list[dict[str, Any]]) -> None:
    Chunker(0, 10_000, sample_bytes=80).add(ints(0, 10))
    assert [c["rows"] for c in measured] == [10]


def test_a_row_group_of_rows_is_measured_at_once(measured: list[dict[str, Any]]) -> None:
    Chunker(0, 2**40, sample_bytes=2**40).add(ints(0, SAMPLE_ROWS))
    assert [c["rows"] for c in measured] == [SAMPLE_ROWS]


def test_the_sample_is_the_first_row_group_of_the_stream(measured: list[dict[str, Any]]) -> None:
    chunker = Chunker(0, 2**40, sample_bytes=2**40)
    chunker.add(ints(0, 100_000))
    chunker.add(ints(100_000, 100_000))
    assert [(c["rows"], c["first"]) for c in measured] == [(SAMPLE_ROWS, 0)]


def test_the_sample_ends_inside_a_table_at_its_byte_budget(measured: list[dict[str, Any]]) -> None:
    chunker = Chunker(0, 10_000, sample_bytes=120)
    chunker.add(ints(0, 10))
    chunker.add(ints(10, 10))
    assert [c["rows"] for c in measured] == [15]


def test_one_more_row_can_complete_the_sample(measured: list[dict[str, Any]]) -> None:
    chunker = Chunker(0, 10_000, sample_bytes=88)
    chunker.add(ints(0, 10))
    chunker.add(ints(10, 10))
    assert [c["rows"] for c in measured] == [11]


def test_a_sample_full_at_a_table_boundary_takes_nothing_of_the_next(
        measured: list[dict[str, Any]]) -> None:
    chunker = Chunker(0, 10_000, sample_bytes=84)
    chunker.add(ints(0, 10))
    chunker.add(ints(10, 10))
    assert [c["rows"] for c in measured] == [10]


def test_a_first_row_wider_than_the_sample_budget_is_the_sample(
        measured: list[dict[str, Any]]) -> None:
    Chunker(0, 10_000, sample_bytes=4).add(ints(0, 10))
    assert [c["rows"] for c in measured] == [1]
    assert Chunker(0, 10_000, sample_bytes=1).add(ints(0, 4, pa.int8())) is not None
    assert [c["rows"] for c in measured] == [1, 1]


def test_the_sample_holds_one_schema(measured: list[dict[str, Any]]) -> None:
    chunker = Chunker(0, 10_000, sample_bytes=120)
    chunker.add(ints(0, 10))
    chunker.add(pa.table({"i": [float(i) for i in range(10)]}))
    assert [(c["rows"], c["type"]) for c in measured] == [(10, pa.int64())]


def test_the_sample_is_measured_in_the_scratch_dir(measured: list[dict[str, Any]]) -> None:
    Chunker(0, 10_000, sample_bytes=80, scratch_dir="/scratch").add(ints(0, 10))
    assert [c["scratch"] for c in measured] == ["/scratch"]


def test_a_one_row_sample_measures_that_row(measured: list[dict[str, Any]]) -> None:
    chunker = Chunker(0, 10_000, sample_bytes=8)
    chunker.add(ints(0, 1))
    assert chunker.bytes_per_row == PER_ROW


def test_a_file_smaller_than_the_sample_is_measured_again_at_its_size(
        measured: list[dict[str, Any]]) -> None:
    Chunker(0, 40, sample_bytes=80).add(ints(0, 10))  # 10 bytes a row: files of 4 rows
    assert [c["rows"] for c in measured] == [10, 4]


def test_a_file_larger_than_the_sample_is_not_measured_again(
        measured: list[dict[str, Any]]) -> None:
    chunker = Chunker(0, 150, sample_bytes=80)  # files of 15 rows, a sample of 10
    chunker.add(ints(0, 5))
    chunker.add(ints(5, 15))
    assert [c["rows"] for c in measured] == [10]


# --- rows_within and split ----------------------------------------------------------------


def test_rows_within_takes_every_row_that_fits() -> None:
    assert rows_within(ints(0, 10), 80, 10) == 10


def test_rows_within_measures_the_leading_rows_not_the_whole_table() -> None:
    assert rows_within(ints(0, 10), 40, 5) == 5


def test_rows_within_shrinks_in_proportion_to_the_overshoot() -> None:
    assert rows_within(ints(0, 10), 79, 10) == 9
    assert rows_within(ints(0, 10), 40, 10) == 5


def test_rows_within_measures_from_the_first_row() -> None:
    t = pa.table({"s": ["x" * 100, "a", "a", "a"]})
    shared = t.slice(0, 0).nbytes
    budget = t.slice(0, 2).nbytes - shared - 1  # the wide first row fits, two rows do not
    assert rows_within(t, budget, 2) == 1


def test_rows_within_may_give_none_when_not_bound_to_one() -> None:
    assert rows_within(ints(0, 3), 1, 1, at_least_one=False) == 0
    assert rows_within(ints(0, 3), 1, 1) == 1


def test_rows_within_of_no_rows_is_none() -> None:
    assert rows_within(ints(0, 3), 100, 0) == 0
    assert rows_within(ints(0, 0), 100, 5) == 0


def test_split_hands_on_a_batch_of_exactly_the_budget_as_it_is() -> None:
    t = ints(0, 10)
    assert [s is t for s in split(t, t.nbytes)] == [True]


def test_flush_ends_the_open_files_beside_a_lane_whose_file_is_full() -> None:
    chunker = Chunker(2, 0, lanes=2, slice_rows=2)
    assert shape(chunker.add(ints(0, 3))) == [(1, 2, "full")]
    assert shape(chunker.flush()) == [(2, 1, None), (2, None, "early")]
