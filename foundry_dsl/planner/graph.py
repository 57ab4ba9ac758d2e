"""Planner layer: the task graph, a small deterministic DAG of plain task values.

The planner builds one :class:`TaskGraph` per pipeline; ``foundry plan`` and
``foundry graph`` render it and the executor runs it. Tasks are frozen
dataclasses holding only picklable values (ids, kinds, parameters), never
connections or file handles, so any task can be shipped to another process.

The shape is always::

    extract[0..n-1] -> chunk[*] -> write[<format>]... -> upload -> commit

``chunk[*]`` is a dynamic fan-out: how many chunks (files) a run makes is
known only while it runs, so the graph shows it as one task marked ``dynamic``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from foundry_dsl.errors import PlanError

TaskKind = Literal["extract", "chunk", "write", "upload", "commit"]


@dataclass(frozen=True)
class Task:
    """One step of a pipeline run, as a value."""

    id: str
    kind: TaskKind
    deps: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    dynamic: bool = False  # expands at run time into one instance per chunk

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "deps": list(self.deps),
            "dynamic": self.dynamic,
            "params": dict(sorted(self.params.items())),
        }


class TaskGraph:
    """Tasks by id, checked for unknown dependencies and cycles on construction."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self.tasks: dict[str, Task] = {}
        for t in tasks:
            if t.id in self.tasks:
                raise PlanError(f"task graph: duplicate task id {t.id!r}")
            self.tasks[t.id] = t
        for t in self.tasks.values():
            for d in t.deps:
                if d not in self.tasks:
                    raise PlanError(f"task graph: {t.id!r} depends on unknown task {d!r}")
        self._order = self._sorted()

    def __iter__(self) -> Iterator[Task]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, task_id: str) -> Task:
        return self.tasks[task_id]

    def of_kind(self, kind: TaskKind) -> list[Task]:
        return [t for t in self._order if t.kind == kind]

    def edges(self) -> list[tuple[str, str]]:
        """``(dependency, task)`` pairs in a stable order."""
        return [(d, t.id) for t in self._order for d in sorted(t.deps)]

    def _sorted(self) -> list[Task]:
        """Kahn's algorithm; ties broken by id so the order never depends on insertion."""
        remaining = {tid: set(t.deps) for tid, t in self.tasks.items()}
        order: list[Task] = []
        while remaining:
            ready = sorted(tid for tid, deps in remaining.items() if not deps)
            if not ready:
                raise PlanError(f"task graph has a cycle: {' -> '.join(self._cycle(remaining))}")
            for tid in ready:
                order.append(self.tasks[tid])
                del remaining[tid]
            for deps in remaining.values():
                deps.difference_update(ready)
        return order

    @staticmethod
    def _cycle(remaining: dict[str, set[str]]) -> list[str]:
        # every remaining task has a remaining dependency, so walking deps must loop
        start = min(remaining)
        path = [start]
        seen = {start: 0}
        node = start
        while True:
            node = min(remaining[node])
            if node in seen:
                # walked against the arrows (task -> its dependency): print in flow order
                return [*path[seen[node]:], node][::-1]
            seen[node] = len(path)
            path.append(node)
