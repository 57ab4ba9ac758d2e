"""Runtime layer: the same plan on a Dask cluster, exactly once (``--executor dask``).

Dask's futures API only (``Client.submit``, ``as_completed``). The driver (this
process) runs each pipeline's lifecycle exactly as the local executor does —
lease, recovery, window, ``prepare``, commit, cursor (:mod:`~foundry_dsl.executor.run`)
— and hands each extract part to the cluster as one task
(:func:`~foundry_dsl.executor.remote.land_unit`). Per pipeline it:

- submits one task per part with the plan inline (a scattered plan would be lost
  with the worker holding it), each under a key of its own per try;
- collects outcomes as they finish, keeps the first manifest per part and
  releases every result at once, so Dask never recomputes a finished part;
- resubmits a part whose error is transient (``run``'s retry budget), fails the
  pipeline on any other error, and on a part whose workers died more often
  than ``allowed-failures`` allows (Dask's ``KilledWorker``);
- merges the parts' schemas; files written under an older schema are rewritten
  by follow-up tasks; then adopts every staged file and commits.

Workers never write ``_metadata.json`` and never delete a committed file; the
files of a dead attempt carry names no manifest lists, and the commit removes
them. A failed pipeline leaves the previous commit and cursor as they were;
other pipelines go on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from foundry_dsl.errors import ExtractError, FoundryError, PlanError
from foundry_dsl.executor.base import Executor, PipelineResult, Progress, RunResult, SilentProgress
from foundry_dsl.executor.land import TaskFailed
from foundry_dsl.executor.run import PipelineRun
from foundry_dsl.executor.work import Manifest, Work

if TYPE_CHECKING:
    from distributed import Client

    from foundry_dsl.executor.remote import Outcome
    from foundry_dsl.planner.plan import PipelinePlan, Plan
    from foundry_dsl.sources.base import Extractor
    from foundry_dsl.storage.base import StorageBackend

log = logging.getLogger("foundry.executor")

#: a part whose workers die this often more fails its pipeline (Dask's allowed-failures)
ALLOWED_FAILURES = 2
#: resubmissions of a part whose error is transient
TRANSIENT_RETRIES = 2


class DaskExecutor(Executor):
    """Runs a plan's parts on a Dask cluster: an existing one, or a LocalCluster."""

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int = 2,
        parallel: int = 1,
        dashboard: bool = False,
    ) -> None:
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            raise PlanError("--executor dask needs Dask: pip install 'foundry-dsl[dask]'")
        if workers < 1 or parallel < 1:
            raise PlanError("--workers and --parallel must be at least 1")
        self.scheduler = scheduler
        self.workers = workers
        self.parallel = parallel
        self.dashboard = dashboard

    def execute(self, plan: Plan, progress: Progress | None = None) -> RunResult:
        reporter = progress or SilentProgress()
        if not plan.pipelines:
            return RunResult(())
        with self._client() as client, ThreadPoolExecutor(
            min(self.parallel, len(plan.pipelines))
        ) as pool:
            remote = _remote_workers(client)
            refused = {pp.name: _refusal(pp, remote) for pp in plan.pipelines}
            futures = [
                pool.submit(_refused, pp, refused[pp.name], reporter)
                if refused.get(pp.name)
                else pool.submit(DaskPipelineRun(pp, reporter, client).run)
                for pp in plan.pipelines
            ]
            return RunResult(tuple(f.result() for f in futures))

    def _client(self) -> Any:
        from distributed import Client

        if self.scheduler:
            return Client(self.scheduler)
        cluster = local_cluster(self.workers, dashboard=self.dashboard)
        return _Owned(Client(cluster), cluster)


