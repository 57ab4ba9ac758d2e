"""The one streaming interface every source implements.

An extractor reads its :class:`~foundry_dsl.ir.Source` and yields batches: Arrow
record batches or tables, or lists of dicts (the original tool's records).
Its last item may be a :class:`NewCursor`, the cursor to store once the run is
committed. Extractors never write anything and never hold a whole extraction
in memory: the executor pulls batches at its own pace (backpressure).

A source that can be read in parallel (a range-partitioned query) says so with
:meth:`Extractor.parts`; the executor then runs one extract task per part.
Extract tasks are described by picklable values (the IR plus a part number),
so an extractor is constructed inside whatever process runs the task.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundry_dsl.errors import Diagnostic
from foundry_dsl.write.batch import Batch

if TYPE_CHECKING:
    from foundry_dsl import ir

__all__ = ["Batch", "Estimate", "ExtractContext", "Extractor", "NewCursor"]


@dataclass(frozen=True)
class NewCursor:
    """Yielded last: the cursor to store after commit (None keeps the old one)."""

    value: str | None


@dataclass(frozen=True)
class Estimate:
    """What a source can say ahead of time, for `foundry plan`."""

    rows: int | None = None
    bytes: int | None = None
    detail: str = ""  # e.g. "3 files"
    #: each extract part's [low, high) as cursor text, None for an open end (the
    #: first part also takes NULLs); None when the source has no ranges to show
    ranges: tuple[tuple[str | None, str | None], ...] | None = None


@dataclass(frozen=True)
class ExtractContext:
    """Everything an extractor may know about the run. Picklable."""

    pipeline: ir.Pipeline
    run_date: dt.date
    run_at: dt.datetime
    base_dir: Path  # folder of the pipeline file: relative paths and modules resolve here
    cursor: str | None = None  # the window's start (exclusive): stored, replayed or given
    #: the window's end (inclusive), None = open. Set when a run replays a committed
    #: partition that later partitions follow: a row past it belongs to a later
    #: partition, so an extractor must not yield it (the executor fails a run whose
    #: cursor goes past it, rather than land such rows twice)
    until: str | None = None
    batch_id: str = ""
    prepared: Any = None  # what Extractor.prepare returned for this run
    #: the current directory where the plan was made: a custom source's module is
    #: looked for there after base_dir (the original tool's layout); None: not searched
    work_dir: Path | None = None


class Extractor(ABC):
    """Base of foundry's extractors."""

    # --- what a plan knows from the IR alone: no connection, no user code --------------

    @classmethod
    def describe(cls, source: Any) -> str:
        """The source in one line of a plan; secrets as ``env("NAME")``, never values."""
        return str(source.kind)

    @classmethod
    def planned_parts(cls, source: Any) -> int | None:
        """Parallel extract streams, or None when only the run can tell (user code)."""
        return 1

    @classmethod
    def keeps_cursor(cls, source: Any) -> bool | None:
        """Whether runs extract a cursor window; None when only the run can tell."""
        return False

    @classmethod
    def cursor_env(cls, source: Any) -> str | None:
        """The spec's environment variable that overrides the stored cursor, if any."""
        return None

    @classmethod
    def estimates_offline(cls, source: Any) -> bool:
        """Whether :meth:`estimate` works without contacting anything or importing user code."""
        return False

    @classmethod
    def preflight(
        cls, source: Any, base_dir: Path, work_dir: Path | None = None
    ) -> list[Diagnostic]:
        """What would make a run fail at once, found without contacting the source or
        running user code (``plan`` shows them as warnings): a glob that matches
        nothing, a custom module that is not there. Positioned at the setting; an
        ``error`` severity means ``validate`` refuses the file too. ``base_dir`` and
        ``work_dir`` as in :class:`ExtractContext`."""
        return []

    # --- the run --------------------------------------------------------------------------

    @classmethod
    def before_runs(cls, sources: Sequence[Any]) -> Callable[[], None] | None:
        """Called once before a local run starts its pipelines, with the run's sources of
        this kind, while the process may still have no thread but its main one: the API
        forks its page workers' helper here. Returns what ends what it started once every
        pipeline has finished, or ``None``."""
        return None

    def __init__(self, source: Any) -> None:
        self.source = source
        #: figures the source reports for ``_metadata.json`` (under "source"), e.g. how
        #: many rows had a NULL incremental key; complete once extraction has finished
        self.report: dict[str, Any] = {}

    def prepare(self, ctx: ExtractContext) -> Any:
        """Called once per run before any part starts, where the run is coordinated.

        The (picklable) result reaches every part as ``ctx.prepared``: a
        range-partitioned query computes its ranges here, so that parts running
        in other processes agree on them.
        """
        return None

    def parts(self, ctx: ExtractContext) -> int:
        """How many independent streams this extraction splits into."""
        return 1

    @abstractmethod
    def extract(self, ctx: ExtractContext, part: int = 0) -> Iterator[Batch | NewCursor]:
        """Yield batches of part ``part``, then optionally a NewCursor."""

    def estimate(self, ctx: ExtractContext) -> Estimate | None:
        """Size known without reading the data (never contacts a remote source)."""
        return None

    def estimate_live(self, ctx: ExtractContext) -> Estimate | None:
        """What contacting the source adds to :meth:`estimate` (``plan --estimate``).

        May connect, but only to ask cheap questions (a query's MIN/MAX), never to
        read the data. None: nothing more to say than :meth:`estimate`. Raises a
        FoundryError when the source cannot be asked; ``plan`` shows why and goes on.
        """
        return None

    def merge_cursors(self, cursors: Sequence[str | None]) -> str | None:
        """The run's cursor from the cursors of its parts, compared by type.

        As text, part cursors "599999" and "2399999" would merge to "599999".
        """
        from foundry_dsl.cursors import greatest

        return greatest(cursors)

    def secrets(self) -> list[str]:
        """Resolved secret values, so logs and errors can redact them."""
        return []
