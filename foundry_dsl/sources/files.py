"""Sources: ``files`` — CSV, JSON, NDJSON and Parquet files, read by DuckDB.

Paths and globs are relative to the pipeline file's folder, or fsspec URLs
(``s3://``, ``gs://``, ``abfs://``, ``memory://``, ``file://``) opened with the
source's ``options`` as storage options. Files are read one at a time, in
sorted order, and DuckDB hands on Arrow record batches as it reads them, so
the file set is never held in memory. Batches are bounded in bytes as well as
rows: DuckDB's reads (a vector of 2,048 rows at most) are gathered into
batches of at most ``BATCH_ROWS`` rows and ``BATCH_BYTES`` bytes, and once
rows have been seen, the next file is read in fewer rows at a time when they
are wide, so a read stays well within ``BATCH_BYTES``. Each file's types are
DuckDB's inference; the batch schema widens across files like across any
chunks.
"""

from __future__ import annotations

import glob as globmod
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundry_dsl import ir
from foundry_dsl.errors import Diagnostic, ExtractError
from foundry_dsl.sources.base import Batch, Estimate, ExtractContext, Extractor, NewCursor

if TYPE_CHECKING:
    import pyarrow as pa
    from fsspec import AbstractFileSystem

BATCH_ROWS = 100_000
#: ... and holds at most this many bytes (Arrow's buffers), unless one read is bigger
BATCH_BYTES = 8 * 2**20
_READ_ROWS = 2_048  # rows per read at most: DuckDB's vector
_MIN_READ_ROWS = 64  # fewer rows per read would cost more than they save

_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMPRESSED = (".gz", ".zst")


@dataclass(frozen=True)
class Found:
    """One file to read: where DuckDB finds it, and its size."""

    path: str  # a local path, or a URL with its protocol
    size: int


def _is_url(path: str) -> bool:
    return "://" in path


def format_of(path: str, declared: str) -> str:
    """The declared format, or the one the extension says (``.csv.gz`` is csv)."""
    if declared != "auto":
        return declared
    name = path.lower()
    for suffix in _COMPRESSED:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    ext = os.path.splitext(name)[1]
    fmt = _EXTENSIONS.get(ext)
    if fmt is None:
        raise ExtractError(
            f"cannot tell the format of {path} from its extension; "
            "set format to csv, json, ndjson or parquet"
        )
    return fmt


