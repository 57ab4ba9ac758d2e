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

Leases live in foundry's private area at the storage root, which Hive readers
skip because of the leading ``_``: ``_foundry/leases/<scope>.lock`` on local
disk and ``_foundry/leases/<scope>.json`` on object stores.

**Local disk**: an OS lock, ``flock(LOCK_EX | LOCK_NB)`` on the lock file, with
the holder written into it so a second run can name it. The kernel drops the
lock when the holding process dies, however it dies, so a local lease never
needs to expire: one that can be locked is free. flock belongs to the open file
description, so two acquisitions in one process conflict as two processes do.
The lock file is never deleted: deleting a locked file lets a third run lock a
new file of the same name while a second still holds the old one.

**Object stores** (S3, Azure Blob, GCS): a JSON object created only if absent
(a conditional write checked by the store), holding the holder, a random token
and ``expires_at``. A daemon thread renews it every ``ttl / 3`` with a write
conditional on the version it last wrote (ETag, GCS generation); a renewal that
finds another version marks the lease lost. A run that finds a lease object
whose ``expires_at`` has passed takes it over with a write conditional on the
version it read, so of two runs racing for it exactly one wins. Release deletes
the object, conditional on its version.

Clock skew: expiry compares this machine's clock with an ``expires_at`` that
another machine wrote from its clock. A host whose clock runs ahead by more
than ``ttl`` sees live leases as expired and takes them over; ``ttl`` must
exceed the worst skew between hosts that share a store (NTP keeps it well under
a second; the default ``ttl`` is 60 s). A holder that cannot renew before its
own ``expires_at`` treats the lease as lost rather than write on.

Backends without conditional writes (custom backends that do not implement
``create_if_absent`` and friends) cannot hold a lease: :func:`acquire` raises
the backend's :class:`StorageError` saying so.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, NoReturn

from foundry_dsl.errors import StorageError
from foundry_dsl.storage.base import StorageBackend

log = logging.getLogger("foundry.storage")

#: where leases live, relative to the backend root
LEASE_DIR = "_foundry/leases"
DEFAULT_TTL = 60.0

Clock = Callable[[], float]

#: rounds of create / read / take over before giving up on a lease that keeps changing
_MAX_ROUNDS = 8


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
            started_at=_iso(time.time() if started is None else started, seconds=True),
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


# --- the lease ----------------------------------------------------------------------------


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


class LocalLease(Lease):
    """An exclusive ``flock`` on ``<root>/_foundry/leases/<scope>.lock``, held by an open fd."""

    def __init__(self, scope: str, holder: Holder, path: str, fd: int) -> None:
        self.scope = scope
        self.holder = holder
        self.where = path
        self._fd: int | None = fd
        self._mutex = threading.Lock()
        st = os.fstat(fd)
        self._identity = (st.st_dev, st.st_ino)

    def __repr__(self) -> str:
        return f"LocalLease({self.scope}, {self.holder.run_id})"

    def check(self) -> None:
        with self._mutex:
            if self._fd is None:
                raise LeaseLost(self.scope, "it was released")
            # the lock protects the file we opened; if the name now leads elsewhere (someone
            # deleted or replaced it), another run can lock that file while we hold ours
            try:
                st = os.stat(self.where)
            except FileNotFoundError:
                raise LeaseLost(self.scope, f"its lock file {self.where} was deleted") from None
            if (st.st_dev, st.st_ino) != self._identity:
                raise LeaseLost(self.scope, f"its lock file {self.where} was replaced")

    def release(self) -> None:
        with self._mutex:
            fd, self._fd = self._fd, None
            if fd is None:
                return
            try:
                # clear our name first, so no later message names a run that has finished
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)  # closing drops the lock too; the file itself stays (see module doc)


