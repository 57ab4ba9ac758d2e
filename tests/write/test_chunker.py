"""Chunker: files rotate at the row limit exactly and near the size limit; slices are bounded in bytes."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from foundry_dsl.write.chunker import Chunker, Piece, rows_within, split
from foundry_dsl.write.writers import write_file
from tests.write.data import mixed_table, uneven_table, wide_table

MB = 2**20


def _files(chunker: Chunker, inputs: list[pa.Table]) -> dict[int, tuple[pa.Table, str]]:
    """Feed ``inputs``; each file's rows (pieces in order) and how it ended."""
    pieces: dict[int, list[pa.Table]] = {}
    ends: dict[int, str] = {}
    for p in [p for t in inputs for p in chunker.add(t)] + chunker.flush():
        assert p.file not in ends, f"a piece of file {p.file} after its end"
        pieces.setdefault(p.file, [])
        if p.table is not None:
            pieces[p.file].append(p.table)
        if p.end is not None:
            ends[p.file] = p.end
    assert sorted(ends) == sorted(pieces) == list(range(1, len(pieces) + 1))
    return {f: (pa.concat_tables(pieces[f]), ends[f]) for f in sorted(pieces)}


def _run(chunker: Chunker, inputs: list[pa.Table], out: Path | None = None, fmt: str = "parquet") -> list[int]:
    """Feed ``inputs``; write each file when ``out`` is given. Returns rows or bytes per file.

    Files are written as soon as they end, and full ones calibrate the chunker, as in
    the executor.
    """
    sizes: dict[int, int] = {}
    pieces: dict[int, list[pa.Table]] = {}

    def emit(p: Piece) -> None:
        if p.table is not None:
            pieces.setdefault(p.file, []).append(p.table)
        if p.end is None:
            return
        table = pa.concat_tables(pieces.pop(p.file))
        if out is None:
            sizes[p.file] = table.num_rows
            return
        info = write_file(table, str(out / f"part-{p.file:04d}.{fmt}"), fmt, "snappy")  # type: ignore[arg-type]
        if p.end == "full":
            chunker.observe(info.rows, info.bytes)
        sizes[p.file] = info.bytes

    for t in inputs:
        for p in chunker.add(t):
            emit(p)
    for p in chunker.flush():
        emit(p)
    return [sizes[f] for f in sorted(sizes)]


def test_row_limit_is_exact_across_uneven_inputs() -> None:
    inputs = [pa.table({"i": list(range(s, s + n))}) for s, n in [(0, 7), (7, 30), (37, 1), (38, 12)]]
    assert _run(Chunker(10, 0), inputs) == [10, 10, 10, 10, 10]


def test_chunks_keep_every_row_in_order() -> None:
    inputs = [pa.table({"i": list(range(s, s + 13))}) for s in range(0, 130, 13)]
    files = _files(Chunker(17, 0), inputs)
    assert pa.concat_tables([t for t, _ in files.values()]).column("i").to_pylist() == list(range(130))


def test_flush_of_an_empty_stream_has_no_pieces() -> None:
    assert Chunker(10, 0).flush() == []


def test_without_limits_the_batch_is_one_file_whatever_the_lanes() -> None:
    inputs = [pa.table({"i": list(range(s, s + 10))}) for s in range(0, 100, 10)]
    files = _files(Chunker(0, 0, lanes=4, slice_rows=7), inputs)
    assert [(t.column("i").to_pylist(), end) for t, end in files.values()] == [(list(range(100)), "early")]


def test_files_are_handed_out_slice_by_slice() -> None:
    chunker = Chunker(10, 0, slice_rows=4)
    pieces = chunker.add(pa.table({"i": list(range(12))}))
    # the last two rows wait for a whole slice, or the end of the stream
    pieces += chunker.flush()
    assert [(p.file, p.table.num_rows if p.table else None, p.end) for p in pieces] == [
        (1, 4, None), (1, 4, None), (1, 2, "full"), (2, 2, None), (2, None, "early"),
    ]


def test_lanes_take_slices_in_turn_and_each_file_keeps_stream_order() -> None:
    inputs = [pa.table({"i": list(range(s, s + 5))}) for s in range(0, 30, 5)]
    files = _files(Chunker(8, 0, lanes=2, slice_rows=3), inputs)
    assert {f: (t.column("i").to_pylist(), end) for f, (t, end) in files.items()} == {
        1: ([0, 1, 2, 6, 7, 8, 12, 13], "full"),
        2: ([3, 4, 5, 9, 10, 11, 14, 15], "full"),
        3: ([16, 17, 18, 22, 23, 24, 28, 29], "full"),
        4: ([19, 20, 21, 25, 26, 27], "early"),
    }


def test_a_widened_schema_ends_the_open_files_early() -> None:
    chunker = Chunker(100, 0, slice_rows=2)
    first = chunker.add(pa.table({"v": [1, 2]}))
    widened = chunker.add(pa.table({"v": [1.5, 2.5]}))
    assert [(p.file, p.end) for p in first] == [(1, None)]
    assert [(p.file, p.end) for p in widened] == [(1, "early"), (2, None)]
    assert widened[1].table is not None and widened[1].table.column("v").to_pylist() == [1.5, 2.5]


