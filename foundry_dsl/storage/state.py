"""Runtime: the cursor state store, kept beside the data it describes.

Incremental sources resume from a cursor. It lives under the storage root, at
``_state/system=<s>/table=<t>.json`` (the leading ``_`` keeps Hive readers out),
so the data and the cursor that produced it travel together, whatever backend
holds them. Each entry is one small JSON object written whole with
``write_bytes`` (atomic on every backend): readers see the old cursor or the new
one, never half of either. The cursor is derived from the commits: each
committed ``_metadata.json`` records the window of cursors it holds, and a run
records its intent here before it commits (see the ledger below), so a crash
between the commit and the state write is settled by the next run from the
commit itself. Which window a run extracts is :mod:`foundry_dsl.planner.windows`.

What it hands on: ``get`` → ``{"cursor": str | None, "partition": the partition
that reached it, "updated_at": iso, "pending": {...} while a commit is under
way, ...}``; never per-row data.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from foundry_dsl.errors import StorageError
from foundry_dsl.ir import NAME_RE
from foundry_dsl.storage.base import StorageBackend

STATE_DIR = "_state"


class StateStore:
    """Cursors per (system, table) in ``<root>/_state/``."""

    def __init__(self, backend: StorageBackend) -> None:
        self.backend = backend

    def path(self, system: str, table: str) -> str:
        for kind, value in (("system", system), ("table", table)):
            if not NAME_RE.match(value):
                raise StorageError(f"invalid {kind} name '{value}' for the state store")
        return f"{STATE_DIR}/system={system}/table={table}.json"

    def get(self, system: str, table: str) -> dict[str, Any] | None:
        """The stored state, or None when the pipeline never stored a cursor."""
        raw = self.backend.read_bytes(self.path(system, table))
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise StorageError(
                f"pipeline {system}.{table}: the cursor state at {self.url(system, table)} is "
                f"not valid JSON; run `foundry state reset {system}.{table}` to start from the "
                "initial cursor"
            )
        problem = _shape_problem(value)
        if problem:
            # the cursor fills a request parameter or a query's bound: a number or a list
            # stringified there would extract the wrong rows without a word
            raise StorageError(
                f"pipeline {system}.{table}: the cursor state at {self.url(system, table)} "
                f"{problem}; write that value as a JSON string, in quotes (\"42\", not 42), "
                f"or run `foundry state reset {system}.{table} -f FILE` to start from the "
                "initial cursor",
                transient=False,
            )
        return value

    def url(self, system: str, table: str) -> str:
        """Where the entry is, as the user opens it: a path on local disk, else a URL."""
        return f"{self.backend.root_url.rstrip('/')}/{self.path(system, table)}"

    def set_cursor(self, system: str, table: str, cursor: str | None, **figures: Any) -> None:
        """Store ``cursor`` with run figures (``batch_id``, ``rows``, ...); replaces the entry."""
        entry: dict[str, Any] = {k: v for k, v in figures.items() if k != "cursor"}
        entry["cursor"] = cursor
        entry.setdefault("updated_at", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        data = json.dumps(entry, indent=2, sort_keys=True, default=str).encode()
        self.backend.write_bytes(self.path(system, table), data)

    def put(self, system: str, table: str, entry: dict[str, Any] | None) -> None:
        """Replace the whole entry (None: remove it), in one atomic write."""
        if entry is None:
            self.reset(system, table)
            return
        data = json.dumps(entry, indent=2, sort_keys=True, default=str).encode()
        self.backend.write_bytes(self.path(system, table), data)

    def reset(self, system: str, table: str) -> None:
        """Forget the cursor: the next run starts from the configured initial cursor."""
        self.backend.delete_file(self.path(system, table))


#: the entry's fields that are read back, and what each must hold: the cursor may be
#: null (no cursor yet); partitions and run ids are always strings
_STRINGS = {"cursor": True, "partition": False, "run_id": False}
_PENDING = {"run_id": False, "partition": False, "cursor": True}


def _shape_problem(entry: dict[str, Any]) -> str | None:
    """What is wrong with a state entry's fields that runs read; None when nothing is."""
    for field, nullable in _STRINGS.items():
        if field in entry and not _is_string(entry[field], nullable):
            return f"holds {field} = {_shown(entry[field])}, where a string is expected"
    pending = entry.get("pending")
    if pending is not None:
        if not isinstance(pending, dict):
            return f"holds pending = {_shown(pending)}, where an object (or null) is expected"
        for field, nullable in _PENDING.items():
            if not _is_string(pending.get(field), nullable):
                return (f"holds pending.{field} = {_shown(pending.get(field))}, "
                        "where a string is expected")
    return None


