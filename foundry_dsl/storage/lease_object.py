"""Storage layer: leases on object stores (S3, Azure Blob, GCS), built on conditional writes.

A lease is a JSON object at ``_foundry/leases/<scope>.json``, created only if
absent (a conditional write checked by the store), holding the holder, a random
token and ``expires_at``. A daemon thread renews it every ``ttl / 3`` with a
write conditional on the version it last wrote (ETag, GCS generation); a
renewal that finds another version marks the lease lost. A run that finds a
lease object whose ``expires_at`` has passed takes it over with a write
conditional on the version it read, so of two runs racing for it exactly one
wins. Release deletes the object, conditional on its version.

Clock skew: expiry compares this machine's clock with an ``expires_at`` that
another machine wrote from its clock. A host whose clock runs ahead by more
than ``ttl`` sees live leases as expired and takes them over; ``ttl`` must
exceed the worst skew between hosts that share a store (NTP keeps it well under
a second; the default ``ttl`` is 60 s). A holder that cannot renew before its
own ``expires_at`` treats the lease as lost rather than write on.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from foundry_dsl.errors import StorageError
from foundry_dsl.storage.base import StorageBackend
from foundry_dsl.storage.lease_base import (
    Clock,
    Holder,
    Lease,
    LeaseHeld,
    LeaseLost,
    iso,
    lease_path,
)

log = logging.getLogger("foundry.storage")

#: rounds of create / read / take over before giving up on a lease that keeps changing
_MAX_ROUNDS = 8


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
                self._lose(f"it was not renewed before it expired at {iso(self._expires_at)}")
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


def object_holder(backend: StorageBackend, scope: str, clock: Clock) -> Holder | None:
    """Who holds ``scope`` now, or None when it is free or its lease has expired."""
    found = backend.read_versioned(lease_path(scope, local=False))
    if found is None:
        return None
    state = _decode(found[0])
    if state is None or clock() >= state.expires_at:
        return None
    return state.holder


@dataclass(frozen=True)
class _State:
    holder: Holder | None
    token: str
    expires_at: float


def _encode(holder: Holder, token: str, expires_at: float) -> bytes:
    return json.dumps(
        {"holder": holder.to_json(), "token": token, "expires_at": iso(expires_at)},
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


def attempt_object(
    backend: StorageBackend, scope: str, holder: Holder, *, ttl: float, clock: Clock
) -> Lease | LeaseHeld:
    """The lease on ``scope``, created or taken over once expired; or LeaseHeld naming its holder."""
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
            return LeaseHeld(scope, state.holder, where=where, expires_at=iso(state.expires_at))
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


def _url(backend: StorageBackend, path: str) -> str:
    url = getattr(backend, "url", None)
    if callable(url):
        return str(url(path))
    root = backend.root_url.rstrip("/")
    return f"{root}/{path}" if root else path
