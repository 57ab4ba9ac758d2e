"""Runtime: the cursor state store, kept beside the data it describes.

Incremental sources resume from a cursor. It lives under the storage root, at
``_state/system=<s>/table=<t>.json`` (the leading ``_`` keeps Hive readers out),
so the data and the cursor that produced it travel together, whatever backend
holds them. Each entry is one small JSON object written whole with
``write_bytes`` (atomic on every backend): readers see the old cursor or the new
one, never half of either. The executor moves a cursor only after the commit
of the data it covers, so a crash repeats work rather than losing it. A run
replaces its partition whole, so each entry also keeps the partition its run
committed and the cursor that run started from: :func:`resume_cursor` has a
run that lands the same partition again start there too.

What it hands on: ``get`` → ``{"cursor": str | None, "updated_at": iso,
"batch_id": ..., "rows": int, ...}``; never per-row data.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

from foundry_dsl import ir
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
            where = f"{self.backend.root_url}/{self.path(system, table)}"
            raise StorageError(
                f"pipeline {system}.{table}: the cursor state at {where} is not valid JSON; "
                f"run `foundry state reset {system}.{table}` to start from the initial cursor"
            )
        return value

    def set_cursor(self, system: str, table: str, cursor: str | None, **figures: Any) -> None:
        """Store ``cursor`` with run figures (``batch_id``, ``rows``, ...); replaces the entry."""
        entry: dict[str, Any] = {k: v for k, v in figures.items() if k != "cursor"}
        entry["cursor"] = cursor
        entry.setdefault("updated_at", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        data = json.dumps(entry, indent=2, sort_keys=True, default=str).encode()
        self.backend.write_bytes(self.path(system, table), data)

    def reset(self, system: str, table: str) -> None:
        """Forget the cursor: the next run starts from the configured initial cursor."""
        self.backend.delete_file(self.path(system, table))


def resume_cursor(state: dict[str, Any] | None, partition: str) -> str | None:
    """The cursor a run that lands ``partition`` starts from, given the stored ``state``.

    The stored cursor, except when the run that stored it committed this same
    partition: the new run replaces that commit whole, so it starts where that
    run started (``start_cursor``); otherwise the rows that run landed would
    leave the partition while the cursor stays past them.
    """
    if not state:
        return None
    if state.get("partition") == partition and "start_cursor" in state:
        value = state["start_cursor"]
    else:
        value = state.get("cursor")
    return None if value is None else str(value)


def cursor_env_name(source: ir.Source) -> str | None:
    """The spec's cursor env variable of an incremental source, if it names one."""
    if isinstance(source, ir.DbSource):
        return source.cursor_env
    if isinstance(source, ir.ApiSource) and source.incremental:
        return source.incremental.cursor_env
    return None


def start_cursor(pipeline: ir.Pipeline, partition: str, store: StateStore | None) -> str | None:
    """The cursor a run starts from: the cursor env variable when set, else the stored
    one (see :func:`resume_cursor`); None without a store (an offline plan)."""
    env = cursor_env_name(pipeline.source)
    if env and os.environ.get(env):
        return os.environ[env]
    if store is None:
        return None
    return resume_cursor(store.get(pipeline.system, pipeline.table), partition)
