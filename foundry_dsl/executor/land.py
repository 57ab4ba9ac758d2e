"""Runtime layer: one unit of work landed on local threads, in the graph's order::

    extract[i]  one thread per part, pushing batches into a bounded queue (small
                Arrow batches, such as an API's pages, joined first)
    chunk[*]    this thread: batches → Arrow → the batch schema → slices of files
    write[fmt]  ``workers`` files written at once, each streamed slice by slice
                in every format (:mod:`foundry_dsl.executor.streams`)
    upload      each full file goes to the partition's staging in storage; at the
                end the batch's small tail files are repacked and files that
                predate a schema widening are rewritten

Memory stays bounded whatever the source's size, the file size or the width
of a row, because every buffer is bounded in bytes: the extract queue holds
at most 32 MiB (a source's big batch is cut into slices first, small ones are
joined up to 4 MiB), the chunker one slice of at most 8 MiB, each file in
flight two slices plus a DuckDB row group of at most 16 MiB, and at most
``workers`` files are in flight, so extractors wait (backpressure).

A :class:`~foundry_dsl.executor.work.Work` goes in and a
:class:`~foundry_dsl.executor.work.Manifest` comes out; the commit is the
driver's (:mod:`foundry_dsl.executor.run`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from foundry_dsl.errors import FoundryError
from foundry_dsl.executor.jobs import WriteJob, rewrite_chunk
from foundry_dsl.executor.streams import ByteQueue, Written, batch_slices, extract_queue
from foundry_dsl.executor.work import Manifest, Work
from foundry_dsl.sources.base import Extractor, NewCursor

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl.executor.base import Progress
    from foundry_dsl.sources.base import ExtractContext
    from foundry_dsl.storage.api import Committer
    from foundry_dsl.write.chunker import Chunker
    from foundry_dsl.write.writers import FileInfo

_POLL = 0.1  # seconds between checks of the stop flag while blocked
#: files of a batch land within this fraction of the size limit, except the last
SIZE_TOLERANCE = 0.15


class _Stopped(Exception):
    """The run stopped while a part waited for a source connection."""


class TaskFailed(Exception):
    """Carries which task failed and why, up to the pipeline's result."""

    def __init__(self, task: str, cause: BaseException) -> None:
        super().__init__(task, cause)
        self.task = task
        self.cause = cause


@dataclass
class _Stream:
    parts: list[int] = field(default_factory=list)
    rows: int = 0
    written: list[Written] = field(default_factory=list)
    cursors: dict[int, str | None] = field(default_factory=dict)
    schema: pa.Schema | None = None
    schema_version: int = 0
    big_ints: frozenset[str] = frozenset()
    chunker: Chunker | None = None


