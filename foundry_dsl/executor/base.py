"""Runtime layer: the executor interface and what a run hands back.

An executor takes the :class:`~foundry_dsl.planner.plan.Plan` that ``foundry plan``
renders, runs every pipeline's task graph, and hands on one
:class:`PipelineResult` per pipeline. A failed pipeline never stops the
others. The local thread executor (``local.py``) is the first implementation;
because tasks are plain values (``jobs.py``), a distributed one can follow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal, Protocol

from foundry_dsl.planner.plan import Plan

Status = Literal["succeeded", "failed"]


@dataclass(frozen=True)
class PipelineResult:
    name: str
    status: Status
    rows: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    partition: str = ""  # the partition URL it committed (or would have)
    error: str | None = None  # rendered, secrets redacted
    task: str | None = None  # the task that failed
    cursor: str | None = None
    note: str | None = None  # why a run that succeeded changed nothing


@dataclass(frozen=True)
class RunResult:
    results: tuple[PipelineResult, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(r.status == "succeeded" for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


class Progress(Protocol):
    """What an executor reports while it runs; ``logs.py`` shows it."""

    def started(self, name: str, partition: str) -> None: ...

    def extracted(self, name: str, rows: int) -> None: ...

    def wrote(self, name: str, file: str, rows: int, nbytes: int) -> None: ...

    def finished(self, result: PipelineResult) -> None: ...


class SilentProgress:
    def started(self, name: str, partition: str) -> None:
        pass

    def extracted(self, name: str, rows: int) -> None:
        pass

    def wrote(self, name: str, file: str, rows: int, nbytes: int) -> None:
        pass

    def finished(self, result: PipelineResult) -> None:
        pass


class Executor(ABC):
    @abstractmethod
    def execute(self, plan: Plan, progress: Progress | None = None) -> RunResult:
        """Run every pipeline of ``plan``; one result per pipeline, in plan order."""