@pytest.mark.parametrize(("fmt", "lanes"), [("parquet", 1), ("csv", 1), ("parquet", 3)])
def test_file_sizes_land_within_15_percent_of_the_limit(tmp_path: Path, fmt: str, lanes: int) -> None:
    # about 100 MB of parquet, ~12 files; CSV is ~3x bigger per row, so fewer rows
    total = 3_600_000 if fmt == "parquet" else 1_000_000
    inputs = [mixed_table(50_000, start) for start in range(0, total, 50_000)]
    sizes = _run(Chunker(0, 8 * MB, fmt=fmt, compression="snappy", lanes=lanes), inputs, tmp_path, fmt)
    assert len(sizes) >= 8
    # the files still open when the stream ends (one per lane) are smaller: the executor
    # repacks them
    off = [round(s / MB, 2) for s in sizes[:-lanes] if abs(s - 8 * MB) > 0.15 * 8 * MB]
    assert off == []
    assert max(sizes[-lanes:]) <= 8 * MB * 1.15


def test_both_limits_the_smaller_wins(tmp_path: Path) -> None:
    inputs = [mixed_table(50_000, s) for s in range(0, 200_000, 50_000)]
    rows = _run(Chunker(30_000, 64 * MB), inputs)
    assert rows == [30_000] * 6 + [20_000]


# --- memory is bounded in bytes, not rows ----------------------------------------------

KB = 2**10


def _pieces(chunker: Chunker, inputs: list[pa.Table]) -> list[Piece]:
    return [p for t in inputs for p in chunker.add(t)] + chunker.flush()


@pytest.mark.parametrize("lanes", [1, 3])
def test_a_slice_never_exceeds_the_byte_budget(lanes: int) -> None:
    # 2 KB rows in batches of 300 (600 KB): 64 KB slices are 32 rows, far below slice_rows
    inputs = [wide_table(300, 2 * KB, start) for start in range(0, 3000, 300)]
    chunker = Chunker(1000, 0, lanes=lanes, slice_bytes=64 * KB)
    pieces = _pieces(chunker, inputs)
    slices = [p.table for p in pieces if p.table is not None]
    assert max(t.nbytes for t in slices) <= 64 * KB
    # every row, once, in order within each file, and the row limit still exact
    files = _files(Chunker(1000, 0, lanes=lanes, slice_bytes=64 * KB), inputs)
    assert [t.num_rows for t, _ in files.values()] == [1000, 1000, 1000]
    ids = sorted(i for t, _ in files.values() for i in t.column("id").to_pylist())
    assert ids == list(range(3000))


def test_rows_of_uneven_width_stay_within_the_byte_budget() -> None:
    widths = [10, 5000, 20, 20, 9000, 1, 30000, 300, 300, 300] * 20
    chunker = Chunker(0, 0, slice_bytes=16 * KB)
    pieces = _pieces(chunker, [uneven_table(widths[i : i + 7], i) for i in range(0, len(widths), 7)])
    slices = [p.table for p in pieces if p.table is not None]
    # a 30 KB row is wider than the budget: it is a slice of its own
    assert all(t.nbytes <= 16 * KB or t.num_rows == 1 for t in slices)
    assert pa.concat_tables(slices).column("id").to_pylist() == list(range(len(widths)))


def test_narrow_slices_keep_their_row_count() -> None:
    # bytes never bite on narrow rows: slices are still SLICE_ROWS rows, as before
    inputs = [mixed_table(50_000, start) for start in range(0, 200_000, 50_000)]
    pieces = _pieces(Chunker(0, 0), inputs)
    assert [p.table.num_rows for p in pieces if p.table is not None] == [65_536] * 3 + [3_392]


def test_the_chunker_holds_at_most_a_slice_besides_the_table_added() -> None:
    chunker = Chunker(0, 0, slice_bytes=64 * KB)
    for start in range(0, 2000, 100):
        chunker.add(wide_table(100, 2 * KB, start))
        assert chunker.buffered_bytes < 64 * KB


def test_the_size_sample_is_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    samples: list[pa.Table] = []

    def measure(table: pa.Table, fmt: str, compression: str, scratch_dir: str | None = None) -> int:
        samples.append(table)
        return table.num_rows * 1000

    monkeypatch.setattr("foundry_dsl.write.writers.measure", measure)
    chunker = Chunker(0, 8 * MB, slice_bytes=64 * KB, sample_bytes=256 * KB)
    # 200 KB a table: the sample is taken once 256 KB are buffered (the second table),
    # not once SAMPLE_ROWS rows are, and files open
    assert chunker.add(wide_table(100, 2 * KB, 0)) == []
    assert not samples
    assert chunker.add(wide_table(100, 2 * KB, 100)) != []
    assert len(samples) == 1
    assert samples[0].nbytes <= 256 * KB
    assert samples[0].num_rows == 256 * KB // wide_table(1, 2 * KB).nbytes


def test_split_cuts_a_huge_batch_into_byte_sized_slices_without_copying() -> None:
    big = wide_table(1000, 4 * KB)
    slices = list(split(big, 100 * KB))
    assert len(slices) > 1
    assert all(s.nbytes <= 100 * KB for s in slices)
    assert pa.concat_tables(slices).equals(big)
    data = big.column("payload").chunk(0).buffers()[2]
    assert all(s.column("payload").chunk(0).buffers()[2].address == data.address for s in slices)


def test_split_hands_on_a_small_batch_as_it_is_and_a_too_wide_row_alone() -> None:
    small = wide_table(10, 100)
    assert next(iter(split(small, 100 * KB))) is small
    rb = uneven_table([10, 200 * KB, 10, 10]).to_batches()[0]
    assert [s.num_rows for s in split(rb, 100 * KB)] == [1, 1, 2]


def test_rows_within_counts_the_rows_not_a_shared_dictionary() -> None:
    t = pa.table({"d": pa.array(["x" * 1000, "y" * 1000] * 500).dictionary_encode()})
    # the dictionary (2 KB) is shared by every slice; each row adds a 4-byte index
    assert rows_within(t, 400, 1000) == 100
