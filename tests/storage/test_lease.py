"""Leases: one writer per scope, on local disk and on each object-store emulator.

Expiry is driven by injected clocks, never by sleeping. Where an emulator does not
honour a precondition, the tests that depend on it are strict xfails that must fail
(see ``IGNORED``): if a newer emulator starts honouring it they XPASS, which fails
the run, and the note below must be updated.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import StorageError
from foundry_dsl.storage.base import StorageBackend
from foundry_dsl.storage.fsspec_backend import FsspecBackend
from foundry_dsl.storage.lease import (
    Holder,
    Lease,
    LeaseHeld,
    LeaseLost,
    acquire,
    current_holder,
    lease_path,
    try_acquire,
)
from foundry_dsl.storage.lease_local import LocalLease
from foundry_dsl.storage.lease_object import ObjectLease
from foundry_dsl.storage.registry import backend_for
from tests.fixtures.storage_services import REPO, Service, free_port, make_pipeline, s3_storage
from tests.storage.memory_backend import MemoryBackend

T = TypeVar("T")

SCOPE = "system=shop/table=orders"
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z: any fixed moment will do
TTL = 60.0

#: preconditions an emulator ignores (found by the primitive tests below, which xfail there)
IGNORED: dict[str, tuple[str, str]] = {
    "gcs": (
        "create_if_absent replace_if delete_if",
        "gcp-storage-emulator (2026.7.19, the newest on PyPI) ignores ifGenerationMatch on "
        "uploads and deletes: a create over an existing object, a replace at a stale "
        "generation and a delete at a stale generation all succeed",
    ),
}


# --- fixtures and helpers ------------------------------------------------------------------


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def holder(run_id: str, pid: int = 4242) -> Holder:
    return Holder(run_id=run_id, host=f"host-{run_id}", pid=pid,
                  started_at="2027-01-15T07:59:00Z", pipeline="shop.orders")


def build(service: Service, prefix: str) -> FsspecBackend:
    backend = backend_for(make_pipeline(service.storage(prefix)))
    assert isinstance(backend, FsspecBackend)
    return backend


def needs(request: pytest.FixtureRequest, backend: FsspecBackend, *preconditions: str) -> None:
    """Expect this test to fail on a store whose emulator ignores one of ``preconditions``."""
    ignored, finding = IGNORED.get(backend.backend_type, ("", ""))
    if any(p in ignored.split() for p in preconditions):
        request.applymarker(pytest.mark.xfail(
            strict=True, raises=(AssertionError, pytest.fail.Exception), reason=finding
        ))


def bounded(fn: Callable[[], T], timeout: float = 60.0) -> T:
    """``fn()`` in a thread, so that a call that blocks fails the test instead of hanging it."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(("ok", fn()))
        except BaseException as exc:
            out.append(("err", exc))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert out, f"the call blocked for {timeout}s instead of answering at once"
    kind, value = out[0]
    if kind == "err":
        raise value
    return value  # type: ignore[no-any-return]


@pytest.fixture
def leases() -> Iterator[list[Lease]]:
    """Leases a test took; released afterwards so no renewal thread outlives the test."""
    taken: list[Lease] = []
    yield taken
    for lease in taken:
        with contextlib.suppress(StorageError):
            lease.release()


@pytest.fixture(params=["local", "s3", "azure", "gcs"])
def store(request: pytest.FixtureRequest, prefix: str) -> FsspecBackend:
    name = {"local": "local_storage", "s3": "moto_s3", "azure": "azurite", "gcs": "gcs_emulator"}
    return build(request.getfixturevalue(name[request.param]), prefix)


@pytest.fixture(params=["s3", "azure", "gcs"])
def object_store(request: pytest.FixtureRequest, prefix: str) -> FsspecBackend:
    name = {"s3": "moto_s3", "azure": "azurite", "gcs": "gcs_emulator"}
    return build(request.getfixturevalue(name[request.param]), prefix)


@pytest.fixture
def local(local_storage: Service, prefix: str) -> FsspecBackend:
    return build(local_storage, prefix)


def take(leases: list[Lease], backend: FsspecBackend, who: Holder, **kw: Any) -> Lease:
    lease = bounded(lambda: acquire(backend, SCOPE, who, **kw))
    leases.append(lease)
    return lease


# --- the conditional primitives (object stores) ------------------------------------------

PATH = "_foundry/leases/probe.json"


