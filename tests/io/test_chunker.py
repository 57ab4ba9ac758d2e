"""Chunker: files rotate at the row limit exactly and near the size limit."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from foundry_dsl.io.chunker import Chunker, Piece
from foundry_dsl.io.writers import write_file
from tests.io.data import mixed_table

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
