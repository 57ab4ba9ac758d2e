"""Runtime layer: what the executor, planner and ``state`` use of the storage layer.

The commit protocol is ``foundry_dsl.storage.commit``, with its recovery in
``.recover`` and the reading of what is committed in ``.layout``; partition
paths are handed to them without the trailing ``/`` that plans show. The state
store is ``foundry_dsl.storage.state``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from foundry_dsl.storage.base import StorageBackend

if TYPE_CHECKING:
    from foundry_dsl.storage.state import StateStore


class Committer(Protocol):
    """What the executor uses of ``PartitionCommitter``."""

    tag: str  # the attempt: units of work landed elsewhere join it

    def upload(self, local_path: str) -> str: ...

    def staged(self) -> list[tuple[str, str, int]]: ...

    def adopt(self, staged: list[tuple[str, str, int]]) -> None: ...

    def commit(self, metadata: dict[str, Any]) -> None: ...

    def abort(self) -> None: ...


def _commit_path(partition_path: str) -> str:
    return partition_path.rstrip("/")


def committer(
    backend: StorageBackend,
    partition_path: str,
    run_id: str,
    guard: Callable[[], None] | None = None,
    tag: str | None = None,
) -> Committer:
    """``tag``: join that attempt of the run (a unit of work landed in another process)."""
    from foundry_dsl.storage.commit import PartitionCommitter

    return PartitionCommitter(backend, _commit_path(partition_path), run_id, guard, tag)


def recover_table(
    backend: StorageBackend,
    table_prefix: str,
    claim: Callable[[str], contextlib.AbstractContextManager[bool]],
) -> list[str]:
    from foundry_dsl.storage.recover import recover_table as recover_all

    return recover_all(backend, _commit_path(table_prefix), claim)


def recover(backend: StorageBackend, partition_path: str) -> None:
    from foundry_dsl.storage.recover import recover as recover_partition

    recover_partition(backend, _commit_path(partition_path))


def committed_metadata(backend: StorageBackend, partition_path: str) -> dict[str, Any] | None:
    from foundry_dsl.storage.layout import committed_metadata as read

    return read(backend, _commit_path(partition_path))


def state_store(backend: StorageBackend) -> StateStore:
    from foundry_dsl.storage.state import StateStore

    return StateStore(backend)
