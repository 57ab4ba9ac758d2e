"""Planner and runtime: which slice of an incremental source a run extracts.

A committed partition records its *window* in ``_metadata.json``: the cursor
the run started after (``start``, exclusive) and the last cursor it holds
(``end``, inclusive). The state store keeps the high-water cursor and the
partition that reached it. From those two facts and what the user asked for,
:func:`resolve` decides the window of the next run of a partition:

=====================================  ===========================================
the partition                          the window
=====================================  ===========================================
never committed, newer than the        ``(high-water, open)``: what is new
newest commit (or no commit yet)
committed, and the newest              ``(its start, open)``: its rows again and
                                       whatever arrived since
committed, any other                   ``(its start, its end]``: exactly its rows
never committed, older than the        refused: a backfill needs ``--from``/``--to``
newest commit                          or ``--full-refresh``
=====================================  ===========================================

So a rerun never loses the rows it replaces and never takes rows that a later
partition already holds. ``plan`` shows the window with the same function that
``apply`` runs under the partition's lease, so the two cannot disagree.
Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from foundry_dsl.cursors import past
from foundry_dsl.errors import PlanError

Kind = Literal["new", "extend", "replay", "explicit", "full-refresh"]

#: partition levels whose values do not order in time: every such partition is new
_UNORDERED = ("batch_id",)


@dataclass(frozen=True)
class WindowRequest:
    """What the user asked for on the command line (``--from``/``--to``/...)."""

    start: str | None = None  # --from: exclusive
    end: str | None = None  # --to: inclusive
    full_refresh: bool = False
    allow_empty: bool = False

    def check(self) -> WindowRequest:
        if self.full_refresh and self.start is not None:
            raise PlanError("--full-refresh reads from the initial cursor; it takes no --from")
        if self.end is not None and self.start is None and not self.full_refresh:
            raise PlanError(
                "--to needs --from (or --full-refresh): a window has two ends, "
                "e.g. --from 2025-03-01T00:00:00Z --to 2025-03-02T00:00:00Z"
            )
        if self.start is not None and self.end is not None and past(self.start, self.end):
            raise PlanError(f"--from {self.start!r} is after --to {self.end!r}")
        return self

    @property
    def explicit(self) -> bool:
        return self.full_refresh or self.start is not None


@dataclass(frozen=True)
class Window:
    """The cursors a run extracts between: ``(start, end]``; None = initial / open."""

    start: str | None
    end: str | None
    kind: Kind
    #: a replay of a partition that holds no rows from the very beginning: there is
    #: no bound that selects nothing, so the run keeps the partition as it is
    empty: bool = False

    def describe(self) -> str:
        if self.empty:
            return "nothing: the partition holds no rows and later partitions hold the rest"
        low = "initial" if self.start is None else self.start
        high = "..]" if self.end is None else f"{self.end}]"
        why = {
            "new": "rows after the newest commit",
            "extend": "its committed rows again, and what arrived since",
            "replay": "exactly its committed rows",
            "explicit": "the window given on the command line",
            "full-refresh": "everything, from the initial cursor (--full-refresh)",
        }[self.kind]
        return f"({low}, {high}: {why}"

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "kind": self.kind}


class BackfillError(PlanError):
    """A run whose window would be a guess: the user must say which rows it holds."""


def committed_window(meta: dict[str, Any] | None) -> tuple[str | None, str | None] | None:
    """The ``(start, end)`` a committed ``_metadata.json`` records; None when it has none."""
    window = meta.get("window") if meta else None
    if not isinstance(window, dict) or "start" not in window or "end" not in window:
        return None
    start, end = window["start"], window["end"]
    return (None if start is None else str(start), None if end is None else str(end))


def resolve(
    *,
    pipeline: str,
    partition: str,
    state: dict[str, Any] | None,
    committed: dict[str, Any] | None,
    request: WindowRequest,
    env_cursor: str | None = None,
) -> Window:
    """The window a run of ``partition`` extracts (see the module's table).

    ``state`` is the state store's entry (after pending commits are settled),
    ``committed`` the partition's ``_metadata.json`` (None when never
    committed), ``env_cursor`` the spec's cursor variable when it is set: it
    counts as an explicit ``--from``. Raises :class:`BackfillError` when the
    window would be ambiguous.
    """
    if request.full_refresh:
        return Window(None, request.end, "full-refresh")
    if request.start is not None:
        return Window(request.start, request.end, "explicit")
    if env_cursor is not None:
        return Window(env_cursor, None, "explicit")
    high = _cursor(state)
    newest = state.get("partition") if state else None
    if committed is not None:
        window = committed_window(committed)
        if window is None:
            if high is None:
                return Window(None, None, "new")  # nothing incremental was ever stored
            raise BackfillError(
                f"pipeline {pipeline}: partition {partition} was committed without a cursor "
                "window (by an older foundry or the original tool), so a rerun cannot tell "
                "which rows it holds; give them: --from CURSOR [--to CURSOR], or --full-refresh"
            )
        start, end = window
        if newest == partition:
            return Window(start, None, "extend")
        # an older partition, or one the state no longer knows (reset, set by hand): its
        # own rows and no more, which can never take rows another partition holds
        if end is None:
            # it committed no rows: its window is empty, (start, start]
            return Window(start, start, "replay", empty=start is None)
        return Window(start, end, "replay")
    if high is None:
        return Window(None, None, "new")
    if isinstance(newest, str) and _older(partition, newest):
        raise BackfillError(
            f"pipeline {pipeline}: partition {partition} has no commit and is older than "
            f"the newest commit ({newest}, cursor {high}); a run now would land rows that "
            "belong to later dates. This is a backfill: say which rows it holds with "
            "--from CURSOR [--to CURSOR], or reload everything with --full-refresh"
        )
    return Window(high, None, "new")


def _cursor(state: dict[str, Any] | None) -> str | None:
    value = state.get("cursor") if state else None
    return None if value is None else str(value)


def _levels(path: str) -> list[tuple[str, str]]:
    out = []
    for seg in path.strip("/").split("/"):
        key, _, value = seg.partition("=")
        out.append((key, value))
    return out


def _older(partition: str, newest: str) -> bool:
    """Whether ``partition`` comes before ``newest`` in time (same table, same layout)."""
    a, b = _levels(partition), _levels(newest)
    if [k for k, _ in a] != [k for k, _ in b] or any(k in _UNORDERED for k, _ in a):
        return False  # another layout or an id: no order to go by
    # dt=YYYY-MM-DD, hour=HH and batch=YYYYMMDD_HHMM sort as text in time order
    return [v for _, v in a] < [v for _, v in b]
