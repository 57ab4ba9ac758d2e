"""Runtime layer: one pipeline's run, from its lease to its cursor (the driver).

In order: take the lease of the run's scope (:mod:`~foundry_dsl.executor.scopes`),
recover what killed runs left, settle the state from the commits, resolve the
cursor window, ``prepare`` the source, land its parts
(:mod:`~foundry_dsl.executor.land`: extract → chunk → write → upload), check the
window and the emptying rule, then write the intent, commit ``_metadata.json``
last and store the cursor after it (docs/commit-protocol.md).

It hands on a :class:`~foundry_dsl.executor.base.PipelineResult`; a failure
becomes a failed result naming the pipeline and the task, never an exception.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundry_dsl.errors import CommitError, FoundryError, PlanError, redact, redact_json
from foundry_dsl.executor.base import PipelineResult, Progress
from foundry_dsl.executor.land import Landing, TaskFailed
from foundry_dsl.executor.scopes import (
    Unenforced,
    can_lease,
    claimer,
    clean_local_staging,
    keeps_cursor,
    lease_scope,
    make_staging,
    remove_staging,
    staging_root,
    table_prefix,
)
from foundry_dsl.executor.work import Manifest, Work
from foundry_dsl.planner.plan import PipelinePlan
from foundry_dsl.planner.windows import Window
from foundry_dsl.sources.base import ExtractContext, Extractor
from foundry_dsl.storage.base import backend_secrets
from foundry_dsl.storage.lease import Holder
from foundry_dsl.storage.state import committed, settle, with_pending

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl.storage.api import Committer
    from foundry_dsl.storage.base import StorageBackend
    from foundry_dsl.storage.lease import Lease
    from foundry_dsl.storage.state import StateStore
    from foundry_dsl.write.writers import FileInfo

log = logging.getLogger("foundry.executor")



class EmptyResult(CommitError):
    """An empty result would replace a partition that holds rows (no ``allow_empty``)."""


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
        self.scope = lease_scope(self.p, pp.partition_path)
        self.holder = Holder.for_run(self.run_id, self.p.name)
        self.lease: Lease | Unenforced
        self.staging_root = staging_root(pp.settings.scratch_dir, self.p.name)
        self.staging = self.staging_root / self.run_id  # made only once data is landed
        self.staged = False  # whether self.staging was made (failures say what became of it)
        #: whether the partition held a commit before this run (None: not known yet)
        self.had_commit: bool | None = None
        self.committed = False  # set once _metadata.json is in place: failures after it say so

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
        from foundry_dsl.storage.lease import acquire
        from foundry_dsl.storage.registry import open_backend

        backend = open_backend(self.pp.storage, self.p.name)
        self.secrets.extend(backend_secrets(backend))
        # one writer per partition (per table when a cursor is shared by its partitions):
        # a second run fails here, naming the holder, before it touches anything
        self.task = "lease"
        if can_lease(backend):
            self.lease = acquire(backend, self.scope, self.holder)
            log.debug("pipeline %s: holding the lease of %s", self.p.name, self.scope)
        else:
            log.warning(
                "pipeline %s: the %s storage backend has no conditional writes, so foundry "
                "cannot stop two runs from writing %s at once; make sure only one does "
                "(docs/commit-protocol.md)", self.p.name, backend.get_backend_type(), self.scope,
            )
            self.lease = Unenforced()
        try:
            return self._run_leased(backend, started)
        finally:
            self.lease.release()

    def _run_leased(self, backend: StorageBackend, started: float) -> PipelineResult:
        from foundry_dsl.sources.registry import extractor_for
        from foundry_dsl.storage import api as storage_api

        pp, p = self.pp, self.p
        # runs killed earlier may have left staging behind, for this date or any other
        self.task = "recover"
        storage_api.recover(backend, pp.partition_path)
        claim = claimer(backend, p, self.scope, self.holder)
        storage_api.recover_table(backend, table_prefix(p), claim)
        clean_local_staging(self.staging_root, p, self.scope, pp.partition_path, claim)

        self.task = "state"
        store = storage_api.state_store(backend)
        state = self._settled_state(backend, store)
        committed = storage_api.committed_metadata(backend, pp.partition_path)
        self.had_commit = committed is not None
        window = self._window(state, committed)
        if keeps_cursor(p.source) is not False:
            log.debug("pipeline %s: window %s", p.name, window.describe())
        if window.empty:
            return self._nothing_to_do(window, started)

        self.task = "prepare"
        extractor = self.extractor = extractor_for(p.source)
        self.secrets.extend(extractor.secrets())
        ctx = ExtractContext(
            pipeline=p,
            run_date=pp.run_date,
            run_at=pp.run_at,
            base_dir=Path(pp.settings.base_dir),
            work_dir=Path(pp.settings.work_dir) if pp.settings.work_dir else None,
            cursor=window.start,
            until=window.end,
            batch_id=pp.batch_id,
        )
        # per-run data (a query's ranges) computed once, so every part agrees on it
        ctx = dataclasses.replace(ctx, prepared=extractor.prepare(ctx))
        self.committer = storage_api.committer(
            backend, pp.partition_path, self.run_id, guard=self.lease.check
        )
        scratch = Path(pp.settings.scratch_dir)
        try:
            parts = tuple(self._parts(extractor, ctx))
            log.debug("pipeline %s: %d extract part(s), scratch in %s", p.name, len(parts),
                      self.staging)
            # local scratch only now that there is data to land: a run failing before
            # leaves no folder behind (and never an empty ./output/)
            self.staged = True
            make_staging(self.staging, scratch, self.scope)
            work = Work(plan=pp, run_id=self.run_id, parts=parts,
                        context=ctx, staging_dir=str(self.staging))
            stream = self._land(work, extractor, backend)
            t_stream = time.monotonic() - started
            files = list(stream.files)
            new_cursor = (
                extractor.merge_cursors([stream.cursors.get(i) for i in stream.parts])
                if stream.cursors
                else None
            )
            self.task = "commit"
            self._check_window(window, new_cursor)
            self._check_not_emptying(stream.rows, committed)
            metadata = self._metadata(stream, files, new_cursor, started, t_stream)
            if keeps_cursor(p.source) or new_cursor is not None or state is not None:
                metadata["window"] = _committed_window(window, new_cursor)
            # parts landed elsewhere bring their source's figures in their manifests
            report = {**extractor.report, **stream.report}
            if report:
                # a source's own figures may quote what it was given: never a secret
                metadata["source"] = redact_json(
                    dict(report), [*self.secrets, *extractor.secrets()]
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
            self.committed = True
            log.debug("pipeline %s: committed %s", p.name, self.partition_url)
        except BaseException:
            self.stop.set()
            if pp.settings.cleanup_on_failure:
                _quietly(self.committer.abort)
                remove_staging(self.staging, scratch)
            raise
        try:
            if new_cursor is not None:
                self.task = "state"
                self._store_cursor(store, state, new_cursor, stream.rows)
            self._keep_local(backend, metadata)
        finally:
            remove_staging(self.staging, scratch)
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

    def _land(self, work: Work, extractor: Extractor, backend: StorageBackend) -> Manifest:
        """Extract → chunk → write → upload every part: here, on threads, in one unit
        (parts share files). A distributed executor lands each part apart."""
        from foundry_dsl.storage import api as storage_api

        landing = Landing(
            work, self.progress, self.committer,
            lambda: storage_api.committer(backend, self.pp.partition_path, self.run_id),
            self.stop,
        )
        try:
            return landing.land(extractor)
        except TaskFailed:
            raise
        except Exception as exc:
            raise TaskFailed(landing.task, exc) from exc
        finally:
            self.committer = landing.committer

    def _keep_local(self, backend: StorageBackend, metadata: dict[str, Any]) -> None:
        """With ``keep_local_files``, the committed partition under local_output_dir too,
        as the original tool kept it (local disk storage holds the files already)."""
        from foundry_dsl.executor.local_copy import keep_local_copy
        from foundry_dsl.storage.layout import local_root

        if not self.pp.settings.keep_local_files or local_root(backend) is not None:
            return
        self.task = "keep local files"
        partition = self.pp.partition_path.rstrip("/")
        where = keep_local_copy(
            scratch_dir=Path(self.pp.settings.scratch_dir),
            staging=self.staging,
            partition_path=partition,
            run_id=self.run_id,
            staged=self.committer.staged(),
            metadata=metadata,
            download=lambda final, local: backend.download_file(f"{partition}/{final}", local),
        )
        log.debug("pipeline %s: kept the committed files in %s", self.p.name, where)

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
        from foundry_dsl.sources.registry import env_cursor

        return resolve(
            pipeline=self.p.name,
            partition=self.pp.partition_path,
            state=state,
            committed=committed,
            request=self.pp.request,
            env_cursor=env_cursor(self.p),
        )

    def _check_window(self, window: Window, new_cursor: str | None) -> None:
        from foundry_dsl.cursors import past

        if window.end is not None and new_cursor is not None and past(new_cursor, window.end):
            raise PlanError(
                f"the source returned rows up to cursor {new_cursor!r}, past the end of this "
                f"run's window {window.end!r}; those rows belong to a later partition and would "
                "be landed twice. A custom source must not yield rows past ctx.until"
            )

    def _check_not_emptying(self, rows: int, committed: dict[str, Any] | None) -> None:
        if rows or not committed or self.allow_empty:
            return
        had = committed.get("total_records")
        if not isinstance(had, int) or had == 0:
            return
        raise EmptyResult(
            f"the source returned no rows, and committing would replace the {had:,} rows "
            f"committed at {committed.get('batch_timestamp')} with an "
            "empty partition. If the source really is empty for this run, run again with "
            "--allow-empty (or set allow_empty = true in the run block)"
        )

    @property
    def allow_empty(self) -> bool:
        return self.pp.settings.allow_empty

    def _nothing_to_do(self, window: Window, started: float) -> PipelineResult:
        self.progress.extracted(self.p.name, 0)
        return PipelineResult(
            name=self.p.name,
            status="succeeded",
            seconds=time.monotonic() - started,
            partition=self.partition_url,
            note=f"kept as it is: its window is {window.describe()}",
        )

    # --- extract → chunk → write → upload -------------------------------------------

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

    # --- commit and state --------------------------------------------------------------

    def _metadata(
        self,
        stream: Manifest,
        files: list[FileInfo],
        new_cursor: str | None,
        started: float,
        t_stream: float,
    ) -> dict[str, Any]:
        from foundry_dsl.executor.metadata import build_metadata

        return build_metadata(
            pipeline=self.p,
            formats=tuple(o.format for o in self.pp.settings.outputs),
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
        # a source's message may name the pipeline already: the line below names it once
        for prefix in (f"pipeline {self.p.name}: ", f"{self.p.name}: "):
            why = why.removeprefix(prefix)
        # what became of the partition and the scratch, as they are now
        if self.committed:
            committed = f"{self.partition_url} was committed"
        elif self.had_commit:
            committed = f"the committed partition {self.partition_url} is unchanged"
        elif self.had_commit is None:
            committed = f"{self.partition_url} is unchanged"
        else:
            committed = f"nothing is committed at {self.partition_url} yet"
        if not self.staged:
            kept = ""  # failed before anything was landed: nothing was staged
        elif self.staging.exists():
            kept = f"; staging kept in {self.staging}"
        else:
            kept = "; staging was cleaned up"
        message = (
            f"pipeline {self.p.name}: task {task} failed: {why}\n"
            f"  {committed}{kept}. Fix the cause and run `foundry apply` again."
        )
        return PipelineResult(
            name=self.p.name,
            status="failed",
            seconds=time.monotonic() - started,
            partition=self.partition_url,
            error=redact(message, [*self.secrets, *(self.extractor.secrets() if self.extractor else [])]),
            task=task,
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








def _quietly(fn: Any) -> None:
    # the original failure matters more than a failed clean-up
    with contextlib.suppress(Exception):
        fn()