class FilesExtractor(Extractor):
    source: ir.FilesSource

    @classmethod
    def describe(cls, source: ir.FilesSource) -> str:
        fmt = "" if source.format == "auto" else f" ({source.format})"
        return f"files {', '.join(source.paths)}{fmt}"

    @classmethod
    def estimates_offline(cls, source: ir.FilesSource) -> bool:
        # listing a remote store contacts the source: only `plan --estimate` does that
        return not any(_is_url(path) for path in source.paths)

    def estimate_live(self, ctx: ExtractContext) -> Estimate | None:
        return self.estimate(ctx) if not self.estimates_offline(self.source) else None

    @classmethod
    def preflight(
        cls, source: ir.FilesSource, base_dir: Path, work_dir: Path | None = None
    ) -> list[Diagnostic]:
        """A local path or glob that matches no file: the run would fail at once.
        Remote paths are not listed here (that contacts the store)."""
        found = []
        for pattern in source.paths:
            if _is_url(pattern) and not pattern.startswith("file://"):
                continue
            local = pattern.removeprefix("file://")
            if _local_files(local, base_dir):
                continue
            where = "" if os.path.isabs(local) else f" (relative to {_shown(base_dir)}/)"
            found.append(Diagnostic(
                f"no file matches '{pattern}'{where}",
                source.span_of("paths"),
                "a run fails at once unless files arrive before it; check the path or glob",
                severity="warning",
                code="W001",
            ))
        return found

    def _options(self) -> dict[str, Any]:
        return {k: ir.resolve(v) if isinstance(v, ir.EnvRef) else v for k, v in self.source.options.items()}

    def secrets(self) -> list[str]:
        """Storage credentials given as env() in ``options``, for redaction."""
        values = (v.resolve(required=False) for v in self.source.options.values()
                  if isinstance(v, ir.EnvRef))
        return [v for v in values if v]

    def _filesystem(self, url: str) -> tuple[AbstractFileSystem, str]:
        from fsspec.core import url_to_fs

        try:
            return url_to_fs(url, **self._options())
        except (ImportError, ValueError) as exc:
            raise ExtractError(f"cannot open {url}: {exc}") from None

    def files(self, ctx: ExtractContext) -> list[Found]:
        """Every file the paths and globs name, sorted; an empty glob is an error."""
        found: dict[str, Found] = {}
        for pattern in self.source.paths:
            matches = self._expand(pattern, ctx)
            if not matches:
                raise ExtractError(
                    f"{ctx.pipeline.name}: no file matches '{pattern}'"
                    + ("" if _is_url(pattern) else f" (relative to {ctx.base_dir})")
                    + "; check the path or glob in the pipeline's source"
                )
            for m in matches:
                found.setdefault(m.path, m)
        return [found[k] for k in sorted(found)]

    def _expand(self, pattern: str, ctx: ExtractContext) -> list[Found]:
        if pattern.startswith("file://"):
            pattern = pattern[len("file://") :]
        if not _is_url(pattern):
            return [Found(p, os.path.getsize(p)) for p in _local_files(pattern, ctx.base_dir)]
        fs, path = self._filesystem(pattern)
        protocol = pattern.split("://", 1)[0]
        try:
            if globmod.has_magic(path):
                listing = fs.glob(path, detail=True)
            else:
                listing = {path: fs.info(path)} if fs.exists(path) else {}
        except OSError as exc:
            raise ExtractError(f"{ctx.pipeline.name}: cannot list {pattern}: {exc}") from None
        return [
            Found(f"{protocol}://{name.lstrip('/')}" if protocol == "memory" else f"{protocol}://{name}",
                  int(info.get("size") or 0))
            for name, info in sorted(listing.items())
            if info.get("type") == "file"
        ]

    def estimate(self, ctx: ExtractContext) -> Estimate:
        files = self.files(ctx)
        n = len(files)
        return Estimate(bytes=sum(f.size for f in files), detail=f"{n} file{'s' if n != 1 else ''}")

    def _reader_sql(self, path: str, fmt: str) -> str:
        quoted = "'" + path.replace("'", "''") + "'"
        if fmt == "parquet":
            return f"SELECT * FROM read_parquet({quoted})"
        if fmt == "csv":
            opts = [f"header={'true' if self.source.header else 'false'}"]
            if self.source.delimiter is not None:
                opts.append("delim='" + self.source.delimiter.replace("'", "''") + "'")
            return f"SELECT * FROM read_csv({quoted}, {', '.join(opts)})"
        json_format = "newline_delimited" if fmt == "ndjson" else "auto"
        return f"SELECT * FROM read_json({quoted}, format='{json_format}')"

    def extract(self, ctx: ExtractContext, part: int = 0) -> Iterator[Batch | NewCursor]:
        import duckdb

        files = self.files(ctx)
        con = duckdb.connect(config={"threads": 2})
        try:
            # DuckDB reads URLs through fsspec: one filesystem per protocol
            protocols = {f.path.split("://", 1)[0]: f.path for f in files if _is_url(f.path)}
            for url in protocols.values():
                fs, _ = self._filesystem(url)
                con.register_filesystem(fs)
            read_rows = _READ_ROWS
            for f in files:
                fmt = format_of(f.path, self.source.format)
                try:
                    reader = con.sql(self._reader_sql(f.path, fmt)).to_arrow_reader(read_rows)
                    for batch in _gathered(reader):
                        yield batch
                        read_rows = _read_rows(batch)  # for the next file
                except duckdb.Error as exc:
                    raise ExtractError(
                        f"{ctx.pipeline.name}: cannot read {f.path} as {fmt}: {exc}"
                    ) from None
        finally:
            con.close()
        yield NewCursor(None)


def _local_files(pattern: str, base_dir: Path) -> list[str]:
    """The files a local path or glob names (relative to ``base_dir``), sorted."""
    full = pattern if os.path.isabs(pattern) else os.path.join(base_dir, pattern)
    paths = globmod.glob(full, recursive=True) if globmod.has_magic(full) else [full]
    return [p for p in sorted(paths) if os.path.isfile(p)]


def _shown(folder: Path) -> str:
    """``folder`` relative to the current directory when inside it (plans stay the
    same wherever the project is checked out), else absolute."""
    try:
        return Path(folder).resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(folder)


def _gathered(reader: Iterable[pa.RecordBatch]) -> Iterator[pa.Table]:
    """The reader's batches gathered into tables of ``BATCH_ROWS`` rows and ``BATCH_BYTES`` bytes."""
    import pyarrow as pa

    group: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in reader:
        if not batch.num_rows:
            continue
        if group and size + batch.nbytes > BATCH_BYTES:
            yield pa.Table.from_batches(group)
            group, rows, size = [], 0, 0
        group.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        if rows >= BATCH_ROWS:
            yield pa.Table.from_batches(group)
            group, rows, size = [], 0, 0
    if group:
        yield pa.Table.from_batches(group)


def _read_rows(seen: pa.Table) -> int:
    """Rows per read for rows like ``seen``: a quarter of ``BATCH_BYTES``, within bounds."""
    if not seen.nbytes:
        return _READ_ROWS
    rows = int(BATCH_BYTES / 4 * seen.num_rows / seen.nbytes)
    return max(_MIN_READ_ROWS, min(_READ_ROWS, rows))