def local_cluster(workers: int, dashboard: bool = False) -> Any:
    """A cluster of ``workers`` processes on this machine, on loopback only."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # the scheduler's HTTP server always starts (None means port 8787 on every
            # interface); a random loopback port keeps it private and never in use
            dashboard_address="127.0.0.1:8787" if dashboard else "127.0.0.1:0",
            silence_logs=logging.ERROR,
        )


class _Owned:
    """A client of a LocalCluster we started: both shut down after the run."""

    def __init__(self, client: Client, cluster: Any) -> None:
        self.client, self.cluster = client, cluster

    def __enter__(self) -> Client:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.cluster.close()


def _remote_workers(client: Client) -> list[str]:
    """Workers on another machine than this one (by address)."""
    import socket
    from urllib.parse import urlparse

    here = {"127.0.0.1", "localhost", "::1", socket.gethostname()}
    with contextlib.suppress(OSError):
        here.add(socket.gethostbyname(socket.gethostname()))
    workers = client.scheduler_info().get("workers", {})
    return sorted(a for a in workers if urlparse(a).hostname not in here)


def _refusal(pp: PipelinePlan, remote: list[str]) -> str | None:
    if pp.storage.kind == "local" and remote:
        return (
            f"pipeline {pp.name}: it lands on local disk ({pp.target_root}), which workers "
            f"on other machines ({', '.join(remote[:3])}) cannot reach; land on S3, Azure or "
            "GCS, or run without --scheduler (a cluster on this machine)"
        )
    return None


def _refused(pp: PipelinePlan, why: str | None, progress: Progress) -> PipelineResult:
    result = PipelineResult(name=pp.name, status="failed", error=why, task="plan")
    progress.finished(result)
    return result


class DaskPipelineRun(PipelineRun):
    """A pipeline's run whose parts land on the cluster; the rest is the local run's."""

    def __init__(self, pp: PipelinePlan, progress: Progress, client: Client) -> None:
        super().__init__(pp, progress)
        self.client = client

    def _land(self, work: Work, extractor: Extractor, backend: StorageBackend) -> Manifest:
        topic = f"foundry-{self.run_id}"
        bridge = _Bridge(self.progress, self.p.name)
        self.client.subscribe_topic(topic, bridge.handle)
        try:
            landed = self._land_parts(work, topic, bridge)
            merged = self._merge_schemas(work, landed)
        finally:
            self.client.unsubscribe_topic(topic)
        self.task = "upload"
        self.committer.adopt([s for m in merged for s in m.staged])
        schema = merged[0].schema if merged else None
        return Manifest(
            parts=work.parts,
            files=tuple(f for m in merged for f in m.files),
            rows=sum(m.rows for m in landed),
            schema=schema,
            cursors={p: c for m in landed for p, c in m.cursors.items()},
            report=_merged_reports([m.report for m in landed]),
        )

    def _land_parts(self, work: Work, topic: str, bridge: _Bridge) -> list[Manifest]:
        from distributed import as_completed

        from foundry_dsl.executor.remote import land_unit

        tag = self.committer.tag
        tries: dict[int, int] = {}
        parts: dict[Any, int] = {}
        # one file in flight per part: a part's two half-full tail files would be
        # repacked, writing every row twice; the cluster runs the parts side by side
        work = replace(work, plan=replace(
            work.plan, settings=replace(work.plan.settings, workers=1)))

        def submit(part: int) -> Any:
            tries[part] = tries.get(part, 0) + 1
            unit = replace(work, parts=(part,), staging_dir="")
            future = self.client.submit(
                land_unit, unit, tag, topic, pure=False,
                key=f"foundry-{self.run_id}-part{part}-try{tries[part]}",
            )
            parts[future] = part
            return future

        landed: dict[int, Manifest] = {}
        pending = as_completed([submit(part) for part in work.parts])
        try:
            for future in pending:
                part = parts.pop(future)
                outcome = self._outcome(future, part)
                if outcome.failure is not None:
                    bridge.forget(part, outcome.attempt)
                    f = outcome.failure
                    if f.transient and tries[part] <= TRANSIENT_RETRIES:
                        log.warning("pipeline %s: part %d failed (%s); trying it again",
                                    self.p.name, part, f.message)
                        pending.add(submit(part))
                        continue
                    raise TaskFailed(f.task, ExtractError(f.message, transient=f.transient))
                assert outcome.manifest is not None
                landed.setdefault(part, outcome.manifest)
                bridge.keep(part, outcome.attempt)
        except BaseException:
            for future in parts:
                future.cancel()
            raise
        return [landed[p] for p in work.parts]

    def _outcome(self, future: Any, part: int) -> Outcome:
        from distributed import KilledWorker

        try:
            outcome: Outcome = future.result()
            return outcome
        except KilledWorker:
            raise TaskFailed(
                f"extract[{part}]",
                ExtractError(
                    f"part {part}: the workers running it died {ALLOWED_FAILURES + 1} times "
                    "(out of memory, or killed); nothing was committed. Check the workers' "
                    "memory limit and logs, then run `foundry apply` again"
                ),
            ) from None
        except FoundryError as exc:
            raise TaskFailed(f"extract[{part}]", exc) from None
        finally:
            future.release()  # a finished part is never recomputed, nor kept

    def _merge_schemas(self, work: Work, landed: list[Manifest]) -> list[Manifest]:
        """Every part's files in the run's one schema; stale ones rewritten on workers."""
        from foundry_dsl.executor.remote import rewrite_unit
        from foundry_dsl.write.schema import merge

        final = merge((m.schema for m in landed if m.schema is not None),
                      (c for m in landed for c in m.big_ints))
        if final is None:
            return landed
        stale = [i for i, m in enumerate(landed) if m.schema is not None and not m.schema.equals(final)]
        if not stale:
            return landed
        self.task = "write (schema widening)"
        tag = self.committer.tag
        futures = {
            i: self.client.submit(
                rewrite_unit, replace(work, parts=landed[i].parts, staging_dir=""), tag,
                landed[i], final, pure=False, key=f"foundry-{self.run_id}-rewrite{i}",
            )
            for i in stale
        }
        merged = list(landed)
        for i, future in futures.items():
            outcome = self._outcome(future, landed[i].parts[0])
            if outcome.failure is not None:
                raise TaskFailed(outcome.failure.task, ExtractError(outcome.failure.message))
            assert outcome.manifest is not None
            merged[i] = outcome.manifest
        return [replace(m, schema=final) for m in merged]


class _Bridge:
    """Worker events to the driver's progress, each part counted once.

    Rows are shown as they are extracted; an attempt that dies takes its rows
    back. Written files are reported once their attempt has succeeded.
    """

    def __init__(self, progress: Progress, name: str) -> None:
        self.progress, self.name = progress, name
        self.lock = threading.Lock()
        self.rows: dict[tuple[int, str], int] = {}
        self.files: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self.kept: set[tuple[int, str]] = set()
        self.forgotten: set[tuple[int, str]] = set()

    def handle(self, event: tuple[float, dict[str, Any]]) -> None:
        _, msg = event
        key = (int(msg["part"]), str(msg["attempt"]))
        with self.lock:
            if key in self.forgotten:
                return  # events of a dead attempt that arrive after its end
            if msg["kind"] == "log":
                # each attempt's own lines, as they come: a dead attempt's say why it died
                logging.getLogger(str(msg["name"])).log(int(msg["level"]), "%s", msg["message"])
            elif msg["kind"] == "extracted":
                self.rows[key] = self.rows.get(key, 0) + int(msg["rows"])
                self.progress.extracted(self.name, int(msg["rows"]))
            elif msg["kind"] == "wrote":
                if key in self.kept:
                    self._wrote(msg)
                else:
                    self.files.setdefault(key, []).append(msg)

    def _wrote(self, msg: dict[str, Any]) -> None:
        self.progress.wrote(self.name, msg["file"], int(msg["rows"]), int(msg["nbytes"]))

    def keep(self, part: int, attempt: str) -> None:
        with self.lock:
            self.kept.add((part, attempt))
            for msg in self.files.pop((part, attempt), []):
                self._wrote(msg)

    def forget(self, part: int, attempt: str) -> None:
        with self.lock:
            self.forgotten.add((part, attempt))
            self.files.pop((part, attempt), None)
            rows = self.rows.pop((part, attempt), 0)
            if rows:
                self.progress.extracted(self.name, -rows)


def _merged_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The parts' source figures as one: numbers summed, anything else from the first."""
    out: dict[str, Any] = {}
    for report in reports:
        for k, v in report.items():
            if isinstance(v, int | float) and not isinstance(v, bool) and isinstance(out.get(k), int | float):
                out[k] = out[k] + v
            else:
                out.setdefault(k, v)
    return out
