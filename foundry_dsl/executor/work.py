"""Runtime layer: a unit of work and the manifest it hands back to the driver.

The driver (:mod:`foundry_dsl.executor.run`) owns a run's lifecycle: the lease,
recovery, the window, the commit and the cursor. Between ``prepare`` and the
commit it hands out :class:`Work`: some extract parts of the run, to be
extracted, chunked, written and uploaded to the run's staging. Each unit hands
back a :class:`Manifest`. Both are plain, picklable values carrying the plan
itself (not a reference to it), so a unit can run in a thread here or in
another process on another machine: the local executor lands all parts in one
unit, so that parts share files; a distributed executor lands one part per unit
and merges the manifests before it commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl.planner.plan import PipelinePlan
    from foundry_dsl.sources.base import ExtractContext
    from foundry_dsl.write.writers import FileInfo


@dataclass(frozen=True)
class Work:
    plan: PipelinePlan
    run_id: str  # the run's: the driver commits every unit's files as one
    parts: tuple[int, ...]
    context: ExtractContext  # the window and what ``prepare`` computed, for every part
    staging_dir: str  # local scratch of this attempt, never shared with another
    #: file names <stem>-0001.parquet: units landed apart name their files apart
    stem: str = "part"


@dataclass
class Manifest:
    """What a unit landed: its files staged in storage (named as written; the
    commit names them anew, ``part-0001-<tag>.parquet``), rows, schema, cursors."""

    parts: tuple[int, ...]
    files: tuple[FileInfo, ...] = ()
    rows: int = 0
    #: the schema every file of this unit was written with (None: no batch came)
    schema: pa.Schema | None = None
    #: integer columns holding values past 2**53: merged with floats they become text
    big_ints: tuple[str, ...] = ()
    cursors: dict[int, str | None] = field(default_factory=dict)  # per part, when it gave one
    report: dict[str, Any] = field(default_factory=dict)  # the source's figures for metadata
    #: (name as written, name in the partition, bytes) of each file staged in storage,
    #: for the driver's committer to adopt (units landed in another process)
    staged: tuple[tuple[str, str, int], ...] = ()