def test_create_if_absent_refuses_an_existing_object(
    request: pytest.FixtureRequest, object_store: FsspecBackend
) -> None:
    needs(request, object_store, "create_if_absent")
    first = object_store.create_if_absent(PATH, b"first")
    assert isinstance(first, str)
    assert object_store.create_if_absent(PATH, b"second") is None
    assert object_store.read_versioned(PATH) == (b"first", first)


def test_read_versioned_of_a_missing_object_is_none(object_store: FsspecBackend) -> None:
    assert object_store.read_versioned(PATH) is None


def test_replace_if_at_the_current_version_replaces_and_gives_a_new_version(
    object_store: FsspecBackend,
) -> None:
    v1 = object_store.create_if_absent(PATH, b"one")
    assert v1 is not None
    v2 = object_store.replace_if(PATH, b"two", v1)
    assert v2 is not None and v2 != v1
    assert object_store.read_versioned(PATH) == (b"two", v2)


def test_replace_if_at_a_stale_version_is_refused(
    request: pytest.FixtureRequest, object_store: FsspecBackend
) -> None:
    needs(request, object_store, "replace_if")
    v1 = object_store.create_if_absent(PATH, b"one")
    assert v1 is not None
    v2 = object_store.replace_if(PATH, b"two", v1)
    assert v2 is not None
    assert object_store.replace_if(PATH, b"three", v1) is None
    assert object_store.read_versioned(PATH) == (b"two", v2)


def test_replace_if_of_a_missing_object_is_refused(
    request: pytest.FixtureRequest, object_store: FsspecBackend
) -> None:
    needs(request, object_store, "replace_if")
    v1 = object_store.create_if_absent(PATH, b"one")
    assert v1 is not None
    object_store.delete_file(PATH)
    assert object_store.replace_if(PATH, b"two", v1) is None
    assert object_store.read_versioned(PATH) is None


def test_delete_if_at_a_stale_version_is_refused(
    request: pytest.FixtureRequest, object_store: FsspecBackend
) -> None:
    needs(request, object_store, "delete_if")
    v1 = object_store.create_if_absent(PATH, b"one")
    assert v1 is not None
    v2 = object_store.replace_if(PATH, b"two", v1)
    assert object_store.delete_if(PATH, v1) is False
    assert object_store.read_versioned(PATH) == (b"two", v2)


def test_delete_if_at_the_current_version_deletes(object_store: FsspecBackend) -> None:
    v1 = object_store.create_if_absent(PATH, b"one")
    assert v1 is not None
    assert object_store.delete_if(PATH, v1) is True
    assert object_store.read_versioned(PATH) is None


