"""Runtime layer: what a cluster's worker runs — one part of one run, or a rewrite.

Each function takes plain values (the :class:`~foundry_dsl.executor.work.Work`
carries the plan itself) and returns an :class:`Outcome`: a manifest, or the
error as a value whose message has every secret the worker resolved replaced by
``***`` before it leaves the worker. Nothing here writes ``_metadata.json`` or
deletes a committed file: workers stage files in the run's attempt folder (the
driver's committer's ``tag``) under names of their own, and the driver commits.

Progress goes to the driver as Dask events on a topic of the run, tagged with
the part and the attempt, so the driver can take back what a dead attempt
counted.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundry_dsl.errors import FoundryError, redact, redact_json
from foundry_dsl.executor.work import Manifest, Work
from foundry_dsl.storage.base import backend_secrets

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl.executor.base import PipelineResult


@dataclass(frozen=True)
class Failure:
    """An error as a value: picklable, redacted, with what the driver decides on."""

    task: str
    message: str
    transient: bool


@dataclass(frozen=True)
class Outcome:
    part: int
    attempt: str
    manifest: Manifest | None = None
    failure: Failure | None = None


class TopicProgress:
    """Progress sent to the driver as events on ``topic``; counts and names only."""

    def __init__(self, topic: str, part: int, attempt: str) -> None:
        from distributed import get_worker

        self.worker = get_worker()
        self.topic, self.part, self.attempt = topic, part, attempt

    def send(self, kind: str, **fields: Any) -> None:
        self.worker.log_event(self.topic, {"kind": kind, "part": self.part,
                                           "attempt": self.attempt, **fields})

    def started(self, name: str, partition: str) -> None:
        pass  # the driver reports the run's start

    def extracted(self, name: str, rows: int) -> None:
        self.send("extracted", rows=rows)

    def wrote(self, name: str, file: str, rows: int, nbytes: int) -> None:
        self.send("wrote", file=file, rows=rows, nbytes=nbytes)

    def finished(self, result: PipelineResult) -> None:
        pass  # the driver reports the run's end


def land_unit(work: Work, tag: str, topic: str) -> Outcome:
    """Extract, chunk, write and upload one part of a run on this worker."""
    from foundry_dsl.executor.land import Landing, TaskFailed
    from foundry_dsl.sources.registry import extractor_for
    from foundry_dsl.storage import api as storage_api
    from foundry_dsl.storage.registry import open_backend

    (part,) = work.parts
    attempt = secrets.token_hex(3)
    pp = work.plan
    scratch = _scratch(work.run_id, part, attempt)
    unit = replace(work, staging_dir=str(scratch), stem=f"part-{part}-{attempt}")
    found: list[str] = []
    task = f"extract[{part}]"
    try:
        backend = open_backend(pp.storage, pp.name)
        found.extend(backend_secrets(backend))
        extractor = extractor_for(pp.pipeline.source)
        found.extend(extractor.secrets())

        def committer() -> Any:
            return storage_api.committer(backend, pp.partition_path, work.run_id, tag=tag)

        staged = committer()
        progress = TopicProgress(topic, part, attempt)
        landing = Landing(unit, progress, staged, committer, threading.Event())
        with _source_connection(pp), _logs_to(progress, found):
            try:
                manifest = landing.land(extractor)
            finally:
                task = landing.task
        manifest.staged = tuple(landing.committer.staged())
        manifest.report = redact_json(dict(extractor.report), found + extractor.secrets())
        return Outcome(part, attempt, manifest=manifest)
    except BaseException as exc:
        while isinstance(exc, TaskFailed):
            task, exc = exc.task, exc.cause
        return Outcome(part, attempt, failure=_failure(task, exc, found))
    finally:
        _remove(scratch)


def rewrite_unit(work: Work, tag: str, landed: Manifest, schema: pa.Schema) -> Outcome:
    """Conform the files one part staged under an older schema to the run's final one.

    Each file comes down from the attempt folder, is rewritten here under a new
    name and staged again; the old staged file is removed. Runs on a worker, as
    a follow-up task, because the part's own worker may be gone.
    """
    from foundry_dsl.storage import api as storage_api
    from foundry_dsl.storage.registry import open_backend
    from foundry_dsl.write.writers import rewrite

    (part,) = work.parts
    attempt = secrets.token_hex(3)
    pp = work.plan
    scratch = _scratch(work.run_id, part, attempt)
    found: list[str] = []
    try:
        backend = open_backend(pp.storage, pp.name)
        found.extend(backend_secrets(backend))
        committer = storage_api.committer(backend, pp.partition_path, work.run_id, tag=tag)
        staging = getattr(committer, "staging", "")
        finals = {name: final for name, final, _ in landed.staged}
        files = []
        for f in landed.files:
            out = pp.settings.output(f.format)
            local = scratch / f"r{attempt}-{f.name}"
            backend.download_file(f"{staging}/{finals[f.name]}", str(local))
            info = rewrite(str(local), out.format, schema, out.compression)
            committer.upload(str(local))
            backend.delete_file(f"{staging}/{finals[f.name]}")
            files.append(replace(info, name=local.name))
        manifest = replace(landed, files=tuple(files), schema=schema,
                           staged=tuple(committer.staged()))
        return Outcome(part, attempt, manifest=manifest)
    except BaseException as exc:
        return Outcome(part, attempt, failure=_failure("write (schema widening)", exc, found))
    finally:
        _remove(scratch)


class _LogBridge(logging.Handler):
    """foundry's log records of a part, redacted here, sent to the driver's logs."""

    def __init__(self, progress: TopicProgress, found: list[str]) -> None:
        super().__init__(logging.INFO)
        self.progress, self.found = progress, found

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a log line must never fail a part
            self.progress.send("log", name=record.name, level=record.levelno,
                               message=redact(record.getMessage(), self.found))


@contextlib.contextmanager
def _logs_to(progress: TopicProgress, found: list[str]) -> Iterator[None]:
    logger = logging.getLogger("foundry")
    handler = _LogBridge(progress, found)
    logger.addHandler(handler)
    level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _remove(scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    with contextlib.suppress(OSError):
        scratch.parent.rmdir()  # the run's folder, once its last unit here is done


def _scratch(run_id: str, part: int, attempt: str) -> Path:
    """Per-attempt scratch in the worker's own local directory, never shared."""
    from distributed import get_worker

    root = Path(get_worker().local_directory) / "foundry" / run_id / f"{part}-{attempt}"
    root.mkdir(parents=True, exist_ok=True)
    return root


class _source_connection:
    """A cluster-wide semaphore of ``run { source_connections = N }`` around a part."""

    def __init__(self, pp: Any) -> None:
        self.limit = pp.settings.source_connections
        self.name = f"foundry-source-{pp.name}"
        self.sem: Any = None

    def __enter__(self) -> None:
        if self.limit:
            from distributed import Semaphore

            self.sem = Semaphore(max_leases=self.limit, name=self.name)
            self.sem.acquire()

    def __exit__(self, *exc: object) -> None:
        if self.sem is not None:
            self.sem.release()


def _failure(task: str, exc: BaseException, found: list[str]) -> Failure:
    if isinstance(exc, FoundryError):
        message, transient = exc.message, exc.transient
    else:
        message, transient = f"{type(exc).__name__}: {exc}", False
    return Failure(task, redact(message, found), transient)
