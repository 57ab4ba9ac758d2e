"""Runtime layer: one pipeline's task graph, run on local threads.

Runs the graph the planner built, in its order::

    extract[i]  one thread per part, pushing batches into a bounded queue
    chunk[*]    this thread: batches → Arrow → the batch schema → slices of files
    write[fmt]  ``run.workers`` files written at once, each streamed slice by slice
                in every format (:mod:`foundry_dsl.executor.streams`)
    upload      each full file goes to the partition's staging in storage
    commit      the batch's small tail files are repacked, files that predate a
                schema widening are rewritten, then ``_metadata.json`` is
                written last and the cursor stored after it

Memory stays bounded whatever the source's size, the file size or the width
of a row, because every buffer is bounded in bytes: the extract queue holds
at most 32 MiB (a source's big batch is cut into slices first), the chunker
one slice of at most 8 MiB, each file in flight two slices plus a DuckDB row
group of at most 16 MiB, and at most ``workers`` files are in flight, so
extractors wait (backpressure).
It hands on a :class:`~foundry_dsl.executor.base.PipelineResult`; a failure
becomes a failed result naming the pipeline and the task, never an exception.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import queue
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundry_dsl import ir
from foundry_dsl.errors import CommitError, FoundryError, PlanError, redact
from foundry_dsl.executor.base import PipelineResult, Progress
from foundry_dsl.executor.jobs import WriteJob, rewrite_chunk
from foundry_dsl.executor.streams import ByteQueue, Written, batch_slices, extract_queue
from foundry_dsl.planner.build import base_dir
from foundry_dsl.planner.plan import PipelinePlan
from foundry_dsl.planner.windows import Window
from foundry_dsl.sources.base import ExtractContext, Extractor, NewCursor
from foundry_dsl.storage.lease import Holder
from foundry_dsl.storage.state import committed, settle, with_pending

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl.storage.api import Committer
    from foundry_dsl.storage.base import StorageBackend
    from foundry_dsl.storage.lease import Lease
    from foundry_dsl.storage.state import StateStore
    from foundry_dsl.write.chunker import Chunker
    from foundry_dsl.write.writers import FileInfo

log = logging.getLogger("foundry.executor")

STAGING = "_staging"
#: in each local scratch folder: the lease scope of the run that made it
SCOPE_FILE = ".scope"
_POLL = 0.1  # seconds between checks of the stop flag while blocked
#: files of a batch land within this fraction of the size limit, except the last
SIZE_TOLERANCE = 0.15


class EmptyResult(CommitError):
    """An empty result would replace a partition that holds rows (no ``allow_empty``)."""


class TaskFailed(Exception):
    """Carries which task failed and why, up to the pipeline's result."""

    def __init__(self, task: str, cause: BaseException) -> None:
        super().__init__(task)
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
    chunker: Chunker | None = None


def staging_root(p: ir.Pipeline) -> Path:
    """Local staging of a pipeline's runs: ``<local_output_dir>/_staging/<system.table>/``."""
    return Path(p.run.local_output_dir) / STAGING / p.name