def test_s3_refuses_a_lease_when_botocore_does_not_know_the_conditions(
    moto_s3: Service, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # s3fs drops parameters its botocore does not know, which would make every write
    # unconditional without a word
    from foundry_dsl.storage import s3

    monkeypatch.setattr(s3, "_s3_accepts", lambda operation, param: False)
    with pytest.raises(StorageError, match=r"cannot hold a lease: botocore .* IfNoneMatch"):
        acquire(build(moto_s3, prefix), SCOPE, holder("r1"))


def test_a_backend_without_conditional_writes_cannot_hold_a_lease() -> None:
    backend = MemoryBackend("lake", {})
    with pytest.raises(StorageError, match="this backend cannot hold a lease") as info:
        acquire(backend, SCOPE, holder("r1"))
    assert "memory" in info.value.message
    assert info.value.transient is False
    for call in (lambda: backend.create_if_absent(PATH, b"x"),
                 lambda: backend.read_versioned(PATH),
                 lambda: backend.replace_if(PATH, b"x", "1"),
                 lambda: backend.delete_if(PATH, "1")):
        with pytest.raises(StorageError, match="this backend cannot hold a lease"):
            call()


# --- every store ------------------------------------------------------------------------


def test_a_second_acquire_fails_at_once_naming_the_holder(
    request: pytest.FixtureRequest, store: FsspecBackend, leases: list[Lease]
) -> None:
    needs(request, store, "create_if_absent")
    first = holder("run-first", pid=1111)
    take(leases, store, first)
    with pytest.raises(LeaseHeld) as info:
        take(leases, store, holder("run-second"))
    held = info.value
    assert held.holder == first
    assert held.transient is False
    assert held.scope == SCOPE
    for part in (SCOPE, "run-first", "host-run-first", "pid 1111", "2027-01-15T07:59:00Z"):
        assert part in held.message


def test_object_store_lease_held_names_when_it_expires(
    request: pytest.FixtureRequest, object_store: FsspecBackend, leases: list[Lease]
) -> None:
    needs(request, object_store, "create_if_absent")
    take(leases, object_store, holder("run-first"), clock=Clock(T0))
    with pytest.raises(LeaseHeld) as info:
        take(leases, object_store, holder("run-second"), clock=Clock(T0 + TTL - 1))
    assert info.value.expires_at == "2027-01-15T08:01:00.000+00:00"
    assert "expires at 2027-01-15T08:01:00.000+00:00" in info.value.message


def test_try_acquire_is_none_while_another_run_holds_the_scope(
    request: pytest.FixtureRequest, store: FsspecBackend, leases: list[Lease]
) -> None:
    needs(request, store, "create_if_absent")
    take(leases, store, holder("run-first"))
    assert bounded(lambda: try_acquire(store, SCOPE, holder("run-second"))) is None


def test_release_lets_the_next_run_in(store: FsspecBackend, leases: list[Lease]) -> None:
    take(leases, store, holder("run-first")).release()
    second = take(leases, store, holder("run-second"))
    assert second.holder == holder("run-second")
    assert current_holder(store, SCOPE) == holder("run-second")


def test_leaving_the_with_block_releases(store: FsspecBackend, leases: list[Lease]) -> None:
    with acquire(store, SCOPE, holder("run-first")) as lease:
        lease.check()
    assert current_holder(store, SCOPE) is None
    take(leases, store, holder("run-second"))


def test_release_twice_is_harmless(store: FsspecBackend, leases: list[Lease]) -> None:
    lease = take(leases, store, holder("run-first"))
    lease.release()
    lease.release()
    assert current_holder(store, SCOPE) is None


def test_current_holder_names_the_holder_while_held(
    store: FsspecBackend, leases: list[Lease]
) -> None:
    take(leases, store, holder("run-first"))
    assert current_holder(store, SCOPE) == holder("run-first")


def test_current_holder_of_a_free_scope_is_none(store: FsspecBackend) -> None:
    assert current_holder(store, SCOPE) is None


def test_check_passes_while_held_and_fails_after_release(
    store: FsspecBackend, leases: list[Lease]
) -> None:
    lease = take(leases, store, holder("run-first"))
    lease.check()
    lease.release()
    with pytest.raises(LeaseLost, match="released"):
        lease.check()


def test_different_scopes_do_not_conflict(store: FsspecBackend, leases: list[Lease]) -> None:
    leases.append(acquire(store, "system=shop/table=orders", holder("run-a")))
    leases.append(acquire(store, "system=shop/table=customers", holder("run-b")))
    assert current_holder(store, "system=shop/table=orders") == holder("run-a")
    assert current_holder(store, "system=shop/table=customers") == holder("run-b")


@pytest.mark.parametrize("scope", ["", "/abs", "a/../b", "a//b", "a\\b"])
def test_a_scope_must_be_a_plain_relative_path(local: FsspecBackend, scope: str) -> None:
    with pytest.raises(ValueError, match="relative path"):
        acquire(local, scope, holder("r"))


# --- object stores: expiry, takeover, renewal ---------------------------------------------


def test_an_expired_lease_is_taken_over_and_the_old_holder_loses_it(
    object_store: FsspecBackend, leases: list[Lease]
) -> None:
    old = take(leases, object_store, holder("run-old"), clock=Clock(T0))
    new = take(leases, object_store, holder("run-new"), clock=Clock(T0 + TTL + 1))
    assert new.holder == holder("run-new")
    # the old run's own clock says its lease is still good: only the store can tell it
    with pytest.raises(LeaseLost, match="taken over by run run-new"):
        old.check()
    new.check()


def test_a_lease_is_not_taken_over_before_it_expires(
    request: pytest.FixtureRequest, object_store: FsspecBackend, leases: list[Lease]
) -> None:
    needs(request, object_store, "create_if_absent")
    old = take(leases, object_store, holder("run-old"), clock=Clock(T0))
    assert try_acquire(object_store, SCOPE, holder("run-new"), clock=Clock(T0 + TTL - 0.5)) is None
    old.check()


def test_current_holder_of_an_expired_lease_is_none(
    object_store: FsspecBackend, leases: list[Lease]
) -> None:
    take(leases, object_store, holder("run-old"), clock=Clock(T0))
    assert current_holder(object_store, SCOPE, clock=Clock(T0 + TTL - 1)) == holder("run-old")
    assert current_holder(object_store, SCOPE, clock=Clock(T0 + TTL + 1)) is None


class ReadsTogether:
    """A run's backend whose first read of the lease waits until the other run has read it.

    Both runs then judge the same expired version before either writes, and both try to
    take it over with a write conditional on that version: only the store decides.
    """

    def __init__(self, backend: FsspecBackend, barrier: threading.Barrier) -> None:
        self._backend = backend
        self._barrier = barrier
        self.armed = True

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        found = self._backend.read_versioned(path)
        if self.armed:
            self.armed = False
            self._barrier.wait(timeout=60)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def race(backends: list[ReadsTogether], scope: str) -> list[Lease | None]:
    """Each backend's run tries to take ``scope`` at once, its clock past the old lease's expiry."""
    won: list[Lease | None] = [None] * len(backends)
    failed: list[BaseException] = []

    def contend(i: int) -> None:
        try:
            won[i] = try_acquire(cast(StorageBackend, backends[i]), scope, holder(f"run-{i}"),
                                 clock=Clock(T0 + TTL + 1))
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(backends))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for backend in backends:
        backend.armed = False  # later reads (release, check) go straight through
    assert failed == []
    return won


