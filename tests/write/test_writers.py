"""write_file and rewrite: Parquet and CSV through DuckDB, read back exactly; row groups bounded in bytes."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import hashlib
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from foundry_dsl.write.schema import unify
from foundry_dsl.write.writers import (
    DEFAULT_ROW_GROUP_SIZE,
    PARQUET_CODECS,
    ROW_GROUP_BYTES,
    FileInfo,
    _read_batches,
    repack,
    rewrite,
    write_file,
    write_stream,
)
from tests.write.data import mixed_table, wide_table

PARIS = "Europe/Paris"


def _rich_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "n": pa.array([{"x": 1, "tags": ["a"]}, None, {"x": 3, "tags": []}]),
            "price": pa.array(
                [decimal.Decimal("1.10"), None, decimal.Decimal("-99999999.99")], pa.decimal128(10, 2)
            ),
            "at": pa.array(
                [dt.datetime(2025, 1, 12, 14, 30, tzinfo=dt.timezone.utc)] * 3,
                pa.timestamp("us", tz=PARIS),
            ),
            "day": pa.array([dt.date(2025, 1, 12)] * 3),
            "text": ["plain", None, "ünïcødé"],
        }
    )


@pytest.mark.parametrize("compression", sorted(PARQUET_CODECS))
def test_parquet_round_trips_exactly_with_each_codec(tmp_path: Path, compression: str) -> None:
    t = _rich_table()
    write_file(t, str(tmp_path / "part-0001.parquet"), "parquet", compression)
    assert pq.read_table(tmp_path / "part-0001.parquet").equals(t)
    codec = pq.ParquetFile(tmp_path / "part-0001.parquet").metadata.row_group(0).column(0).compression
    # pyarrow names the LZ4_RAW codec "LZ4"
    assert codec == {"none": "UNCOMPRESSED"}.get(compression, compression.upper())


def test_parquet_keeps_the_time_zone_name(tmp_path: Path) -> None:
    write_file(_rich_table(), str(tmp_path / "a.parquet"), "parquet", "snappy")
    assert pq.read_schema(tmp_path / "a.parquet").field("at").type == pa.timestamp("us", tz=PARIS)


def test_file_info_describes_the_written_file(tmp_path: Path) -> None:
    path = tmp_path / "part-0001.parquet"
    info = write_file(_rich_table(), str(path), "parquet", "zstd")
    assert info == FileInfo(
        name="part-0001.parquet",
        format="parquet",
        rows=3,
        bytes=path.stat().st_size,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def test_csv_quotes_per_rfc_4180(tmp_path: Path) -> None:
    t = pa.table({"s": ['a,b', 'say "hi"', "two\nlines", "cr\rlf", "", None], "n": [1, 2, 3, 4, 5, 6]})
    write_file(t, str(tmp_path / "a.csv"), "csv", "snappy")
    raw = (tmp_path / "a.csv").read_bytes().decode()
    assert raw.startswith('s,n\n"a,b",1\n"say ""hi""",2\n"two\nlines",3\n')
    with open(tmp_path / "a.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [
        ["s", "n"], ["a,b", "1"], ['say "hi"', "2"], ["two\nlines", "3"], ["cr\rlf", "4"], ["", "5"], ["", "6"]
    ]


def test_csv_empty_string_and_null_differ(tmp_path: Path) -> None:
    write_file(pa.table({"s": ["", None]}), str(tmp_path / "a.csv"), "csv", "none")
    assert (tmp_path / "a.csv").read_text() == 's\n""\n\n'