class PipelineRun:
    def __init__(self, pp: PipelinePlan, progress: Progress) -> None:
        self.pp = pp
        self.p = pp.pipeline
        self.progress = progress
        self.run_id = f"{pp.batch_id}-{uuid.uuid4().hex[:8]}"
        self.task = "prepare"
        self.secrets: list[str] = []
        self.extractor: Extractor | None = None  # its secrets() grow during a run (OAuth2)
        self.stop = threading.Event()
        self.partition_url = f"{pp.target_root.rstrip('/')}/{pp.partition_path}"
        self.committer: Committer  # set once storage is open (_run)
        self.scope = _lease_scope(self.p, pp.partition_path)
        self.holder = Holder.for_run(self.run_id, self.p.name)
        self.lease: Lease | _Unenforced

    # --- the whole run ---------------------------------------------------------------

    def run(self) -> PipelineResult:
        started = time.monotonic()
        self.progress.started(self.p.name, self.partition_url)
        try:
            result = self._run(started)
        except TaskFailed as exc:
            result = self._failed(exc.task, exc.cause, started)
        except Exception as exc:  # a bug in foundry or a custom extractor: still one pipeline
            result = self._failed(self.task, exc, started)
        finally:
            self.stop.set()
        self.progress.finished(result)
        return result

    def _run(self, started: float) -> PipelineResult:
        from foundry_dsl.storage.backends import backend_for
        from foundry_dsl.storage.lease import acquire

        backend = backend_for(self.p)
        self.secrets.extend(_backend_secrets(backend))
        # one writer per partition (per table when a cursor is shared by its partitions):
        # a second run fails here, naming the holder, before it touches anything
        self.task = "lease"
        if _can_lease(backend):
            self.lease = acquire(backend, self.scope, self.holder)
        else:
            log.warning(
                "pipeline %s: the %s storage backend has no conditional writes, so foundry "
                "cannot stop two runs from writing %s at once; make sure only one does "
                "(docs/commit-protocol.md)", self.p.name, backend.get_backend_type(), self.scope,
            )
            self.lease = _Unenforced()
        try:
            return self._run_leased(backend, started)
        finally:
            self.lease.release()

    def _run_leased(self, backend: StorageBackend, started: float) -> PipelineResult:
        from foundry_dsl.sources.base import extractor_for
        from foundry_dsl.storage import api as storage_api

        pp, p = self.pp, self.p
        # runs killed earlier may have left staging behind, for this date or any other
        self.task = "recover"
        storage_api.recover(backend, pp.partition_path)
        storage_api.recover_table(backend, _table_prefix(p), self._claim(backend))
        self._clean_local_staging(backend)

        self.task = "state"
        store = storage_api.state_store(backend)
        state = self._settled_state(backend, store)
        committed = storage_api.committed_metadata(backend, pp.partition_path)
        window = self._window(state, committed)
        if window.empty:
            return self._nothing_to_do(window, started)

        staging = staging_root(p) / self.run_id
        staging.mkdir(parents=True, exist_ok=True)
        (staging / SCOPE_FILE).write_text(self.scope)

        self.task = "prepare"
        extractor = self.extractor = extractor_for(p.source)
        self.secrets.extend(extractor.secrets())
        ctx = ExtractContext(
            pipeline=p,
            run_date=pp.run_date,
            run_at=pp.run_at,
            base_dir=base_dir(p),
            cursor=window.start,
            until=window.end,
            batch_id=pp.batch_id,
        )
        # per-run data (a query's ranges) computed once, so every part agrees on it
        ctx = dataclasses.replace(ctx, prepared=extractor.prepare(ctx))
        self.committer = storage_api.committer(
            backend, pp.partition_path, self.run_id, guard=self.lease.check
        )
        try:
            stream = self._stream(extractor, ctx, self.committer, str(staging))
            t_stream = time.monotonic() - started
            files = self._finish(stream, backend)
            new_cursor = (
                extractor.merge_cursors([stream.cursors.get(i) for i in stream.parts])
                if stream.cursors
                else None
            )
            self.task = "commit"
            self._check_window(window, new_cursor)
            self._check_not_emptying(stream.rows, committed)
            metadata = self._metadata(stream, files, new_cursor, started, t_stream)
            if _keeps_cursor(p.source) or new_cursor is not None or state is not None:
                metadata["window"] = _committed_window(window, new_cursor)
            if extractor.report:
                # a source's own figures may quote what it was given: never a secret
                metadata["source"] = _redacted(
                    dict(extractor.report), [*self.secrets, *extractor.secrets()]
                )
            if new_cursor is not None:
                # the intent first: a crash after the commit is settled from it
                self.task = "state"
                state = with_pending(
                    state, run_id=self.run_id, partition=pp.partition_path, cursor=new_cursor
                )
                store.put(p.system, p.table, state)
            self.task = "commit"
            self.committer.commit(metadata)
        except BaseException:
            self.stop.set()
            if p.run.cleanup_on_failure:
                _quietly(self.committer.abort)
                shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(staging, ignore_errors=True)
        _remove_if_empty(staging_root(p))

        if new_cursor is not None:
            self.task = "state"
            self._store_cursor(store, state, new_cursor, stream.rows)
        return PipelineResult(
            name=p.name,
            status="succeeded",
            rows=stream.rows,
            files=len(files),
            bytes=sum(f.bytes for f in files),
            seconds=time.monotonic() - started,
            partition=self.partition_url,
            cursor=new_cursor,
        )

    # --- windows, lease scopes and recovery --------------------------------------------

    def _settled_state(self, backend: StorageBackend, store: StateStore) -> dict[str, Any] | None:
        """The stored state, with a commit whose cursor was never stored taken into account."""
        from foundry_dsl.storage.api import committed_metadata

        state = store.get(self.p.system, self.p.table)
        state, changed = settle(state, lambda part: committed_metadata(backend, part))
        if changed:
            store.put(self.p.system, self.p.table, state)
        return state

    def _window(self, state: dict[str, Any] | None, committed: dict[str, Any] | None) -> Window:
        from foundry_dsl.planner.windows import resolve
        from foundry_dsl.storage.state import env_cursor

        return resolve(
            pipeline=self.p.name,
            partition=self.pp.partition_path,
            state=state,
            committed=committed,
            request=self.pp.request,
            env_cursor=env_cursor(self.p),
        )

    def _check_window(self, window: Window, new_cursor: str | None) -> None:
        from foundry_dsl.planner.windows import past

        if window.end is not None and new_cursor is not None and past(new_cursor, window.end):
            raise PlanError(
                f"the source returned rows up to cursor {new_cursor!r}, past the end of this "
                f"run's window {window.end!r}; those rows belong to a later partition and would "
                "be landed twice. A custom source must not yield rows past ctx.until"
            )

    def _check_not_emptying(self, rows: int, committed: dict[str, Any] | None) -> None:
        had = committed.get("total_records") if committed else None
        if rows or not isinstance(had, int) or had == 0 or self.allow_empty:
            return
        raise EmptyResult(
            f"the source returned no rows, and committing would replace the {had:,} rows "
            f"committed at {committed.get('batch_timestamp') if committed else '?'} with an "
            "empty partition. If the source really is empty for this run, run again with "
            "--allow-empty (or set allow_empty = true in the run block)"
        )

    @property
    def allow_empty(self) -> bool:
        return self.pp.request.allow_empty or self.p.run.allow_empty

    def _nothing_to_do(self, window: Window, started: float) -> PipelineResult:
        self.progress.extracted(self.p.name, 0)
        return PipelineResult(
            name=self.p.name,
            status="succeeded",
            seconds=time.monotonic() - started,
            partition=self.partition_url,
            note=f"kept as it is: its window is {window.describe()}",
        )

    def _claim(
        self, backend: StorageBackend
    ) -> Callable[[str], contextlib.AbstractContextManager[bool]]:
        """Whether this run may clean up a partition: it holds its lease, or takes it."""
        from foundry_dsl.storage.lease import try_acquire

        @contextlib.contextmanager
        def claim(partition: str) -> Iterator[bool]:
            scope = _lease_scope(self.p, partition)
            if scope == self.scope:
                yield True
                return
            if not _can_lease(backend):
                yield False  # no way to tell a live run's files from a dead one's
                return
            lease = try_acquire(backend, scope, self.holder)
            if lease is None:
                yield False  # a live run holds it: its files are not ours to remove
                return
            try:
                yield True
            finally:
                lease.release()

        return claim

    def _clean_local_staging(self, backend: StorageBackend) -> None:
        """Remove local scratch left by killed runs of this pipeline, never a live run's."""
        root = staging_root(self.p)
        if not root.is_dir():
            return
        claim = self._claim(backend)
        for child in root.iterdir():
            try:
                scope = (child / SCOPE_FILE).read_text().strip()
            except OSError:
                scope = self.scope  # written by an older foundry: one run per pipeline then
            scope_partition = scope if scope != _table_prefix(self.p) else self.pp.partition_path
            with claim(scope_partition.rstrip("/")) as ours:
                if ours:
                    shutil.rmtree(child, ignore_errors=True)

    # --- extract → chunk → write → upload -------------------------------------------

    def _stream(
        self, extractor: Extractor, ctx: ExtractContext, committer: Committer, staging: str
    ) -> _Stream:
        from foundry_dsl.executor.streams import FileWriters, WriteFailed
        from foundry_dsl.write.chunker import Chunker
        from foundry_dsl.write.convert import to_table
        from foundry_dsl.write.schema import BatchSchema

        graph = self.pp.graph
        chunk_task = graph["chunk[*]"]
        # the first format listed is the primary one: file sizes are measured on it
        writes = sorted(graph.of_kind("write"), key=lambda t: self.p.run.formats.index(t.params["format"]))
        formats = tuple((str(t.params["format"]), str(t.params["compression"])) for t in writes)
        parts = self._parts(extractor, ctx)
        workers = int(chunk_task.params["workers"])

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
            int(chunk_task.params["max_rows_per_file"]),
            int(chunk_task.params["max_file_size"]),
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
            )

        def upload(job: WriteJob, infos: list[FileInfo]) -> None:
            for info in infos:
                committer.upload(job.local_path(info.format))
                self.progress.wrote(self.p.name, info.name, info.rows, info.bytes)

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
                if self.p.run.lineage:
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
        out.schema_version = schema.version
        return out

    def _parts(self, extractor: Extractor, ctx: ExtractContext) -> list[int]:
        """The parts to extract: the plan's, or the extractor's own count for ``extract[*]``."""
        self.task = "extract[*]"
        tasks = self.pp.graph.of_kind("extract")
        count = extractor.parts(ctx)
        if any(t.dynamic for t in tasks):
            if count < 1:
                raise PlanError(f"the extractor says it has {count} parts; it needs at least 1")
            return list(range(count))
        planned = [int(t.params["part"]) for t in tasks]
        if count != len(planned):
            # running fewer parts than the source has would silently lose rows
            raise PlanError(
                f"the plan has {len(planned)} extract tasks but the source has {count} parts; "
                "plan again"
            )
        return planned

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

        try:
            for item in extractor.extract(ctx, part):
                if isinstance(item, NewCursor):
                    if not put(("cursor", part, item.value)):
                        return
                elif not all(put(("batch", part, piece)) for piece in batch_slices(item)):
                    return
            put(("done", part, None))
        except BaseException as exc:
            put(("error", task, exc))

    def _finish(self, stream: _Stream, backend: StorageBackend) -> list[FileInfo]:
        """Repack the small files of the batch's tail, conform stale ones, upload the rest.

        Files that ended early (the stream's end reached several open files, or
        the schema widened) are repacked so that only the last file of the batch
        is small. All files of a batch share one schema: those written before it
        last widened are rewritten. An uploaded file cannot be replaced under the
        same name, so when an uploaded file is rewritten this run's uploads are
        dropped and every file is uploaded again through a fresh committer
        (object stores pay this only on drift).
        """
        from foundry_dsl.storage import api as storage_api

        if stream.schema is None:
            return []
        self._repack_tail(stream)
        final = stream.schema
        stale = [w for w in stream.written if w.job.schema_version != stream.schema_version]
        if stale:
            self.task = "write (schema widening)"
            with ThreadPoolExecutor(self.p.run.workers) as pool:
                fresh = list(pool.map(lambda w: rewrite_chunk(w.job, final), stale))
            for w, infos in zip(stale, fresh, strict=True):
                w.infos = infos
        self.task = "upload"
        if any(w.uploaded for w in stale):
            self.committer.abort()
            self.committer = storage_api.committer(backend, self.pp.partition_path, self.run_id)
            for w in stream.written:
                w.uploaded = False
        pending = [w for w in stream.written if not w.uploaded]

        def upload(w: Written) -> None:
            for info in w.infos:
                self.committer.upload(w.job.local_path(info.format))
                self.progress.wrote(self.p.name, info.name, info.rows, info.bytes)
            w.uploaded = True

        with ThreadPoolExecutor(self.p.run.workers) as pool:
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
        limits = [self.p.run.max_rows_per_file] if self.p.run.max_rows_per_file else []
        if self.p.run.max_file_size:
            limits.append(max(1, int(self.p.run.max_file_size / per_row)))
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

    # --- commit and state --------------------------------------------------------------

    def _metadata(
        self,
        stream: _Stream,
        files: list[FileInfo],
        new_cursor: str | None,
        started: float,
        t_stream: float,
    ) -> dict[str, Any]:
        from foundry_dsl.executor.metadata import build_metadata

        return build_metadata(
            pipeline=self.p,
            partition_path=self.pp.partition_path,
            run_date=self.pp.run_date,
            batch_id=self.pp.batch_id,
            batch_timestamp=self.pp.run_at,
            files=files,
            schema=stream.schema if stream.schema is not None else _empty_schema(),
            new_cursor=new_cursor,
            durations={
                "extract_and_write_seconds": round(t_stream, 3),
                "total_seconds": round(time.monotonic() - started, 3),
            },
            extra={"run_id": self.run_id},
        )

    def _store_cursor(
        self, store: StateStore, state: dict[str, Any] | None, cursor: str, rows: int
    ) -> None:
        try:
            store.put(self.p.system, self.p.table, committed(
                state, run_id=self.run_id, partition=self.pp.partition_path, cursor=cursor,
                records=rows,
            ))
        except FoundryError as exc:
            raise CommitError(
                f"the partition is committed but the new cursor {cursor!r} could not be stored: "
                f"{exc.message}; the next run takes the cursor from this commit (it records "
                "its window), so nothing is lost or doubled"
            ) from exc

    # --- failure -----------------------------------------------------------------------

    def _failed(self, task: str, cause: BaseException, started: float) -> PipelineResult:
        while isinstance(cause, TaskFailed):
            task, cause = cause.task, cause.cause
        if isinstance(cause, FoundryError):
            why = cause.message
        else:
            why = f"{type(cause).__name__}: {cause}"
        kept = (
            "staging was cleaned up"
            if self.p.run.cleanup_on_failure
            else f"staging kept in {staging_root(self.p) / self.run_id}"
        )
        committed = (
            f"{self.partition_url} was committed" if task == "state"
            else f"the committed partition {self.partition_url} is unchanged"
        )
        message = (
            f"pipeline {self.p.name}: task {task} failed: {why}\n"
            f"  {committed}; {kept}. Fix the cause and run `foundry apply` again."
        )
        return PipelineResult(
            name=self.p.name,
            status="failed",
            seconds=time.monotonic() - started,
            partition=self.partition_url,
            error=redact(message, [*self.secrets, *(self.extractor.secrets() if self.extractor else [])]),
            task=task,
        )


