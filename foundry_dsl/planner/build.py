"""Planner layer: IR → :class:`~foundry_dsl.planner.plan.Plan`.

For each pipeline it resolves the partition for the run inputs, the target
root, the files and the task graph, and (unless offline) looks at storage to
tell ``create`` from ``replace``. It never writes, and it contacts a source
only when asked to estimate (``plan --estimate``: a query's MIN/MAX for its
ranges, a remote listing); otherwise the only I/O is reading a committed
partition's ``_metadata.json``. The plan it hands on is exactly what
``foundry apply`` executes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from foundry_dsl import ir
from foundry_dsl.errors import FoundryError, PlanError
from foundry_dsl.planner.checks import env_vars, preflight
from foundry_dsl.planner.graph import Task, TaskGraph
from foundry_dsl.planner.origin import CursorOrigin, from_window, unresolved
from foundry_dsl.planner.partitions import (
    METADATA_FILE,
    RunInputs,
    batch_id_for,
    committed_name,
    partition_levels,
    partition_path,
)
from foundry_dsl.planner.plan import Existing, Output, PipelinePlan, Plan, RunSettings
from foundry_dsl.planner.windows import Window, WindowRequest
from foundry_dsl.sources.base import Estimate, ExtractContext


def build_plan(
    pipelines: ir.Project | Iterable[ir.Pipeline],
    run_date: dt.date,
    run_at: dt.datetime,
    batch_id: str | None = None,
    look_up_storage: bool = True,
    estimate: bool = False,
    request: WindowRequest | None = None,
) -> Plan:
    """The plan for every pipeline, in the order given (names must be unique).

    ``estimate``: let sources that can say more by contacting the source do so
    (``plan --estimate``); a source that cannot be asked gets ``estimate_error``.
    """
    items = pipelines.pipelines if isinstance(pipelines, ir.Project) else tuple(pipelines)
    seen: set[str] = set()
    for p in items:
        if p.name in seen:
            raise PlanError(f"pipeline {p.name} is defined twice; each system.table lands once per run")
        seen.add(p.name)
    inputs = RunInputs(run_date, _utc(run_at), batch_id)
    req = (request or WindowRequest()).check()
    planned = tuple(plan_pipeline(p, inputs, look_up_storage, estimate, req) for p in items)
    return Plan(run_date, inputs.run_at, not look_up_storage, planned, estimated=estimate)


def plan_pipeline(
    p: ir.Pipeline,
    inputs: RunInputs,
    look_up_storage: bool,
    estimate: bool = False,
    request: WindowRequest | None = None,
) -> PipelinePlan:
    bid = batch_id_for(p.run.batch_id, inputs)
    levels = partition_levels(
        system=p.system,
        table=p.table,
        strategy=p.platform.partition,
        use_dt=p.platform.use_dt_partition,
        inputs=inputs,
        batch_id=bid,
        pipeline=p.name,
    )
    path = partition_path(levels)
    parts = source_parts(p.source)
    req = request or WindowRequest()
    settings = run_settings(p, req)
    plan = PipelinePlan(
        pipeline=p,
        run_date=inputs.run_date,
        run_at=inputs.run_at,
        batch_id=bid,
        partition_levels=tuple(levels),
        partition_path=path,
        target_root=target_root(p),
        formats=p.run.formats,
        parts=parts,
        settings=settings,
        storage=_resolved_storage(p),
        graph=task_graph(p, path, parts, settings),
        estimate=_estimate(p, inputs, bid, settings),
        request=req,
        env=env_vars(p),
        warnings=preflight(p, Path(settings.base_dir), _work_dir(settings)),
        cursor=_unresolved_origin(p, req),
    )
    if estimate:
        try:
            live = _estimate_live(p, inputs, bid, look_up_storage, path, plan.request, settings)
        except FoundryError as exc:
            # like an unreachable store: say why, show the rest of the plan
            plan = _replace(plan, estimate_error=_redacted(exc.message, p))
        else:
            plan = _replace(plan, estimate=_merge(plan.estimate, live))
    if not look_up_storage:
        return plan
    try:
        meta = _committed(p, path)
        window, refused = _window(p, path, meta, plan.request)
    except FoundryError as exc:
        # one unreachable store must not hide the rest of the plan: say why, go on
        return _replace(plan, unchecked=exc.message)
    existing = _existing(meta)
    return _replace(plan, action="replace" if existing else "create", existing=existing,
                    window=window, window_error=refused, cursor=_origin(p, window, req))


def source_parts(source: ir.Source) -> int | None:
    """Parallel extract streams, from the IR alone (planning never asks the source).

    None for a custom source: its class may split itself into parts, and
    planning does not import user code, so the executor asks it at run time.
    """
    from foundry_dsl.sources.registry import extractor_class

    return extractor_class(source.kind).planned_parts(source)


def compression_for(fmt: str, p: ir.Pipeline) -> str:
    # the platform's codec is a Parquet codec; CSV is written plain, as the spec does
    return p.platform.compression if fmt == "parquet" else "none"


def run_settings(p: ir.Pipeline, request: WindowRequest) -> RunSettings:
    """The run block and the platform, resolved into what the executor reads."""
    run = p.run
    return RunSettings(
        base_dir=str(base_dir(p).resolve()),
        scratch_dir=str(Path(run.local_output_dir).resolve()),
        outputs=tuple(
            Output(fmt, compression_for(fmt, p), committed_name(1, fmt).replace("0001", "NNNN"))
            for fmt in run.formats
        ),
        max_rows_per_file=run.max_rows_per_file,
        max_file_size=run.max_file_size,
        workers=run.workers,
        lineage=run.lineage,
        cleanup_on_failure=run.cleanup_on_failure,
        keep_local_files=run.keep_local_files,
        allow_empty=request.allow_empty or run.allow_empty,
        source_connections=run.source_connections,
        work_dir=str(Path.cwd()),
    )


def task_graph(
    p: ir.Pipeline, path: str, parts: int | None, settings: RunSettings | None = None
) -> TaskGraph:
    settings = settings or run_settings(p, WindowRequest())
    if parts is None:
        extracts = [
            Task("extract[*]", "extract", (), {"parts": "dynamic", "source": p.source.kind}, dynamic=True)
        ]
    else:
        extracts = [
            Task(f"extract[{i}]", "extract", (), {"part": i, "parts": parts, "source": p.source.kind})
            for i in range(parts)
        ]
    chunk = Task(
        "chunk[*]",
        "chunk",
        tuple(t.id for t in extracts),
        {
            "max_rows_per_file": settings.max_rows_per_file,
            "max_file_size": settings.max_file_size,
            "workers": settings.workers,
            "lineage": settings.lineage,
        },
        dynamic=True,
    )
    writes = [
        Task(
            f"write[{out.format}]",
            "write",
            (chunk.id,),
            {"format": out.format, "compression": out.compression, "files": out.files},
            dynamic=True,
        )
        for out in settings.outputs
    ]
    upload = Task("upload", "upload", tuple(t.id for t in writes), {"partition": path}, dynamic=True)
    commit = Task("commit", "commit", (upload.id,), {"partition": path, "marker": METADATA_FILE})
    return TaskGraph([*extracts, chunk, *writes, upload, commit])


def _resolved_storage(p: ir.Pipeline) -> ir.Storage:
    from foundry_dsl.storage.registry import resolved

    return resolved(p.platform.storage, p.run)


def target_root(p: ir.Pipeline) -> str:
    """Where the partition lands, for display; contacts nothing and reads no secret."""
    from foundry_dsl.storage.registry import backend_root_url

    return backend_root_url(p.platform.storage, p.run)


def look_up(p: ir.Pipeline, path: str) -> Existing | None:
    """The committed partition at ``path``, or None; raises what storage raises."""
    return _existing(_committed(p, path))


def _committed(p: ir.Pipeline, path: str) -> dict[str, Any] | None:
    from foundry_dsl.storage.api import committed_metadata
    from foundry_dsl.storage.registry import backend_for

    return committed_metadata(backend_for(p), path)


def _window(
    p: ir.Pipeline, path: str, meta: dict[str, Any] | None, request: WindowRequest
) -> tuple[Window | None, str | None]:
    """The window apply would extract, by the rule apply uses; or why it would refuse.

    Read-only: a pending commit is settled in memory, as the run would settle it.
    """
    from foundry_dsl.planner.windows import BackfillError, resolve
    from foundry_dsl.sources.registry import env_cursor
    from foundry_dsl.storage.api import committed_metadata, state_store
    from foundry_dsl.storage.registry import backend_for
    from foundry_dsl.storage.state import settle

    backend = backend_for(p)
    state = state_store(backend).get(p.system, p.table)
    state, _ = settle(state, lambda part: committed_metadata(backend, part))
    if not _incremental(p, state, meta):
        return None, None
    try:
        return resolve(pipeline=p.name, partition=path, state=state, committed=meta,
                       request=request, env_cursor=env_cursor(p)), None
    except BackfillError as exc:
        return None, exc.message


def _origin(p: ir.Pipeline, window: Window | None, request: WindowRequest) -> CursorOrigin | None:
    """Where the window's start comes from; None when the run extracts no window."""
    from foundry_dsl.sources.registry import cursor_env_name

    return None if window is None else from_window(window, request, cursor_env_name(p.source))