@pytest.fixture(scope="module")
def moto_one_at_a_time(moto_s3: Service) -> Iterator[Service]:
    """A second, single-threaded server over the same moto state, for the race below.

    moto (5.2.1, and 5.2.5 the newest) checks If-Match / If-None-Match and then writes,
    without a lock, on a threaded server: two conditional PUTs that arrive together can
    both succeed (seen with this test under load, about one round in fifty). S3 itself
    decides conditional writes to one key one at a time, as a server that handles one
    request at a time does; the shared ``moto_s3`` fixture starts a threaded one.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, DomainDispatcherApplication(create_backend_app),
                         threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(ENV_RACE_ENDPOINT, endpoint)
            yield Service("s3", endpoint, lambda prefix: s3_storage(prefix, ENV_RACE_ENDPOINT),
                          moto_s3.secrets)
    finally:
        server.shutdown()
        thread.join()


ENV_RACE_ENDPOINT = "FOUNDRY_TEST_S3_RACE_ENDPOINT"


@pytest.fixture(params=["s3", "azure", "gcs"])
def race_service(request: pytest.FixtureRequest) -> Service:
    name = {"s3": "moto_one_at_a_time", "azure": "azurite", "gcs": "gcs_emulator"}
    service: Service = request.getfixturevalue(name[request.param])
    return service


def test_of_two_runs_taking_an_expired_lease_exactly_one_wins(
    request: pytest.FixtureRequest, race_service: Service, prefix: str
) -> None:
    store = build(race_service, prefix)
    needs(request, store, "create_if_absent", "replace_if")
    for round_ in range(10):
        scope = f"{SCOPE}/dt=round-{round_}"
        old = acquire(store, scope, holder("run-old"), clock=Clock(T0))
        barrier = threading.Barrier(2)
        # each contender is its own run: its own backend (filesystem, connections)
        won = race([ReadsTogether(build(race_service, prefix), barrier) for _ in range(2)], scope)
        winners = [lease for lease in won if lease is not None]
        try:
            assert len(winners) == 1, f"round {round_}: {len(winners)} runs took the lease"
            assert current_holder(store, scope, clock=Clock(T0 + TTL + 1)) == winners[0].holder
            with pytest.raises(LeaseLost):
                old.check()
        finally:
            for lease in (*winners, old):
                lease.release()


def test_renew_extends_the_lease_in_the_store(
    request: pytest.FixtureRequest, object_store: FsspecBackend, leases: list[Lease]
) -> None:
    needs(request, object_store, "create_if_absent")
    clock = Clock(T0)
    lease = take(leases, object_store, holder("run-first"), clock=clock)
    assert isinstance(lease, ObjectLease)
    before = lease.version
    clock.now = T0 + 30
    lease.renew()
    assert lease.version != before
    assert lease.expires_at == T0 + 30 + TTL
    # past the first expiry, but within the renewed one: still held
    assert try_acquire(object_store, SCOPE, holder("run-second"), clock=Clock(T0 + TTL + 1)) is None
    lease.check()


def test_renew_after_a_takeover_raises_lease_lost(
    request: pytest.FixtureRequest, object_store: FsspecBackend, leases: list[Lease]
) -> None:
    needs(request, object_store, "replace_if")
    old = take(leases, object_store, holder("run-old"), clock=Clock(T0))
    assert isinstance(old, ObjectLease)
    take(leases, object_store, holder("run-new"), clock=Clock(T0 + TTL + 1))
    with pytest.raises(LeaseLost, match="taken over by run run-new"):
        old.renew()
    assert old.lost is not None
    with pytest.raises(LeaseLost):
        old.check()
    assert current_holder(object_store, SCOPE, clock=Clock(T0 + TTL + 1)) == holder("run-new")


def test_renew_after_a_takeover_fails_even_when_the_old_version_comes_back(
    request: pytest.FixtureRequest, object_store: FsspecBackend, leases: list[Lease]
) -> None:
    needs(request, object_store, "replace_if")
    # renewal must be a conditional replace, not a read-compare-then-write
    old = take(leases, object_store, holder("run-old"), clock=Clock(T0))
    assert isinstance(old, ObjectLease)
    assert object_store.replace_if(lease_path(SCOPE, local=False), b"{}", old.version) is not None
    with pytest.raises(LeaseLost):
        old.renew()


def test_releasing_a_lost_lease_leaves_the_new_holder_alone(
    object_store: FsspecBackend, leases: list[Lease]
) -> None:
    old = take(leases, object_store, holder("run-old"), clock=Clock(T0))
    new = take(leases, object_store, holder("run-new"), clock=Clock(T0 + TTL + 1))
    old.release()
    assert current_holder(object_store, SCOPE, clock=Clock(T0 + TTL + 1)) == holder("run-new")
    new.check()


def test_a_lease_not_renewed_before_it_expired_is_lost(
    object_store: FsspecBackend, leases: list[Lease]
) -> None:
    clock = Clock(T0)
    lease = take(leases, object_store, holder("run-first"), clock=clock)
    clock.now = T0 + TTL
    with pytest.raises(LeaseLost, match="not renewed before it expired"):
        lease.check()


def test_a_deleted_lease_object_makes_check_raise_lease_lost(
    object_store: FsspecBackend, leases: list[Lease]
) -> None:
    lease = take(leases, object_store, holder("run-first"))
    object_store.delete_file(lease_path(SCOPE, local=False))
    with pytest.raises(LeaseLost, match="deleted"):
        lease.check()


def test_an_unreadable_lease_object_is_held_not_taken_over(
    request: pytest.FixtureRequest, object_store: FsspecBackend
) -> None:
    needs(request, object_store, "create_if_absent")
    object_store.write_bytes(lease_path(SCOPE, local=False), b"not json")
    with pytest.raises(LeaseHeld, match="cannot be read") as info:
        acquire(object_store, SCOPE, holder("run-first"), clock=Clock(T0 + 10 * TTL))
    assert info.value.holder is None
    assert object_store.read_bytes(lease_path(SCOPE, local=False)) == b"not json"


def test_the_renewal_thread_renews_the_lease(
    object_store: FsspecBackend, leases: list[Lease]
) -> None:
    lease = take(leases, object_store, holder("run-first"), ttl=3.0)
    assert isinstance(lease, ObjectLease)
    first = lease.version
    path = lease_path(SCOPE, local=False)
    # ordered by what the store holds: wait for the thread's write to land (the deadline
    # only stops a broken thread from hanging the run)
    deadline = time.monotonic() + 60
    while (found := object_store.read_versioned(path)) is not None and found[1] == first:
        assert time.monotonic() < deadline, "the lease was never renewed"
    assert found is not None
    assert json.loads(found[0])["holder"]["run_id"] == "run-first"
    lease.check()


# --- local disk -------------------------------------------------------------------------


def test_a_local_lease_is_an_os_lock_in_foundrys_area(
    local: FsspecBackend, leases: list[Lease]
) -> None:
    lease = take(leases, local, holder("run-first"))
    assert isinstance(lease, LocalLease)
    assert local.local_root is not None
    path = Path(local.local_root, "_foundry", "leases", "system=shop", "table=orders.lock")
    assert lease.where == str(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_local_lease_held_says_the_lock_frees_when_the_process_exits(
    local: FsspecBackend, leases: list[Lease]
) -> None:
    take(leases, local, holder("run-first"))
    with pytest.raises(LeaseHeld, match="released when that process exits") as info:
        take(leases, local, holder("run-second"))
    assert info.value.expires_at is None


CHILD = """
import sys
from foundry_dsl.storage.local import local_backend
from foundry_dsl.storage.lease import Holder, acquire
lease = acquire(local_backend(sys.argv[1]), sys.argv[2], Holder.for_run("run-child", "shop.orders"))
print("held", flush=True)
sys.stdin.read()  # hold until killed
"""


def test_a_lease_held_by_a_killed_process_is_free(
    local: FsspecBackend, leases: list[Lease]
) -> None:
    assert local.local_root is not None
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, local.local_root, SCOPE],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO, text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "held\n"
        with pytest.raises(LeaseHeld) as info:
            take(leases, local, holder("run-parent"))
        assert info.value.holder is not None
        assert info.value.holder.pid == child.pid
        assert info.value.holder.run_id == "run-child"
        assert current_holder(local, SCOPE) == info.value.holder
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL
    assert current_holder(local, SCOPE) is None
    assert take(leases, local, holder("run-parent")).holder == holder("run-parent")


def test_release_keeps_the_lock_file_so_a_run_that_opened_it_still_conflicts(
    local: FsspecBackend, leases: list[Lease]
) -> None:
    first = take(leases, local, holder("run-first"))
    # a third run has opened the lock file and is about to try it
    early = os.open(first.where, os.O_RDWR)
    try:
        first.release()
        take(leases, local, holder("run-second"))
        # had release deleted the file, `early` would lock an orphan while run-second holds
        # the new file: two writers
        with pytest.raises(BlockingIOError):
            fcntl.flock(early, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(early)


def test_a_lock_file_that_is_a_symbolic_link_is_refused_and_its_target_left_alone(
    local: FsspecBackend, tmp_path: Path
) -> None:
    assert local.local_root is not None
    path = Path(local.local_root, "_foundry", "leases", "system=shop", "table=orders.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    target = tmp_path / "someone-elses-file"
    target.write_text("keep me")
    path.symlink_to(target)
    with pytest.raises(StorageError) as caught:
        acquire(local, SCOPE, holder("run-first"))
    assert str(caught.value) == (
        f"the lease's lock file {path} is a symbolic link; foundry does not follow one "
        "there: remove it (a run recreates the file)")
    assert target.read_text() == "keep me"
    with pytest.raises(StorageError, match="is a symbolic link"):
        current_holder(local, SCOPE)


def test_a_deleted_lock_file_makes_check_raise_lease_lost(
    local: FsspecBackend, leases: list[Lease]
) -> None:
    lease = take(leases, local, holder("run-first"))
    os.unlink(lease.where)
    with pytest.raises(LeaseLost, match="deleted"):
        lease.check()


def test_a_replaced_lock_file_makes_check_raise_lease_lost(
    local: FsspecBackend, leases: list[Lease]
) -> None:
    lease = take(leases, local, holder("run-first"))
    os.unlink(lease.where)
    Path(lease.where).write_text("")
    with pytest.raises(LeaseLost, match="replaced"):
        lease.check()


def test_lease_held_names_the_current_holder_not_a_dead_one(
    local: FsspecBackend, leases: list[Lease]
) -> None:
    # a run killed while holding the lock leaves its (longer) name in the file
    dead = Holder(run_id="run-killed-" + "x" * 200, host="h", pid=1,
                  started_at="2027-01-15T07:00:00Z", pipeline="shop.orders")
    assert local.local_root is not None
    path = Path(local.local_root, *lease_path(SCOPE, local=True).split("/"))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"holder": dead.to_json()}))
    take(leases, local, holder("run-short"))
    with pytest.raises(LeaseHeld) as info:
        take(leases, local, holder("run-third"))
    assert info.value.holder == holder("run-short")


def test_current_holder_does_not_take_a_free_local_lease(
    local: FsspecBackend, leases: list[Lease]
) -> None:
    take(leases, local, holder("run-first")).release()
    assert current_holder(local, SCOPE) is None
    take(leases, local, holder("run-second"))
    assert current_holder(local, SCOPE) == holder("run-second")


def test_holder_for_run_describes_this_process() -> None:
    me = Holder.for_run("run-1", "shop.orders", started=T0)
    assert me.pid == os.getpid()
    assert me.started_at == "2027-01-15T08:00:00Z"
    assert Holder.from_json(me.to_json()) == me


def test_lease_errors_are_storage_errors(tmp_path: Path) -> None:
    storage = ir.LocalStorage(path=str(tmp_path))
    backend = backend_for(make_pipeline(storage))
    lease = acquire(backend, SCOPE, holder("run-first"))
    try:
        with pytest.raises(StorageError):
            bounded(lambda: acquire(backend, SCOPE, holder("run-second")))
    finally:
        lease.release()
