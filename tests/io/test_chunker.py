"""Chunker: files rotate at the row limit exactly and near the size limit."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from foundry_dsl.io.chunker import Chunker
from foundry_dsl.io.writers import write_file
from tests.io.data import mixed_table

MB = 2**20


def _run(chunker: Chunker, inputs: list[pa.Table], out: Path | None = None, fmt: str = "parquet") -> list[int]:
    """Feed ``inputs``; write each chunk when ``out`` is given. Returns rows or bytes per file."""
    sizes: list[int] = []

    def emit(chunk: pa.Table) -> None:
        if out is None:
            sizes.append(chunk.num_rows)
            return
        info = write_file(chunk, str(out / f"part-{len(sizes):04d}.{fmt}"), fmt, "snappy")  # type: ignore[arg-type]
        chunker.observe(info.rows, info.bytes)
        sizes.append(info.bytes)

    for t in inputs:
        for chunk in chunker.add(t):
            emit(chunk)
    rest = chunker.flush()
    if rest is not None:
        emit(rest)
    return sizes


def test_row_limit_is_exact_across_uneven_inputs() -> None:
    inputs = [pa.table({"i": list(range(s, s + n))}) for s, n in [(0, 7), (7, 30), (37, 1), (38, 12)]]
    assert _run(Chunker(10, 0), inputs) == [10, 10, 10, 10, 10]


def test_chunks_keep_every_row_in_order() -> None:
    inputs = [pa.table({"i": list(range(s, s + 13))}) for s in range(0, 130, 13)]
    chunker = Chunker(17, 0)
    chunks = [c for t in inputs for c in chunker.add(t)]
    rest = chunker.flush()
    assert rest is not None
    assert pa.concat_tables([*chunks, rest]).column("i").to_pylist() == list(range(130))


def test_flush_of_an_empty_stream_is_none() -> None:
    assert Chunker(10, 0).flush() is None


def test_without_limits_chunks_are_bounded_by_unbounded_rows() -> None:
    inputs = [pa.table({"i": list(range(25))})]
    assert _run(Chunker(0, 0, unbounded_rows=10), inputs) == [10, 10, 5]


def test_chunks_of_drifting_schemas_are_widened() -> None:
    chunker = Chunker(3, 0)
    out = chunker.add(pa.table({"v": [1, 2]})) + chunker.add(pa.table({"v": [2.5, 3.5]}))
    assert out[0].to_pylist() == [{"v": 1.0}, {"v": 2.0}, {"v": 2.5}]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_file_sizes_land_within_15_percent_of_the_limit(tmp_path: Path, fmt: str) -> None:
    # about 100 MB of parquet, ~12 files; CSV is ~3x bigger per row, so fewer rows
    total = 3_600_000 if fmt == "parquet" else 1_000_000
    inputs = [mixed_table(50_000, start) for start in range(0, total, 50_000)]
    sizes = _run(Chunker(0, 8 * MB, fmt=fmt, compression="snappy"), inputs, tmp_path, fmt)
    assert len(sizes) >= 8
    off = [round(s / MB, 2) for s in sizes[:-1] if abs(s - 8 * MB) > 0.15 * 8 * MB]
    assert off == []
    assert sizes[-1] <= 8 * MB * 1.15


def test_both_limits_the_smaller_wins(tmp_path: Path) -> None:
    inputs = [mixed_table(50_000, s) for s in range(0, 200_000, 50_000)]
    rows = _run(Chunker(30_000, 64 * MB), inputs)
    assert rows == [30_000] * 6 + [20_000]