def _is_string(value: Any, nullable: bool) -> bool:
    return isinstance(value, str) or (nullable and value is None)


def _shown(value: Any) -> str:
    """``value`` as JSON, with its type: ``42 (a number)``."""
    kind = ("null" if value is None else "a boolean" if isinstance(value, bool)
            else "a number" if isinstance(value, (int, float))
            else "a list" if isinstance(value, list)
            else "an object" if isinstance(value, dict) else type(value).__name__)
    text = json.dumps(value, default=str)
    if len(text) > 60:
        text = text[:57] + "..."
    return text if kind == "null" else f"{text} ({kind})"


# --- the ledger: the state follows the commits ------------------------------------------
#
# A run that moves the cursor writes, in this order:
#   1. state["pending"] = {run_id, partition, cursor}    (before the commit)
#   2. the partition's _metadata.json                     (the commit itself)
#   3. state: cursor moved, pending dropped              (after the commit)
# A crash between 2 and 3 leaves a pending entry whose run_id is the committed
# partition's: settle() finishes step 3 before the next run reads the cursor. A crash
# before 2 leaves a pending entry no commit matches: settle() drops it. So the cursor
# never stays behind committed data (doubling rows) and never runs ahead of it (losing
# them). Every step runs under the pipeline's lease, so no other run interleaves.


def with_pending(state: dict[str, Any] | None, *, run_id: str, partition: str,
                 cursor: str | None) -> dict[str, Any]:
    """``state`` with this run's intent recorded (step 1)."""
    out = dict(state or {})
    out["pending"] = {"run_id": run_id, "partition": partition, "cursor": cursor}
    return out


def committed(state: dict[str, Any] | None, *, run_id: str, partition: str,
              cursor: str | None, **figures: Any) -> dict[str, Any]:
    """``state`` after a commit of ``partition`` whose rows reach ``cursor`` (step 3).

    The high-water cursor moves only forward: a replayed older partition leaves it
    (and the partition that reached it) as they are.
    """
    from foundry_dsl.cursors import past

    out = {k: v for k, v in (state or {}).items() if k not in ("pending", "start_cursor")}
    high = out.get("cursor")
    if cursor is not None and (high is None or past(cursor, str(high))):
        out.pop("settled_from_commit", None)  # said of the cursor this one replaces
        out.update(cursor=cursor, partition=partition, run_id=run_id, **figures)
    out["updated_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return out


def settle(state: dict[str, Any] | None, read_commit: Any) -> tuple[dict[str, Any] | None, bool]:
    """``state`` with an interrupted run's pending entry resolved; and whether it changed.

    ``read_commit(partition)`` returns that partition's committed ``_metadata.json``
    (or None). The pending run committed exactly when the metadata carries its run id.
    """
    pending = state.get("pending") if state else None
    if not isinstance(pending, dict):
        return state, False
    assert state is not None
    base = {k: v for k, v in state.items() if k != "pending"}
    meta = read_commit(str(pending.get("partition")))
    if meta is not None and meta.get("run_id") == pending.get("run_id"):
        cursor = pending.get("cursor")
        return committed(base, run_id=str(pending["run_id"]), partition=str(pending["partition"]),
                         cursor=None if cursor is None else str(cursor),
                         settled_from_commit=True), True
    return (base or None), True