def test_csv_writes_nested_values_as_json_text(tmp_path: Path) -> None:
    write_file(_rich_table().select(["id", "n"]), str(tmp_path / "a.csv"), "csv", "none")
    with open(tmp_path / "a.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["id", "n"], ["1", '{"x":1,"tags":["a"]}'], ["2", ""], ["3", '{"x":3,"tags":[]}']]


def test_csv_round_trips_through_duckdb(tmp_path: Path) -> None:
    t = pa.table({"id": [1, 2], "s": ['q"uote, and\nnewline', "x"], "f": [1.5, None]})
    write_file(t, str(tmp_path / "a.csv"), "csv", "none")
    got = duckdb.connect().sql(f"SELECT * FROM read_csv('{tmp_path / 'a.csv'}') ORDER BY id").fetchall()
    assert got == [(1, 'q"uote, and\nnewline', 1.5), (2, "x", None)]


def test_rewrite_parquet_conforms_to_the_widened_schema(tmp_path: Path) -> None:
    path = str(tmp_path / "a.parquet")
    write_file(pa.table({"v": [1, 2], "n": [{"x": 1}, None]}), path, "parquet", "snappy")
    later = pa.schema([("v", pa.float64()), ("n", pa.struct([("y", pa.string())])), ("new", pa.string())])
    final = unify(pq.read_schema(path), later)
    info = rewrite(path, "parquet", final, "snappy")
    assert info.rows == 2
    assert pq.read_schema(path) == final
    assert pq.read_table(path).to_pylist() == [
        {"v": 1.0, "n": {"x": 1, "y": None}, "new": None},
        {"v": 2.0, "n": None, "new": None},
    ]


def test_rewrite_csv_adds_new_columns_in_schema_order(tmp_path: Path) -> None:
    path = str(tmp_path / "a.csv")
    write_file(pa.table({"b": ["x,y"], "a": [1]}), path, "csv", "none")
    info = rewrite(path, "csv", pa.schema([("b", pa.string()), ("a", pa.float64()), ("c", pa.int64())]), "none")
    assert (tmp_path / "a.csv").read_text() == 'b,a,c\n"x,y",1,\n'
    assert info.rows == 1
    assert info.sha256 == hashlib.sha256((tmp_path / "a.csv").read_bytes()).hexdigest()


# --- memory is bounded in bytes: row groups and reads ----------------------------------

KB, MB = 2**10, 2**20


def _row_groups(path: Path) -> list[tuple[int, int]]:
    md = pq.ParquetFile(path).metadata
    return [(md.row_group(i).num_rows, md.row_group(i).total_byte_size) for i in range(md.num_row_groups)]


def test_parquet_row_groups_are_bounded_in_bytes(tmp_path: Path) -> None:
    # 8 MB of 2 KB rows, streamed in slices as the executor does
    table = wide_table(4000, 2 * KB)
    slices = [table.slice(i, 300) for i in range(0, 4000, 300)]
    path = tmp_path / "a.parquet"
    info = write_stream(slices, table.schema, str(path), "parquet", "snappy", row_group_bytes=1 * MB)
    groups = _row_groups(path)
    assert info.rows == sum(rows for rows, _ in groups) == 4000
    assert len(groups) >= 7
    # DuckDB cuts a row group on its own count of the bytes: a few percent of slack
    assert max(size for _, size in groups) <= 1.05 * MB
    assert pq.read_table(path).equals(table)


def test_wide_rows_get_row_groups_of_row_group_bytes_by_default(tmp_path: Path) -> None:
    table = wide_table(3000, 10 * KB)  # 30 MB: 122,880 rows would be 1.2 GB a row group
    write_file(table, str(tmp_path / "a.parquet"), "parquet", "snappy")
    groups = _row_groups(tmp_path / "a.parquet")
    assert len(groups) >= 2
    assert max(size for _, size in groups) <= 1.05 * ROW_GROUP_BYTES


def test_narrow_rows_keep_whole_row_groups(tmp_path: Path) -> None:
    write_file(mixed_table(300_000), str(tmp_path / "a.parquet"), "parquet", "snappy")
    assert [rows for rows, _ in _row_groups(tmp_path / "a.parquet")] == [
        DEFAULT_ROW_GROUP_SIZE, DEFAULT_ROW_GROUP_SIZE, 300_000 - 2 * DEFAULT_ROW_GROUP_SIZE
    ]


def test_files_are_read_back_in_bounded_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("foundry_dsl.write.writers._READ_BYTES", 256 * KB)
    table = wide_table(2000, 2 * KB)
    write_file(table, str(tmp_path / "a.parquet"), "parquet", "snappy", row_group_bytes=512 * KB)
    write_file(table, str(tmp_path / "a.csv"), "csv", "none")
    for fmt, bound in (("parquet", 1.05 * 512 * KB), ("csv", 1.05 * 256 * KB)):
        _, batches = _read_batches(str(tmp_path / f"a.{fmt}"), fmt)
        got = list(batches)
        assert sum(b.num_rows for b in got) == 2000
        assert max(b.nbytes for b in got) <= bound, fmt


def test_repack_of_wide_rows_keeps_every_row_and_bounded_row_groups(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"part-{i}.parquet"))
        write_file(wide_table(700, 2 * KB, 700 * i), paths[-1], "parquet", "snappy", row_group_bytes=256 * KB)
    table = pa.concat_tables(pq.read_table(p) for p in paths)
    infos = repack(paths, paths[:2], [1500, None], "parquet", table.schema, "snappy", row_group_bytes=256 * KB)
    assert [i.rows for i in infos] == [1500, 600]
    assert pa.concat_tables(pq.read_table(p) for p in paths[:2]).equals(table)
    assert max(size for p in paths[:2] for _, size in _row_groups(Path(p))) <= 1.05 * 256 * KB