class ObjectLease(Lease):
    """A lease object in an object store, renewed from a daemon thread until released."""

    def __init__(
        self,
        backend: StorageBackend,
        scope: str,
        holder: Holder,
        *,
        path: str,
        token: str,
        version: str,
        expires_at: float,
        ttl: float,
        clock: Clock,
        renew: bool = True,
    ) -> None:
        self.scope = scope
        self.holder = holder
        self.where = _url(backend, path)
        self.path = path
        self.ttl = ttl
        self._backend = backend
        self._token = token
        self._version = version
        self._expires_at = expires_at
        self._clock = clock
        # one storage conversation at a time: a check() must not compare against a version
        # that a renewal is replacing at that moment
        self._mutex = threading.Lock()
        self._lost: str | None = None
        self._released = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if renew:
            self._thread = threading.Thread(
                target=self._renew_loop, name=f"foundry-lease {scope}", daemon=True
            )
            self._thread.start()

    def __repr__(self) -> str:
        return f"ObjectLease({self.scope}, {self.holder.run_id}, version={self._version})"

    @property
    def version(self) -> str:
        """The version token of the lease object as this run last wrote it."""
        return self._version

    @property
    def expires_at(self) -> float:
        """When the lease expires unless renewed, in seconds since the epoch (this run's clock)."""
        return self._expires_at

    @property
    def lost(self) -> str | None:
        """Why the lease was lost, or None while it is held."""
        return self._lost

    def check(self) -> None:
        with self._mutex:
            self._raise_unless_held()
            if self._clock() >= self._expires_at:
                # not renewed in time: another run may take it over at any moment
                self._lose(f"it was not renewed before it expired at {_iso(self._expires_at)}")
            current = self._backend.read_versioned(self.path)
            if current is None:
                self._lose(f"its lease object {self.where} was deleted")
            data, version = current
            if version == self._version:
                return
            state = _decode(data)
            if state is not None and state.token == self._token:
                # our own write whose answer never came back: still ours
                self._version, self._expires_at = version, state.expires_at
                return
            self._lose(_taken_by(state))

    def renew(self) -> None:
        """Extend the lease by ``ttl`` from now; raise :class:`LeaseLost` if it is not ours."""
        with self._mutex:
            self._raise_unless_held()
            expires_at = self._clock() + self.ttl
            body = _encode(self.holder, self._token, expires_at)
            version = self._backend.replace_if(self.path, body, self._version)
            if version is None:
                # refused: taken over, deleted, or our own earlier write whose answer was lost
                current = self._backend.read_versioned(self.path)
                if current is None:
                    self._lose(f"its lease object {self.where} was deleted")
                state = _decode(current[0])
                if state is None or state.token != self._token:
                    self._lose(_taken_by(state))
                version = current[1]
                expires_at = state.expires_at
            self._version, self._expires_at = version, expires_at

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._mutex:
            if self._released:
                return
            if self._lost is None:
                # Some stores may ignore a delete's condition; reading first keeps such a
                # store from deleting another run's lease but in the instant between the calls.
                current = self._backend.read_versioned(self.path)
                if current is not None and current[1] == self._version:
                    self._backend.delete_if(self.path, self._version)
            # a lost lease is someone else's now: leave it alone
            self._released = True

    # --- internals ------------------------------------------------------------------------

    def _raise_unless_held(self) -> None:
        if self._released:
            raise LeaseLost(self.scope, "it was released")
        if self._lost is not None:
            raise LeaseLost(self.scope, self._lost)

    def _lose(self, reason: str) -> NoReturn:
        """Mark the lease lost for good and raise :class:`LeaseLost`."""
        self._lost = reason
        log.warning("lost the lease on %s: %s", self.scope, reason)
        raise LeaseLost(self.scope, reason)

    def _renew_loop(self) -> None:
        interval = max(self.ttl / 3, 0.01)
        while not self._stop.wait(interval):
            try:
                self.renew()
            except LeaseLost:
                return
            except StorageError as exc:
                # a store hiccup: try again next tick, unless the lease has run out meanwhile
                if self._clock() >= self._expires_at:
                    with self._mutex:
                        self._lost = self._lost or f"it could not be renewed before it expired: {exc}"
                    return
                log.warning("could not renew the lease on %s (will retry): %s", self.scope, exc)
            except Exception as exc:  # the thread must not die silently holding nothing
                with self._mutex:
                    self._lost = self._lost or f"renewing it failed: {type(exc).__name__}: {exc}"
                log.exception("renewing the lease on %s failed", self.scope)
                return


# --- acquiring ----------------------------------------------------------------------------


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
        return _local_holder(_local_path(local_root, scope))
    found = backend.read_versioned(lease_path(scope, local=False))
    if found is None:
        return None
    state = _decode(found[0])
    if state is None or clock() >= state.expires_at:
        return None
    return state.holder


def lease_path(scope: str, *, local: bool) -> str:
    """Where the lease on ``scope`` lives, relative to the backend root."""
    return f"{LEASE_DIR}/{_check_scope(scope)}{'.lock' if local else '.json'}"


def _attempt(
    backend: StorageBackend, scope: str, holder: Holder, *, ttl: float, clock: Clock
) -> Lease | LeaseHeld:
    if ttl <= 0:
        raise ValueError(f"a lease's ttl must be positive, not {ttl}")
    local_root = _local_root(backend)
    if local_root is not None:
        return _attempt_local(_local_path(local_root, scope), scope, holder)
    return _attempt_object(backend, scope, holder, ttl=ttl, clock=clock)


# --- local disk ---------------------------------------------------------------------------


def _local_root(backend: StorageBackend) -> str | None:
    root = getattr(backend, "local_root", None)
    return root if isinstance(root, str) else None


def _local_path(local_root: str, scope: str) -> str:
    return os.path.join(local_root, *lease_path(scope, local=True).split("/"))


