"""Planner layer: the Bronze partition layout, as pure functions.

Takes a pipeline's platform settings and the run inputs (date, time, batch id)
and hands the planner the partition path a run writes, relative to the storage
root, exactly as the original tool lays it out::

    system=<s>/table=<t>/dt=YYYY-MM-DD/                  date
    system=<s>/table=<t>/dt=YYYY-MM-DD/hour=HH/          hourly
    system=<s>/table=<t>/dt=YYYY-MM-DD/batch=YYYYMMDD_HHMM/   timestamp
    system=<s>/table=<t>/dt=YYYY-MM-DD/batch_id=<id>/    batch_id
    system=<s>/table=<t>/                                none (foundry's addition)

``use_dt_partition = false`` drops the ``dt=`` level. Every value that becomes a
folder name is checked here, so nothing a user writes can escape its folder.
Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from foundry_dsl.errors import PlanError

METADATA_FILE = "_metadata.json"
EXTENSIONS = {"parquet": "parquet", "csv": "csv"}


@dataclass(frozen=True)
class RunInputs:
    """What a run is for: the logical date, the time of the run, and its batch id."""

    run_date: dt.date
    run_at: dt.datetime  # timezone-aware, UTC
    batch_id: str | None = None  # --batch-id; None = the pipeline's or a derived one


def check_value(label: str, value: str, pipeline: str = "") -> str:
    """``value`` unchanged, or PlanError when it could not be a single safe folder name."""
    where = f"pipeline {pipeline}: " if pipeline else ""
    problem = None
    if value == "":
        problem = "is empty"
    elif value in (".", ".."):
        problem = f"is '{value}'"
    elif ".." in value:
        problem = "contains '..'"
    elif "/" in value or "\\" in value:
        problem = "contains a path separator"
    elif "=" in value:
        problem = "contains '=' (it would read as another partition level)"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        problem = "contains a control character"
    if problem:
        raise PlanError(
            f"{where}the {label} {value!r} {problem}; it becomes a folder name in the "
            f"partition path, so use letters, digits, '_', '-' and '.' only"
        )
    return value


def default_batch_id(run_at: dt.datetime) -> str:
    """The batch id when none is given: ``YYYYMMDD_HHMMSS`` of the run time (UTC)."""
    return _utc(run_at).strftime("%Y%m%d_%H%M%S")


def batch_id_for(run_option: str | None, inputs: RunInputs) -> str:
    """--batch-id wins over the pipeline's ``run.batch_id``, which wins over the derived one."""
    return inputs.batch_id or run_option or default_batch_id(inputs.run_at)


def partition_levels(
    *,
    system: str,
    table: str,
    strategy: str,
    use_dt: bool,
    inputs: RunInputs,
    batch_id: str,
    pipeline: str = "",
) -> list[tuple[str, str]]:
    """The ``(key, value)`` levels of the partition, outermost first, each value checked."""
    at = _utc(inputs.run_at)
    levels = [("system", system), ("table", table)]
    if strategy != "none" and use_dt:
        levels.append(("dt", inputs.run_date.isoformat()))
    if strategy == "hourly":
        levels.append(("hour", f"{at.hour:02d}"))
    elif strategy == "timestamp":
        levels.append(("batch", at.strftime("%Y%m%d_%H%M")))
    elif strategy == "batch_id":
        levels.append(("batch_id", batch_id))
    elif strategy not in ("date", "none"):
        raise PlanError(f"pipeline {pipeline}: unknown partition strategy {strategy!r}")
    for key, value in levels:
        check_value(key.replace("_", " "), value, pipeline)
    return levels


def partition_path(levels: list[tuple[str, str]]) -> str:
    """``system=a/table=b/dt=2025-01-12/``: relative, ``/``-separated, ending in ``/``."""
    return "".join(f"{k}={v}/" for k, v in levels)


def committed_name(index: int, fmt: str) -> str:
    """How a committed file is named, for plans: each commit tags its files
    (``part-0001-<tag>.parquet``, 8 hex digits) so two commits never share a name."""
    return file_name(index, fmt).replace(".", "-<tag>.", 1)


def file_name(index: int, fmt: str, stem: str = "part") -> str:
    """``part-0001.parquet`` for the first file (1-based, at least four digits); units
    of work landed elsewhere name theirs apart with their own ``stem``."""
    return f"{stem}-{index:04d}.{EXTENSIONS[fmt]}"


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)