def _redacted(value: Any, secrets: list[str]) -> Any:
    """``value`` (JSON-like) with every secret in its strings replaced by ***."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(str(k), secrets): _redacted(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v, secrets) for v in value]
    return value


def _can_lease(backend: StorageBackend) -> bool:
    """Local disk (an OS lock), or a backend that implements the conditional writes."""
    from foundry_dsl.storage.base import StorageBackend

    return getattr(backend, "local_root", None) is not None or (
        type(backend).create_if_absent is not StorageBackend.create_if_absent
    )


class _Unenforced:
    """The lease of a backend that cannot hold one: always held, as runs were before."""

    def check(self) -> None:
        pass

    def release(self) -> None:
        pass


def _table_prefix(p: ir.Pipeline) -> str:
    return f"system={p.system}/table={p.table}"


def _lease_scope(p: ir.Pipeline, partition_path: str) -> str:
    """What one run holds: the table when its partitions share a cursor, else the partition.

    Two runs of different dates of an incremental table would both start from the
    same cursor and land the same rows; their state writes would race. A custom
    source may keep a cursor, so it counts as incremental.
    """
    shared = _keeps_cursor(p.source) or isinstance(p.source, ir.CustomSource)
    return _table_prefix(p) if shared else partition_path.rstrip("/")


def _keeps_cursor(src: ir.Source) -> bool:
    """Whether the IR says the source is incremental (a custom class says so by running)."""
    return (isinstance(src, ir.DbSource) and src.incremental_key is not None) or (
        isinstance(src, ir.ApiSource) and src.incremental is not None
    )


def _committed_window(window: Window, new_cursor: str | None) -> dict[str, Any]:
    """The window the commit holds: a given end, else the last cursor landed."""
    end = window.end
    if end is None:
        end = new_cursor if new_cursor is not None else window.start
    return {"start": window.start, "end": end, "kind": window.kind}


def _empty_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([])


def _with_lineage(table: pa.Table, batch_id: str, run_at: dt.datetime) -> pa.Table:
    import pyarrow as pa

    n = table.num_rows
    table = table.append_column("_batch_id", pa.array([batch_id] * n, pa.string()))
    return table.append_column(
        "_extracted_at", pa.array([run_at] * n, pa.timestamp("us", tz="UTC"))
    )


def _clean_local_staging(p: ir.Pipeline) -> None:
    """Remove staging left by killed runs of this pipeline (one run per pipeline at a time)."""
    root = staging_root(p)
    if root.is_dir():
        for child in root.iterdir():
            shutil.rmtree(child, ignore_errors=True)


def _remove_if_empty(path: Path) -> None:
    for d in (path, path.parent):
        try:
            d.rmdir()
        except OSError:
            return


def _backend_secrets(backend: StorageBackend) -> list[str]:
    secrets = getattr(backend, "secrets", None)
    if callable(secrets):
        return list(secrets())
    return list(secrets or [])


def _quietly(fn: Any) -> None:
    # the original failure matters more than a failed clean-up
    with contextlib.suppress(Exception):
        fn()