def _open_lock_file(path: str) -> int:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # O_CLOEXEC: a child the run starts must not keep the lock alive after the run dies
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _attempt_local(path: str, scope: str, holder: Holder) -> Lease | LeaseHeld:
    fd = _open_lock_file(path)
    try:
        if not _lock_exclusive(fd):
            return LeaseHeld(scope, _holder_after_lock(fd), where=path)
        # ours: record who we are so a second run can say who holds it
        data = json.dumps({"holder": holder.to_json()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        lease = LocalLease(scope, holder, path, fd)
    except BaseException:
        os.close(fd)
        raise
    return lease


def _lock_exclusive(fd: int) -> bool:
    """Lock ``fd`` exclusively without waiting for a holder: False when a run holds it.

    :func:`current_holder` takes a shared lock for an instant to look; a shared lock
    does not mean a run holds the scope, so only that case is tried again.
    """
    for _ in range(100):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # an exclusive holder: a run
        fcntl.flock(fd, fcntl.LOCK_UN)
        time.sleep(0.001)  # only someone looking: try again
    return False


def _holder_after_lock(fd: int) -> Holder | None:
    """The holder's name, read once the holder has had time to write it.

    The winner locks first and writes its name a moment later (over the name of the
    run before it, which never deletes the file), so a name read at once may be
    missing or a dead run's. Only the message depends on it; the lock decided.
    """
    holder = None
    for attempt in range(_NAME_POLLS):
        time.sleep(_NAME_POLL_SECONDS)
        holder = _read_holder(fd)
        if holder is not None and attempt >= _NAME_SETTLE_POLLS:
            break
    return holder


#: how a losing run waits for the winner's name: at least 50 ms, at most 1 s
_NAME_POLL_SECONDS = 0.01
_NAME_SETTLE_POLLS = 4
_NAME_POLLS = 100


def _read_holder(fd: int) -> Holder | None:
    raw = os.pread(fd, 64 * 1024, 0)
    try:
        return Holder.from_json(json.loads(raw).get("holder"))
    except (ValueError, AttributeError):
        return None  # the holder locked the file but has not written its name yet


def _local_holder(path: str) -> Holder | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            # a shared lock only succeeds when nobody holds the exclusive one
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# --- object stores ------------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    holder: Holder | None
    token: str
    expires_at: float


def _encode(holder: Holder, token: str, expires_at: float) -> bytes:
    return json.dumps(
        {"holder": holder.to_json(), "token": token, "expires_at": _iso(expires_at)},
        sort_keys=True,
    ).encode()


def _decode(data: bytes) -> _State | None:
    try:
        doc = json.loads(data)
        expires = datetime.fromisoformat(doc["expires_at"])
        if expires.tzinfo is None:
            return None
        return _State(Holder.from_json(doc.get("holder")), str(doc["token"]), expires.timestamp())
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _attempt_object(
    backend: StorageBackend, scope: str, holder: Holder, *, ttl: float, clock: Clock
) -> Lease | LeaseHeld:
    path = lease_path(scope, local=False)
    where = _url(backend, path)
    # unique to this attempt: lets us recognise our own write when a store's answer was lost
    token = secrets.token_hex(16)

    def won(version: str, expires_at: float) -> ObjectLease:
        return ObjectLease(backend, scope, holder, path=path, token=token, version=version,
                           expires_at=expires_at, ttl=ttl, clock=clock)

    for _ in range(_MAX_ROUNDS):
        expires_at = clock() + ttl
        body = _encode(holder, token, expires_at)
        version = backend.create_if_absent(path, body)
        if version is not None:
            return won(version, expires_at)
        found = backend.read_versioned(path)
        if found is None:
            continue  # released between our two calls: try again
        state = _decode(found[0])
        if state is not None and state.token == token:
            return won(found[1], state.expires_at)
        if state is None:
            # not a lease we can read: refuse rather than guess when it ends
            return LeaseHeld(scope, None, where=where,
                             note=f"its lease object {where} cannot be read, so it never "
                                  "expires: delete it if no run is writing")
        if clock() < state.expires_at:
            return LeaseHeld(scope, state.holder, where=where, expires_at=_iso(state.expires_at))
        # expired: take it over, but only from the version we judged expired
        log.info("taking over the expired lease on %s from %s", scope,
                 state.holder.describe() if state.holder else "an unknown run")
        version = backend.replace_if(path, body, found[1])
        if version is not None:
            return won(version, expires_at)
        again = backend.read_versioned(path)
        if again is not None:
            mine = _decode(again[0])
            if mine is not None and mine.token == token:
                return won(again[1], mine.expires_at)
        # another run was faster: look again (it now holds a live lease)
    raise StorageError(
        f"the lease on {scope} ({where}) changed on every one of {_MAX_ROUNDS} attempts to "
        f"take it; try again",
        transient=True,
    )


def _taken_by(state: _State | None) -> str:
    if state is not None and state.holder is not None:
        return f"it was taken over by {state.holder.describe()}"
    return "it was replaced by another run"


# --- helpers ------------------------------------------------------------------------------


def _check_scope(scope: str) -> str:
    parts = scope.split("/")
    if (not scope or scope.startswith("/") or "\\" in scope
            or any(p in ("", ".", "..") for p in parts)):
        raise ValueError(f"a lease scope is a relative path like 'system=s/table=t', not {scope!r}")
    return scope


def _url(backend: StorageBackend, path: str) -> str:
    url = getattr(backend, "url", None)
    if callable(url):
        return str(url(path))
    root = backend.root_url.rstrip("/")
    return f"{root}/{path}" if root else path


def _iso(t: float, *, seconds: bool = False) -> str:
    moment = datetime.fromtimestamp(t, timezone.utc)
    if seconds:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="milliseconds")
