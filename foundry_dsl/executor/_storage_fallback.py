"""Runtime layer, interim: a minimal state store.

Used only while ``foundry_dsl.state`` (the storage layer's state store) is not
in the tree; ``storage_api`` picks the real one as soon as it exists. Same
signatures: cursors live beside the data, under ``_state/<system>/<table>.json``,
each written whole (``write_bytes`` replaces atomically).
"""

from __future__ import annotations

import json
from typing import Any

from foundry_dsl.storage.base import StorageBackend


class StateStore:
    def __init__(self, backend: StorageBackend) -> None:
        self.backend = backend

    def _path(self, system: str, table: str) -> str:
        return f"_state/{system}/{table}.json"

    def get(self, system: str, table: str) -> dict[str, Any] | None:
        data = self.backend.read_bytes(self._path(system, table))
        return json.loads(data) if data else None

    def set_cursor(self, system: str, table: str, cursor: str, **figures: Any) -> None:
        doc = {"cursor": cursor, **figures}
        self.backend.write_bytes(self._path(system, table), json.dumps(doc, sort_keys=True).encode())

    def reset(self, system: str, table: str) -> None:
        self.backend.delete_file(self._path(system, table))
