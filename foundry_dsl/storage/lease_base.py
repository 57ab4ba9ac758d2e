"""Storage layer: what every lease is, whichever way the backend holds it.

A *scope* is a relative path such as ``system=s/table=t`` or
``system=s/table=t/dt=2025-01-12``. A :class:`Lease` proves this run, and no
other, may write the scope until it is released; :class:`Holder` names the run
in every message; :class:`LeaseHeld` and :class:`LeaseLost` are the two ways a
run learns it may not write. Leases live in foundry's private area at the
storage root, which Hive readers skip because of the leading ``_``:
:func:`lease_path` says where. ``lease.py`` takes them; ``lease_local.py`` and
``lease_object.py`` are the two kinds.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from foundry_dsl.errors import StorageError

log = logging.getLogger("foundry.storage")

#: where leases live, relative to the backend root
LEASE_DIR = "_foundry/leases"
DEFAULT_TTL = 60.0

Clock = Callable[[], float]


@dataclass(frozen=True)
class Holder:
    """Who holds a lease. JSON-serialisable; every field appears in messages."""

    run_id: str
    host: str
    pid: int
    #: ISO 8601 UTC, whole seconds: ``2025-01-12T10:00:00Z``
    started_at: str
    #: ``system.table``
    pipeline: str

    @classmethod
    def for_run(cls, run_id: str, pipeline: str, *, started: float | None = None) -> Holder:
        """This process as a holder: its host name and pid, started now (or at ``started``)."""
        return cls(
            run_id=run_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=iso(time.time() if started is None else started, seconds=True),
            pipeline=pipeline,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Holder | None:
        """The holder in ``data``, or None when it is not one (a foreign or damaged file)."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                run_id=str(data["run_id"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                started_at=str(data["started_at"]),
                pipeline=str(data.get("pipeline", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def describe(self) -> str:
        what = f" ({self.pipeline})" if self.pipeline else ""
        return (f"run {self.run_id}{what} on host {self.host}, pid {self.pid}, "
                f"started at {self.started_at}")


class LeaseHeld(StorageError):
    """Another live run holds the scope. Not transient: retrying at once will not help."""

    def __init__(
        self,
        scope: str,
        holder: Holder | None,
        *,
        where: str,
        expires_at: str | None = None,
        note: str | None = None,
    ) -> None:
        self.scope = scope
        self.holder = holder
        self.where = where
        #: ISO 8601 UTC on object stores; None for local locks (they end with their process)
        self.expires_at = expires_at
        who = holder.describe() if holder else "another run (it has not recorded who it is yet)"
        if note is not None:
            until = note
        elif expires_at is not None:
            until = f"its lease ({where}) expires at {expires_at} unless that run renews it"
        else:
            until = f"the lock ({where}) is released when that process exits"
        super().__init__(
            f"{scope} is being written by {who}; {until}. Two runs must not write the same "
            f"partition at once: wait for that run to finish, then run again",
            transient=False,
        )


class LeaseLost(StorageError):
    """The lease stopped being this run's while it held it: taken over, or gone."""

    def __init__(self, scope: str, reason: str) -> None:
        self.scope = scope
        self.reason = reason
        super().__init__(
            f"lost the lease on {scope}: {reason}; this run stops writing so that it cannot "
            f"overwrite another run's data (run again once the scope is free)",
            transient=False,
        )


class Lease(ABC):
    """This run's hold on a scope; a context manager whose exit releases it."""

    holder: Holder
    scope: str
    #: where the lease lives, for messages: the lock file or the object's URL
    where: str

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`LeaseLost` unless this run still holds the scope."""

    @abstractmethod
    def release(self) -> None:
        """Give the scope up. Idempotent; a lease already lost is left to its new holder."""

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.release()
            return
        # already failing: a release failure must not hide why (the lease expires anyway)
        try:
            self.release()
        except StorageError as release_error:
            log.warning("could not release the lease on %s: %s", self.scope, release_error)


def lease_path(scope: str, *, local: bool) -> str:
    """Where the lease on ``scope`` lives, relative to the backend root."""
    return f"{LEASE_DIR}/{check_scope(scope)}{'.lock' if local else '.json'}"


def check_scope(scope: str) -> str:
    parts = scope.split("/")
    if (not scope or scope.startswith("/") or "\\" in scope
            or any(p in ("", ".", "..") for p in parts)):
        raise ValueError(f"a lease scope is a relative path like 'system=s/table=t', not {scope!r}")
    return scope


def iso(t: float, *, seconds: bool = False) -> str:
    moment = datetime.fromtimestamp(t, timezone.utc)
    if seconds:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="milliseconds")