def _unresolved_origin(p: ir.Pipeline, request: WindowRequest) -> CursorOrigin | None:
    """The origin before storage is looked at (and when it cannot be): for sources
    that keep a cursor, what is known from the request and the cursor variable."""
    from foundry_dsl.sources.registry import cursor_env_name, env_cursor, extractor_class

    if not extractor_class(p.source.kind).keeps_cursor(p.source):
        return None
    return unresolved(request, cursor_env_name(p.source), env_cursor(p) is not None)


def _work_dir(settings: RunSettings) -> Path | None:
    return Path(settings.work_dir) if settings.work_dir else None


def _incremental(p: ir.Pipeline, state: dict[str, Any] | None, meta: dict[str, Any] | None) -> bool:
    """Whether the pipeline's runs extract a cursor window (a custom class decides by
    storing cursors, so it counts once it has)."""
    from foundry_dsl.sources.registry import extractor_class

    keeps = extractor_class(p.source.kind).keeps_cursor(p.source)
    if keeps is None:  # only a run can tell: it counts once it has stored a cursor
        return bool(state) or bool(meta and meta.get("window"))
    return keeps


def _existing(meta: dict[str, Any] | None) -> Existing | None:
    if meta is None:
        return None
    return Existing(
        records=_int(meta.get("total_records")),
        files=_int(meta.get("num_files")),
        batch_timestamp=str(meta["batch_timestamp"]) if meta.get("batch_timestamp") else None,
    )