class Landing:
    """Lands one :class:`Work`; ``task`` names the step under way (for errors)."""

    def __init__(
        self,
        work: Work,
        progress: Progress,
        committer: Committer,
        new_committer: Callable[[], Committer],
        stop: threading.Event,
    ) -> None:
        self.work = work
        self.pp = work.plan
        self.p = work.plan.pipeline
        self.settings = work.plan.settings
        self.run_id = work.run_id
        self.progress = progress
        #: where files are uploaded; replaced when a schema widening voids the uploads
        self.committer = committer
        self._new_committer = new_committer
        self.stop = stop
        self.task = "extract[*]"
        limit = self.settings.source_connections
        #: parts reading the source at once (a cluster executor takes a cluster-wide one)
        self.connections = threading.BoundedSemaphore(limit) if limit else None

    def land(self, extractor: Extractor) -> Manifest:
        stream = self._stream(extractor)
        files = self._finish(stream)
        return Manifest(
            parts=tuple(stream.parts),
            files=tuple(files),
            rows=stream.rows,
            schema=stream.schema,
            big_ints=tuple(sorted(stream.big_ints)),
            cursors=dict(stream.cursors),
        )

    def _stream(self, extractor: Extractor) -> _Stream:
        from foundry_dsl.executor.streams import FileWriters, WriteFailed
        from foundry_dsl.write.chunker import Chunker
        from foundry_dsl.write.convert import to_table
        from foundry_dsl.write.schema import BatchSchema

        settings, ctx, staging = self.settings, self.work.context, self.work.staging_dir
        # the first format listed is the primary one: file sizes are measured on it
        formats = tuple((o.format, o.compression) for o in settings.outputs)
        parts = list(self.work.parts)
        workers = settings.workers

        items = extract_queue(len(parts))
        threads = [
            threading.Thread(
                target=self._produce,
                args=(extractor, ctx, part, f"extract[{part}]", items),
                name=f"{self.p.name}:extract[{part}]",
                daemon=True,
            )
            for part in parts
        ]
        for th in threads:
            th.start()

        out = _Stream(parts=parts)
        schema = BatchSchema()
        versions: list[tuple[int, pa.Schema]] = []  # each version of the batch schema
        chunker = Chunker(
            settings.max_rows_per_file,
            settings.max_file_size,
            fmt=formats[0][0],
            compression=formats[0][1],
            lanes=workers,
            scratch_dir=staging,
        )
        out.chunker = chunker

        def make_job(index: int, file_schema: pa.Schema) -> WriteJob:
            version = next(v for v, s in reversed(versions) if s.equals(file_schema))
            return WriteJob(
                pipeline=self.p,
                partition_path=self.pp.partition_path,
                run_id=self.run_id,
                staging_dir=staging,
                index=index,
                formats=formats,
                schema_version=version,
                stem=self.work.stem,
            )

        def upload(job: WriteJob, infos: list[FileInfo]) -> None:
            for info in infos:
                # the name it lands under (part-0001-<tag>.parquet), as readers see it
                final = self.committer.upload(job.local_path(info.format))
                self.progress.wrote(self.p.name, final, info.rows, info.bytes)

        files = FileWriters(workers, formats, make_job, upload, chunker.observe, self.stop, self.p.name)
        try:
            done = 0
            while done < len(parts):
                kind, who, value = items.get()
                if kind == "error":
                    raise TaskFailed(who, value)
                if kind == "done":
                    done += 1
                    continue
                if kind == "cursor":
                    out.cursors[who] = value
                    continue
                self.task = "chunk[*]"
                table = to_table(value)
                if settings.lineage:
                    table = _with_lineage(table, self.pp.batch_id, self.pp.run_at)
                # an empty batch still carries the columns: an empty partition's
                # metadata lists them
                table = schema.add(table)
                assert schema.schema is not None
                if not versions or versions[-1][0] != schema.version:
                    versions.append((schema.version, schema.schema))
                if table.num_rows == 0:
                    continue
                out.rows += table.num_rows
                self.progress.extracted(self.p.name, table.num_rows)
                for piece in chunker.add(table):
                    files.put(piece)
            for piece in chunker.flush():
                files.put(piece)
            out.written = files.finish()
        except WriteFailed as exc:
            raise TaskFailed(exc.task, exc.cause) from exc.cause
        except TaskFailed:
            raise
        except FoundryError as exc:
            raise TaskFailed(self.task, exc) from exc
        finally:
            self.stop.set()
            files.close()
        out.schema = schema.schema
        out.big_ints = schema.big_ints
        out.schema_version = schema.version
        return out

    @contextlib.contextmanager
    def _connection(self) -> Iterator[None]:
        """One of ``source_connections`` while a part reads the source; waits for it."""
        if self.connections is None:
            yield
            return
        while not self.connections.acquire(timeout=_POLL):
            if self.stop.is_set():
                raise _Stopped
        try:
            yield
        finally:
            self.connections.release()

    def _produce(
        self,
        extractor: Extractor,
        ctx: ExtractContext,
        part: int,
        task: str,
        items: ByteQueue[tuple[str, Any, Any]],
    ) -> None:
        def put(item: tuple[str, Any, Any]) -> bool:
            while not self.stop.is_set():
                try:
                    items.put(item, timeout=_POLL)
                    return True
                except queue.Full:
                    continue
            return False

        from foundry_dsl.write.convert import coalesce

        try:
            with self._connection():
                # small batches (an API's pages) joined: every later stage costs per batch
                for item in coalesce(extractor.extract(ctx, part)):
                    if isinstance(item, NewCursor):
                        if not put(("cursor", part, item.value)):
                            return
                    elif not all(put(("batch", part, piece)) for piece in batch_slices(item)):
                        return
            put(("done", part, None))
        except BaseException as exc:
            put(("error", task, exc))

    def _finish(self, stream: _Stream) -> list[FileInfo]:
        """Repack the small files of the batch's tail, conform stale ones, upload the rest.

        Files that ended early (the stream's end reached several open files, or
        the schema widened) are repacked so that only the last file of the batch
        is small. All files of a batch share one schema: those written before it
        last widened are rewritten. An uploaded file cannot be replaced under the
        same name, so when an uploaded file is rewritten this run's uploads are
        dropped and every file is uploaded again through a fresh committer
        (object stores pay this only on drift).
        """
        if stream.schema is None:
            return []
        self._repack_tail(stream)
        final = stream.schema
        stale = [w for w in stream.written if w.job.schema_version != stream.schema_version]
        if stale:
            self.task = "write (schema widening)"
            with ThreadPoolExecutor(self.settings.workers) as pool:
                fresh = list(pool.map(lambda w: rewrite_chunk(w.job, final), stale))
            for w, infos in zip(stale, fresh, strict=True):
                w.infos = infos
        self.task = "upload"
        if any(w.uploaded for w in stale):
            self.committer.abort()
            self.committer = self._new_committer()
            for w in stream.written:
                w.uploaded = False
        pending = [w for w in stream.written if not w.uploaded]

        def upload(w: Written) -> None:
            for info in w.infos:
                final = self.committer.upload(w.job.local_path(info.format))
                self.progress.wrote(self.p.name, final, info.rows, info.bytes)
            w.uploaded = True

        with ThreadPoolExecutor(self.settings.workers) as pool:
            list(pool.map(upload, pending))
        return [info for w in stream.written for info in w.infos]

    def _repack_tail(self, stream: _Stream) -> None:
        """Rewrite files that ended early and small as few files of the target size."""
        from foundry_dsl.executor.jobs import repack_files

        assert stream.schema is not None and stream.chunker is not None
        early = [w for w in stream.written if w.end == "early"]
        if len(early) < 2:
            return
        rows = sum(w.infos[0].rows for w in early)
        per_row = stream.chunker.bytes_per_row or sum(w.infos[0].bytes for w in early) / max(1, rows)
        limits = [self.settings.max_rows_per_file] if self.settings.max_rows_per_file else []
        if self.settings.max_file_size:
            limits.append(max(1, int(self.settings.max_file_size / per_row)))
        target = min(limits) if limits else rows
        small = [w for w in early if w.infos[0].rows < (1 - SIZE_TOLERANCE) * target]
        if len(small) < 2:
            return
        self.task = "write (repack)"
        total = sum(w.infos[0].rows for w in small)
        n = -(-total // target)
        counts: list[int | None] = [target] * (n - 1) + [None]
        jobs = [dataclasses.replace(w.job, schema_version=stream.schema_version) for w in small]
        infos = repack_files(jobs, counts, stream.schema)
        kept = {id(w) for w in small}
        stream.written = sorted(
            [w for w in stream.written if id(w) not in kept]
            + [Written(j, i, "early", uploaded=False) for j, i in zip(jobs, infos, strict=False)],
            key=lambda w: w.job.index,
        )


def _with_lineage(table: pa.Table, batch_id: str, run_at: dt.datetime) -> pa.Table:
    import pyarrow as pa

    n = table.num_rows
    table = table.append_column("_batch_id", pa.array([batch_id] * n, pa.string()))
    return table.append_column(
        "_extracted_at", pa.array([run_at] * n, pa.timestamp("us", tz="UTC"))
    )
