"""Planner layer: the plan as a value.

A :class:`Plan` is what ``foundry plan`` renders and what ``foundry apply``
executes, the very same object, so a dry run cannot drift from a real run.
It holds, per pipeline, the resolved partition, the target, the files it will
write and the task graph. Everything is a frozen, picklable value; secrets are
never resolved here (sources keep their :class:`~foundry_dsl.ir.EnvRef`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from foundry_dsl import ir
from foundry_dsl.errors import Diagnostic
from foundry_dsl.planner.checks import EnvVar
from foundry_dsl.planner.graph import TaskGraph
from foundry_dsl.planner.origin import CursorOrigin
from foundry_dsl.planner.windows import Window, WindowRequest
from foundry_dsl.sources.base import Estimate

#: ``create``: nothing committed there yet; ``replace``: a committed partition will be
#: replaced; ``unknown``: storage was not looked at (``--offline``).
Action = Literal["create", "replace", "unknown"]

MARKERS: dict[str, str] = {"create": "+", "replace": "~", "unknown": "?"}


@dataclass(frozen=True)
class Existing:
    """What a committed partition holds now, from its ``_metadata.json``."""

    records: int | None
    files: int | None
    batch_timestamp: str | None


@dataclass(frozen=True)
class Output:
    """One format a run writes: its codec and how its files are named."""

    format: ir.Format
    compression: str  # "none" for CSV: the platform's codec is a Parquet codec
    files: str  # the name pattern, e.g. part-NNNN-<tag>.parquet


@dataclass(frozen=True)
class RunSettings:
    """Everything the executor needs besides the source and the storage, resolved.

    Paths are absolute, taken where the plan was made, so an executor in another
    process or on another machine never reads the current directory.
    """

    base_dir: str  # the pipeline file's folder: relative source paths and modules resolve here
    scratch_dir: str  # local_output_dir: where files are written before upload
    outputs: tuple[Output, ...]  # the first is primary: file sizes are measured on it
    max_rows_per_file: int  # 0 = unlimited
    max_file_size: int  # bytes, 0 = unlimited
    workers: int  # files written at once
    lineage: bool  # add _batch_id and _extracted_at
    cleanup_on_failure: bool
    allow_empty: bool  # from the run block or --allow-empty
    source_connections: int | None = None  # parts reading the source at once (None: all)
    #: the current directory where the plan was made: custom modules are looked for
    #: there after base_dir, as the original tool did ("": not searched)
    work_dir: str = ""
    #: keep a copy of the committed files under scratch_dir/<partition> (object stores)
    keep_local_files: bool = False

    def output(self, fmt: str) -> Output:
        return next(o for o in self.outputs if o.format == fmt)


@dataclass(frozen=True)
class PipelinePlan:
    pipeline: ir.Pipeline
    run_date: dt.date
    run_at: dt.datetime
    batch_id: str
    partition_levels: tuple[tuple[str, str], ...]
    partition_path: str  # relative to the target root, ends with "/"
    target_root: str  # for display: /abs/path, s3://bucket/prefix, abfs://..., gs://...
    formats: tuple[ir.Format, ...]
    parts: int | None  # extract streams; None: the extractor decides at run time
    settings: RunSettings
    #: where the run writes, resolved (a local path absolute); secrets stay env(...)
    storage: ir.Storage
    graph: TaskGraph = field(compare=False)
    action: Action = "unknown"
    existing: Existing | None = None
    estimate: Estimate | None = None
    unchecked: str | None = None  # why storage could not be looked at, when it could not
    estimate_error: str | None = None  # why --estimate could not ask the source, secrets redacted
    #: --from/--to/--full-refresh/--allow-empty as given; apply resolves the window from it
    request: WindowRequest = field(default_factory=WindowRequest)
    #: the cursor window the run would extract (incremental sources, storage looked at)
    window: Window | None = None
    #: why the run would be refused (an ambiguous backfill), when it would
    window_error: str | None = None
    #: every environment variable the pipeline reads (names and whether set; no values)
    env: tuple[EnvVar, ...] = ()
    #: what would make the run fail at once, seen from the IR (a glob matching nothing)
    warnings: tuple[Diagnostic, ...] = ()
    #: where the start cursor comes from (incremental sources); None: no cursor
    cursor: CursorOrigin | None = None

    @property
    def name(self) -> str:
        return self.pipeline.name

    @property
    def marker(self) -> str:
        return MARKERS[self.action]

    def missing_env(self) -> list[str]:
        """Variables the run needs that are not set (or empty)."""
        return [v.name for v in self.env if v.missing]

    def blocked(self) -> bool:
        """Whether apply would fail at once as things stand (a variable, a warning)."""
        return bool(self.missing_env() or self.warnings)


@dataclass(frozen=True)
class Plan:
    run_date: dt.date
    run_at: dt.datetime
    offline: bool
    pipelines: tuple[PipelinePlan, ...]
    estimated: bool = False  # --estimate: sources were asked what they can say ahead of time

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "replace": 0, "unknown": 0}
        for p in self.pipelines:
            out[p.action] += 1
        return out

    def writes_anything(self) -> bool:
        return bool(self.pipelines)

    def refused(self) -> list[PipelinePlan]:
        """Pipelines whose run would be refused (an ambiguous backfill)."""
        return [p for p in self.pipelines if p.window_error]

    def blocked(self) -> list[PipelinePlan]:
        """Pipelines whose run would fail at once: an unset variable, a warning."""
        return [p for p in self.pipelines if p.blocked()]

    def summary_line(self) -> str:
        n = len(self.pipelines)
        counts = self.counts()
        parts = [
            f"{counts[k]} {label}"
            for k, label in (
                ("create", "to create"),
                ("replace", "to replace"),
                ("unknown", "to write (storage not checked)"),
            )
            if counts[k]
        ]
        head = f"{n} pipeline{'s' if n != 1 else ''}"
        line = f"{head}: {', '.join(parts)}" if parts else f"{head}: nothing to do"
        blocked = len(self.blocked())
        if blocked:
            line += f"; {blocked} cannot run yet (see env and warning)"
        return line


def describe_source(source: ir.Source) -> str:
    """The source in one line; secrets appear as ``env("NAME")``, never as values."""
    from foundry_dsl.sources.registry import extractor_class

    return extractor_class(source.kind).describe(source)


def estimate_json(e: Estimate | None) -> dict[str, Any] | None:
    if e is None:
        return None
    ranges = None
    if e.ranges is not None:
        ranges = [{"part": i, "low": low, "high": high} for i, (low, high) in enumerate(e.ranges)]
    return {"rows": e.rows, "bytes": e.bytes, "detail": e.detail, "ranges": ranges}


def describe_ranges(ranges: tuple[tuple[str | None, str | None], ...]) -> str:
    """``[.., 34), [34, 67), [67, ..]``: half-open ranges, ``..`` for an open end."""
    if len(ranges) > 1 and all(b is None for span in ranges for b in span):
        return "none: the column has no values, every row goes to part 0"
    spans = []
    for low, high in ranges:
        spans.append(f"[{'..' if low is None else low}, " + ("..]" if high is None else f"{high})"))
    return ", ".join(spans)
