"""Runtime layer: progress as values, so it can cross a process boundary.

:class:`~foundry_dsl.executor.base.Progress` is called in the driver's process.
Work that runs elsewhere (another process, a cluster's worker) records what it
would have reported as plain, picklable events with a :class:`Recorder`; the
driver hands them to its own progress with :func:`replay`, in the order they
happened. Events carry names, counts and file names only, never a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from foundry_dsl.executor.base import PipelineResult, Progress


@dataclass(frozen=True)
class Started:
    name: str
    partition: str


@dataclass(frozen=True)
class Extracted:
    name: str
    rows: int


@dataclass(frozen=True)
class Wrote:
    name: str
    file: str
    rows: int
    nbytes: int


@dataclass(frozen=True)
class Finished:
    result: PipelineResult


Event = Started | Extracted | Wrote | Finished


class Recorder:
    """A Progress that keeps every event, to be sent on and replayed."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def started(self, name: str, partition: str) -> None:
        self.events.append(Started(name, partition))

    def extracted(self, name: str, rows: int) -> None:
        self.events.append(Extracted(name, rows))

    def wrote(self, name: str, file: str, rows: int, nbytes: int) -> None:
        self.events.append(Wrote(name, file, rows, nbytes))

    def finished(self, result: PipelineResult) -> None:
        self.events.append(Finished(result))

    def drain(self) -> list[Event]:
        """The events so far, forgotten here (each is sent once)."""
        events, self.events = self.events, []
        return events


def replay(events: Iterable[Event], progress: Progress) -> None:
    """Report recorded events to ``progress``, in order."""
    for e in events:
        if isinstance(e, Started):
            progress.started(e.name, e.partition)
        elif isinstance(e, Extracted):
            progress.extracted(e.name, e.rows)
        elif isinstance(e, Wrote):
            progress.wrote(e.name, e.file, e.rows, e.nbytes)
        else:
            progress.finished(e.result)
