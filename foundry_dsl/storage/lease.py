"""Storage layer: leases, so that two runs never write the same scope at once.

A *scope* is a relative path such as ``system=s/table=t`` or
``system=s/table=t/dt=2025-01-12``. :func:`acquire` hands on a :class:`Lease`
(a context manager) that proves this run, and no other, may write the scope
until it is released; it never waits: when a live run holds the scope it raises
:class:`LeaseHeld`, whose message names that run (run id, host, pid, when it
started). :meth:`Lease.check` raises :class:`LeaseLost` once the lease is no
longer this run's, so a writer calls it before anything becomes visible (the
commit marker). :func:`current_holder` tells ``plan`` and messages who holds a
scope, without taking it.

This module picks the lease a backend can hold: on local disk (a backend with a
``local_root``) an OS lock (``lease_local.py``); anywhere else a lease object
written with the store's conditional writes (``lease_object.py``). What every
lease is lives in ``lease_base.py``; its names are re-exported here, the one
module callers import.

Backends without conditional writes (custom backends that do not implement
``create_if_absent`` and friends) cannot hold a lease: :func:`acquire` raises
the backend's :class:`StorageError` saying so.
"""

from __future__ import annotations

import time

from foundry_dsl.storage.base import StorageBackend
from foundry_dsl.storage.lease_base import (
    DEFAULT_TTL,
    Clock,
    Holder,
    Lease,
    LeaseHeld,
    LeaseLost,
    lease_path,
)
from foundry_dsl.storage.lease_local import attempt_local, local_holder, lock_path
from foundry_dsl.storage.lease_object import attempt_object, object_holder

__all__ = [
    "DEFAULT_TTL",
    "Holder",
    "Lease",
    "LeaseHeld",
    "LeaseLost",
    "acquire",
    "current_holder",
    "lease_path",
    "try_acquire",
]


def acquire(
    backend: StorageBackend,
    scope: str,
    holder: Holder,
    *,
    ttl: float = DEFAULT_TTL,
    clock: Clock = time.time,
) -> Lease:
    """Take the lease on ``scope`` for ``holder``, or raise :class:`LeaseHeld` at once.

    ``ttl`` (seconds) bounds how long a dead run blocks an object-store scope; local
    leases end when their process does. ``clock`` gives seconds since the epoch (tests
    inject one to expire leases without sleeping).
    """
    result = _attempt(backend, scope, holder, ttl=ttl, clock=clock)
    if isinstance(result, LeaseHeld):
        raise result
    return result


def try_acquire(
    backend: StorageBackend,
    scope: str,
    holder: Holder,
    *,
    ttl: float = DEFAULT_TTL,
    clock: Clock = time.time,
) -> Lease | None:
    """Like :func:`acquire`, but None when a live run holds the scope."""
    result = _attempt(backend, scope, holder, ttl=ttl, clock=clock)
    return None if isinstance(result, LeaseHeld) else result


def current_holder(
    backend: StorageBackend, scope: str, *, clock: Clock = time.time
) -> Holder | None:
    """Who holds ``scope`` now, or None when it is free or its lease has expired."""
    local_root = _local_root(backend)
    if local_root is not None:
        return local_holder(lock_path(local_root, scope))
    return object_holder(backend, scope, clock)


def _attempt(
    backend: StorageBackend, scope: str, holder: Holder, *, ttl: float, clock: Clock
) -> Lease | LeaseHeld:
    if ttl <= 0:
        raise ValueError(f"a lease's ttl must be positive, not {ttl}")
    local_root = _local_root(backend)
    if local_root is not None:
        return attempt_local(lock_path(local_root, scope), scope, holder)
    return attempt_object(backend, scope, holder, ttl=ttl, clock=clock)


def _local_root(backend: StorageBackend) -> str | None:
    root = getattr(backend, "local_root", None)
    return root if isinstance(root, str) else None