def _estimate(
    p: ir.Pipeline, inputs: RunInputs, batch_id: str, settings: RunSettings
) -> Estimate | None:
    """What the source can say ahead of time; a source that cannot say gives None."""
    from foundry_dsl.sources.registry import extractor_class, extractor_for

    if not extractor_class(p.source.kind).estimates_offline(p.source):
        return None  # it would contact the source or import user code
    try:

        ctx = ExtractContext(
            pipeline=p,
            run_date=inputs.run_date,
            run_at=inputs.run_at,
            base_dir=Path(settings.base_dir),
            work_dir=Path(settings.work_dir) if settings.work_dir else None,
            batch_id=batch_id,
        )
        return extractor_for(p.source).estimate(ctx)
    except (FoundryError, ImportError, OSError):
        # an estimate is a courtesy; the run itself reports real problems
        return None


def _estimate_live(
    p: ir.Pipeline,
    inputs: RunInputs,
    batch_id: str,
    look_up_storage: bool,
    path: str,
    request: WindowRequest,
    settings: RunSettings,
) -> Estimate | None:
    """What the source says when asked (``plan --estimate``); raises what it raises.

    The context carries the cursor the run would start from (the cursor env
    variable, else the stored one unless offline), so a query's MIN/MAX covers
    the rows the run would read.
    """
    from foundry_dsl.sources.registry import extractor_for

    extractor = extractor_for(p.source)
    start, until = _bounds(p, look_up_storage, path, request)
    ctx = ExtractContext(
        pipeline=p,
        run_date=inputs.run_date,
        run_at=inputs.run_at,
        base_dir=Path(settings.base_dir),
        work_dir=Path(settings.work_dir) if settings.work_dir else None,
        cursor=start,
        until=until,
        batch_id=batch_id,
    )
    try:
        return extractor.estimate_live(ctx)
    except (ImportError, OSError) as exc:
        raise PlanError(f"{type(exc).__name__}: {exc}") from None


def _bounds(
    p: ir.Pipeline, look_up_storage: bool, path: str, request: WindowRequest
) -> tuple[str | None, str | None]:
    """The window the run would extract, by apply's rule; offline: what was given."""
    from foundry_dsl.sources.registry import env_cursor

    if not look_up_storage:
        start = request.start if request.start is not None else env_cursor(p)
        return start, request.end
    try:
        window, _ = _window(p, path, _committed(p, path), request)
    except FoundryError:
        return None, None
    return (window.start, window.end) if window else (None, None)


def _merge(known: Estimate | None, live: Estimate | None) -> Estimate | None:
    """The offline estimate with what asking the source added (the live value wins)."""
    if known is None or live is None:
        return live or known
    return Estimate(
        rows=live.rows if live.rows is not None else known.rows,
        bytes=live.bytes if live.bytes is not None else known.bytes,
        detail=live.detail or known.detail,
        ranges=live.ranges if live.ranges is not None else known.ranges,
    )


def _redacted(message: str, p: ir.Pipeline) -> str:
    """An error for the plan with every secret the source resolves replaced by ***."""
    from foundry_dsl.errors import redact
    from foundry_dsl.sources.registry import extractor_for

    try:
        secrets = extractor_for(p.source).secrets()
    except FoundryError:
        secrets = []
    return redact(message, secrets)


def base_dir(p: ir.Pipeline) -> Path:
    """The folder of the pipeline file: relative source paths and modules resolve here."""
    return Path(p.source_file).parent if p.source_file else Path.cwd()


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) else None


def _replace(plan: PipelinePlan, **changes: Any) -> PipelinePlan:
    from dataclasses import replace

    return replace(plan, **changes)


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)
