"""The files source: CSV, JSON, NDJSON, Parquet; globs, relative paths, URLs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.base import ExtractContext, NewCursor
from foundry_dsl.sources.files import FilesExtractor
from foundry_dsl.sources.registry import extractor_for
from foundry_dsl.write.convert import to_table

ROWS = [{"id": 1, "name": "a, b"}, {"id": 2, "name": 'say "hi"'}, {"id": 3, "name": "c"}]


def _ctx(base: Path, source: ir.FilesSource) -> ExtractContext:
    p = ir.Pipeline(system="s", table="t", platform=ir.Platform(name="p"), source=source)
    now = dt.datetime(2025, 1, 12, 14, 30)
    return ExtractContext(pipeline=p, run_date=now.date(), run_at=now, base_dir=base)


def _read(base: Path, *paths: str, **kw: object) -> list[dict]:
    source = ir.FilesSource(paths=paths, **kw)  # type: ignore[arg-type]
    items = list(extractor_for(source).extract(_ctx(base, source)))
    assert items[-1] == NewCursor(None)
    tables = [to_table(b) for b in items[:-1]]  # type: ignore[arg-type]
    return [r for t in tables for r in t.to_pylist()]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    (d / "a.csv").write_text('id,name\n1,"a, b"\n2,"say ""hi"""\n3,c\n')
    (d / "a.json").write_text(json.dumps(ROWS))
    (d / "a.ndjson").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    pq.write_table(pa.Table.from_pylist(ROWS), d / "a.parquet")
    return tmp_path


@pytest.mark.parametrize("name", ["a.csv", "a.json", "a.ndjson", "a.parquet"])
def test_each_format_is_read_by_extension(data: Path, name: str) -> None:
    assert _read(data, f"data/{name}") == ROWS


def test_declared_format_overrides_the_extension(data: Path) -> None:
    (data / "data" / "rows.txt").write_text((data / "data" / "a.ndjson").read_text())
    assert _read(data, "data/rows.txt", format="ndjson") == ROWS


def test_csv_delimiter_and_headerless(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("1;a\n2;b\n")
    assert _read(tmp_path, "x.csv", delimiter=";", header=False) == [
        {"column0": 1, "column1": "a"},
        {"column0": 2, "column1": "b"},
    ]


def test_glob_reads_files_in_sorted_order(tmp_path: Path) -> None:
    for i in (3, 1, 2):
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / f"part-{i}.csv").write_text(f"id\n{i}\n")
    assert _read(tmp_path, "in/*.csv") == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_recursive_glob(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.ndjson").write_text('{"id": 1}\n')
    assert _read(tmp_path, "**/*.ndjson") == [{"id": 1}]


def test_a_file_named_twice_is_read_once(data: Path) -> None:
    assert _read(data, "data/a.csv", "data/*.csv") == ROWS


def test_file_url(data: Path) -> None:
    assert _read(Path("/nonexistent"), f"file://{data}/data/a.parquet") == ROWS


def test_memory_url_through_fsspec(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/in/x-1.ndjson", b'{"id": 1}\n')
    fs.pipe("/bucket/in/x-2.ndjson", b'{"id": 2}\n')
    try:
        assert _read(tmp_path, "memory://bucket/in/*.ndjson") == [{"id": 1}, {"id": 2}]
    finally:
        fs.rm("/bucket", recursive=True)


def test_large_file_streams_in_batches(tmp_path: Path) -> None:
    pq.write_table(pa.table({"i": list(range(250_000))}), tmp_path / "big.parquet")
    source = ir.FilesSource(paths=("big.parquet",))
    batches = [b for b in FilesExtractor(source).extract(_ctx(tmp_path, source)) if not isinstance(b, NewCursor)]
    assert len(batches) >= 3
    assert sum(b.num_rows for b in batches) == 250_000  # type: ignore[union-attr]


def test_empty_glob_is_an_error_naming_the_pattern(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match=r"s\.t: no file matches 'in/\*\.csv'"):
        _read(tmp_path, "in/*.csv")


def test_unknown_extension_asks_for_a_format(tmp_path: Path) -> None:
    (tmp_path / "x.dat").write_text("1")
    with pytest.raises(ExtractError, match="set format to csv, json, ndjson or parquet"):
        _read(tmp_path, "x.dat")


def test_estimate_counts_files_and_bytes_without_reading(data: Path) -> None:
    source = ir.FilesSource(paths=("data/a.*",))
    est = FilesExtractor(source).estimate(_ctx(data, source))
    sizes = sum(p.stat().st_size for p in (data / "data").iterdir())
    assert (est.rows, est.bytes, est.detail) == (None, sizes, "4 files")


def test_a_broken_file_is_an_extract_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ExtractError, match=r"bad\.parquet as parquet"):
        _read(tmp_path, "bad.parquet")




def test_env_options_are_reported_as_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from foundry_dsl import ir
    from foundry_dsl.sources.files import FilesExtractor

    monkeypatch.setenv("INPUT_SECRET", "s3cr3t-value")
    source = ir.FilesSource(
        paths=("s3://in/*.csv",),
        options={"secret": ir.EnvRef(name="INPUT_SECRET"), "anon": False},
    )
    assert FilesExtractor(source).secrets() == ["s3cr3t-value"]
