"""Lease rules without emulators (scripts/mutate leases): object leases on an in-memory
store whose conditional writes keep to the contract of ``StorageBackend`` (versions
are counters), expiry by an injected clock, and the exact messages a user reads.
test_lease.py runs the same leases against every emulator and real processes."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from foundry_dsl.errors import StorageError
from foundry_dsl.storage.lease import (
    Holder,
    LeaseHeld,
    LeaseLost,
    acquire,
    current_holder,
    lease_path,
    try_acquire,
)
from foundry_dsl.storage.lease_base import check_scope, iso
from foundry_dsl.storage.lease_object import ObjectLease
from foundry_dsl.storage.local import local_backend
from tests.storage.memory_backend import MemoryBackend

SCOPE = "system=shop/table=orders"
PATH = "_foundry/leases/system=shop/table=orders.json"
WHERE = f"memory://lake/{PATH}"
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
TTL = 60.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Conditional(MemoryBackend):
    """A memory store with conditional writes: each write gives a new version number."""

    def __init__(self) -> None:
        super().__init__("lake", {})
        self.versions: dict[str, str] = {}
        self.counter = 0
        self.calls: list[str] = []

    def _bump(self, path: str, data: bytes) -> str:
        self.counter += 1
        self.files[path] = data
        self.versions[path] = str(self.counter)
        return self.versions[path]

    def create_if_absent(self, path: str, data: bytes) -> str | None:
        self.calls.append("create")
        return None if path in self.files else self._bump(path, data)

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        self.calls.append("read")
        return (self.files[path], self.versions[path]) if path in self.files else None

    def replace_if(self, path: str, data: bytes, version: str) -> str | None:
        self.calls.append("replace")
        if self.versions.get(path) != version:
            return None
        return self._bump(path, data)

    def delete_if(self, path: str, version: str) -> bool:
        self.calls.append("delete")
        if self.versions.get(path) != version:
            return False
        del self.files[path], self.versions[path]
        return True


def holder(run_id: str, pipeline: str = "shop.orders") -> Holder:
    return Holder(run_id=run_id, host=f"host-{run_id}", pid=4242,
                  started_at="2027-01-15T07:59:00Z", pipeline=pipeline)


def stored(backend: Conditional) -> dict[str, Any]:
    return json.loads(backend.files[PATH])


def take(backend: Conditional, run_id: str, clock: Clock, **kw: Any) -> ObjectLease:
    lease = acquire(backend, SCOPE, holder(run_id), clock=clock, **kw)
    assert isinstance(lease, ObjectLease)
    return lease


@pytest.fixture
def backend() -> Conditional:
    return Conditional()


# --- taking a lease ---------------------------------------------------------------------------


def test_a_free_scope_is_taken_with_the_holder_a_token_and_the_expiry(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    try:
        doc = stored(backend)
        assert doc["holder"] == holder("run-a").to_json()
        assert re.fullmatch(r"[0-9a-f]{32}", doc["token"])
        assert doc["expires_at"] == "2027-01-15T08:01:00.000+00:00"
        assert (lease.version, lease.expires_at, lease.lost) == ("1", T0 + TTL, None)
        assert lease.where == WHERE
        assert repr(lease) == f"ObjectLease({SCOPE}, run-a, version=1)"
    finally:
        lease.release()


def test_a_live_lease_is_held_naming_its_holder_and_expiry(backend: Conditional) -> None:
    first = take(backend, "run-a", Clock())
    try:
        with pytest.raises(LeaseHeld) as info:
            acquire(backend, SCOPE, holder("run-b"), clock=Clock(T0 + TTL - 1))
        assert info.value.message == (
            f"{SCOPE} is being written by run run-a (shop.orders) on host host-run-a, pid 4242, "
            f"started at 2027-01-15T07:59:00Z; its lease ({WHERE}) expires at "
            "2027-01-15T08:01:00.000+00:00 unless that run renews it. Two runs must not write "
            "the same partition at once: wait for that run to finish, then run again"
        )
        assert info.value.transient is False
        assert (info.value.holder, info.value.expires_at) == (holder("run-a"), iso(T0 + TTL))
        assert try_acquire(backend, SCOPE, holder("run-b"), clock=Clock(T0 + TTL - 1)) is None
    finally:
        first.release()


def test_an_expired_lease_is_taken_over_and_its_old_holder_has_lost_it(backend: Conditional) -> None:
    old_clock = Clock()
    first = take(backend, "run-a", old_clock)
    second = take(backend, "run-b", Clock(T0 + TTL))
    try:
        assert stored(backend)["holder"]["run_id"] == "run-b"
        old_clock.now = T0 + 1  # the first run's clock: its lease still looks live to it
        with pytest.raises(LeaseLost) as info:
            first.check()
        assert info.value.message == (
            f"lost the lease on {SCOPE}: it was taken over by run run-b (shop.orders) on host "
            "host-run-b, pid 4242, started at 2027-01-15T07:59:00Z; this run stops writing so "
            "that it cannot overwrite another run's data (run again once the scope is free)"
        )
        second.check()
    finally:
        first.release()
        second.release()
    assert PATH not in backend.files  # the lost lease left the new holder's object alone


def test_a_lease_object_that_cannot_be_read_never_expires(backend: Conditional) -> None:
    backend._bump(PATH, b"not json")
    with pytest.raises(LeaseHeld) as info:
        acquire(backend, SCOPE, holder("run-b"), clock=Clock(T0 + 10 * TTL))
    assert info.value.message == (
        f"{SCOPE} is being written by another run (it has not recorded who it is yet); its "
        f"lease object {WHERE} cannot be read, so it never expires: delete it if no run is "
        "writing. Two runs must not write the same partition at once: wait for that run to "
        "finish, then run again"
    )


@pytest.mark.parametrize("doc", [{"token": "t", "expires_at": "2027-01-15T08:01:00"},
                                 {"token": "t"}, {"expires_at": "2027-01-15T08:01:00+00:00"},
                                 ["not", "an", "object"]])
def test_a_lease_without_a_zoned_expiry_or_a_token_is_unreadable(
        backend: Conditional, doc: Any) -> None:
    backend._bump(PATH, json.dumps(doc).encode())
    with pytest.raises(LeaseHeld, match="cannot be read, so it never expires"):
        acquire(backend, SCOPE, holder("run-b"), clock=Clock(T0 + 10 * TTL))


def test_a_lease_released_between_the_create_and_the_read_is_taken_next_round() -> None:
    class Vanishing(Conditional):
        def read_versioned(self, path: str) -> tuple[bytes, str] | None:
            if self.calls.count("read") == 0:
                self.calls.append("read")
                del self.files[path], self.versions[path]  # its holder released it meanwhile
                return None
            return super().read_versioned(path)

    backend = Vanishing()
    backend._bump(PATH, b"{}")
    lease = take(backend, "run-b", Clock())
    lease.release()
    assert backend.calls[:3] == ["create", "read", "create"]


def test_our_own_create_whose_answer_was_lost_is_ours() -> None:
    class LostAnswer(Conditional):
        def create_if_absent(self, path: str, data: bytes) -> str | None:
            super().create_if_absent(path, data)
            return None  # written, but the answer never came back

    backend = LostAnswer()
    lease = take(backend, "run-a", Clock())
    assert (lease.version, lease.expires_at) == ("1", T0 + TTL)
    lease.release()


def test_a_takeover_whose_answer_was_lost_is_ours() -> None:
    class LostReplace(Conditional):
        def replace_if(self, path: str, data: bytes, version: str) -> str | None:
            super().replace_if(path, data, version)
            return None

    backend = LostReplace()
    backend._bump(PATH, json.dumps({"holder": holder("run-a").to_json(), "token": "old",
                                    "expires_at": iso(T0)}).encode())
    lease = take(backend, "run-b", Clock(T0 + 1))
    assert (lease.version, lease.expires_at) == ("2", T0 + 1 + TTL)
    lease.release()


def test_a_takeover_lost_to_a_faster_run_names_that_run() -> None:
    class Faster(Conditional):
        def replace_if(self, path: str, data: bytes, version: str) -> str | None:
            self._bump(path, json.dumps({"holder": holder("run-c").to_json(), "token": "c",
                                         "expires_at": iso(T0 + 100)}).encode())
            return None

    backend = Faster()
    backend._bump(PATH, json.dumps({"holder": holder("run-a").to_json(), "token": "old",
                                    "expires_at": iso(T0)}).encode())
    with pytest.raises(LeaseHeld) as info:
        acquire(backend, SCOPE, holder("run-b"), clock=Clock(T0 + 1))
    assert info.value.holder == holder("run-c")


def test_a_lease_that_changes_on_every_round_is_a_transient_error() -> None:
    class Flapping(Conditional):
        def create_if_absent(self, path: str, data: bytes) -> str | None:
            self.calls.append("create")
            return None

        def read_versioned(self, path: str) -> tuple[bytes, str] | None:
            self.calls.append("read")
            return None

    backend = Flapping()
    with pytest.raises(StorageError) as info:
        acquire(backend, SCOPE, holder("run-b"), clock=Clock())
    assert info.value.message == (
        f"the lease on {SCOPE} ({WHERE}) changed on every one of 8 attempts to take it; "
        "try again"
    )
    assert info.value.transient is True
    assert backend.calls.count("create") == 8


@pytest.mark.parametrize("ttl", [0, -1])
def test_a_lease_needs_a_positive_ttl(backend: Conditional, ttl: float) -> None:
    with pytest.raises(ValueError) as info:
        acquire(backend, SCOPE, holder("run-a"), ttl=ttl)
    assert str(info.value) == f"a lease's ttl must be positive, not {ttl}"


def test_a_backend_with_a_url_method_names_the_lease_by_it() -> None:
    class WithUrl(Conditional):
        def url(self, path: str) -> str:
            return f"s3://bucket/{path}"

    lease = take(WithUrl(), "run-a", Clock())
    assert lease.where == f"s3://bucket/{PATH}"
    lease.release()


def test_a_backend_without_a_root_names_the_lease_by_its_path() -> None:
    backend = Conditional()
    backend.root_url = ""
    lease = take(backend, "run-a", Clock())
    assert lease.where == PATH
    lease.release()


# --- who holds it --------------------------------------------------------------------------------


def test_current_holder_is_the_live_holder_only(backend: Conditional) -> None:
    assert current_holder(backend, SCOPE, clock=Clock()) is None
    lease = take(backend, "run-a", Clock())
    try:
        assert current_holder(backend, SCOPE, clock=Clock(T0 + TTL - 1)) == holder("run-a")
        assert current_holder(backend, SCOPE, clock=Clock(T0 + TTL)) is None
    finally:
        lease.release()
    backend._bump(PATH, b"garbage")
    assert current_holder(backend, SCOPE, clock=Clock()) is None


# --- check, renew, release -------------------------------------------------------------------------


def test_check_passes_while_the_version_is_ours(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    lease.check()
    lease.check()
    assert backend.calls.count("read") == 2
    lease.release()


def test_check_fails_once_the_lease_has_expired_unrenewed(backend: Conditional) -> None:
    clock = Clock()
    lease = take(backend, "run-a", clock)
    clock.now = T0 + TTL
    with pytest.raises(LeaseLost) as info:
        lease.check()
    assert info.value.reason == (
        "it was not renewed before it expired at 2027-01-15T08:01:00.000+00:00")
    assert lease.lost == info.value.reason
    with pytest.raises(LeaseLost, match="not renewed before it expired"):
        lease.check()  # lost for good, even if the clock went back
    lease.release()
    assert PATH in backend.files  # a lost lease is not ours to delete


def test_check_fails_when_the_lease_object_was_deleted(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    del backend.files[PATH], backend.versions[PATH]
    with pytest.raises(LeaseLost) as info:
        lease.check()
    assert info.value.reason == f"its lease object {WHERE} was deleted"
    lease.release()


def test_check_adopts_our_own_write_whose_answer_was_lost(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    doc = stored(backend)
    doc["expires_at"] = iso(T0 + 2 * TTL)
    backend._bump(PATH, json.dumps(doc).encode())
    lease.check()
    assert (lease.version, lease.expires_at) == ("2", T0 + 2 * TTL)
    lease.release()
    assert PATH not in backend.files


def test_check_of_a_lease_replaced_by_an_unknown_run(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    backend._bump(PATH, b"{}")
    with pytest.raises(LeaseLost) as info:
        lease.check()
    assert info.value.reason == "it was replaced by another run"
    lease.release()


def test_renew_extends_the_lease_from_now(backend: Conditional) -> None:
    clock = Clock()
    lease = take(backend, "run-a", clock)
    clock.now = T0 + 30
    lease.renew()
    assert (lease.version, lease.expires_at) == ("2", T0 + 30 + TTL)
    assert stored(backend)["expires_at"] == iso(T0 + 30 + TTL)
    lease.release()


def test_renew_of_a_deleted_lease_loses_it(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    del backend.files[PATH], backend.versions[PATH]
    with pytest.raises(LeaseLost, match=f"its lease object {re.escape(WHERE)} was deleted"):
        lease.renew()
    lease.release()


def test_renew_of_a_lease_taken_over_loses_it(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    backend._bump(PATH, json.dumps({"holder": holder("run-b").to_json(), "token": "b",
                                    "expires_at": iso(T0 + 100)}).encode())
    with pytest.raises(LeaseLost, match="it was taken over by run run-b"):
        lease.renew()
    lease.release()
    assert stored(backend)["token"] == "b"


def test_renew_adopts_our_own_write_whose_answer_was_lost(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    doc = stored(backend)
    doc["expires_at"] = iso(T0 + 5)
    backend._bump(PATH, json.dumps(doc).encode())
    lease.renew()  # refused at the old version; the object is still ours
    assert (lease.version, lease.expires_at) == ("2", T0 + 5)
    lease.release()


def test_release_deletes_the_lease_once_and_then_it_is_released(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    lease.release()
    lease.release()
    assert PATH not in backend.files
    assert backend.calls.count("delete") == 1
    with pytest.raises(LeaseLost) as info:
        lease.check()
    assert info.value.reason == "it was released"
    with pytest.raises(LeaseLost, match="it was released"):
        lease.renew()


def test_release_leaves_a_lease_another_run_replaced(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    backend._bump(PATH, b"{}")
    lease.release()
    assert PATH in backend.files
    assert "delete" not in backend.calls


def test_leaving_the_context_releases_the_lease(backend: Conditional) -> None:
    with take(backend, "run-a", Clock()):
        assert PATH in backend.files
    assert PATH not in backend.files


def test_a_release_failure_does_not_hide_why_the_context_failed(
        backend: Conditional, caplog: pytest.LogCaptureFixture) -> None:
    lease = take(backend, "run-a", Clock())

    def fail(path: str) -> None:
        raise StorageError("store down")

    backend.read_versioned = fail  # type: ignore[assignment,method-assign]
    with caplog.at_level(logging.WARNING, logger="foundry.storage"), \
            pytest.raises(RuntimeError, match="the real failure"), lease:
        raise RuntimeError("the real failure")
    assert [r.getMessage() for r in caplog.records] == [
        f"could not release the lease on {SCOPE}: store down"]


def test_a_release_failure_after_success_is_raised(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())

    def fail(path: str) -> None:
        raise StorageError("store down")

    backend.read_versioned = fail  # type: ignore[assignment,method-assign]
    with pytest.raises(StorageError, match="store down"), lease:
        pass


# --- the renewal thread, driven tick by tick ------------------------------------------------------


def looping(backend: Conditional, clock: Clock, ttl: float = 0.03) -> ObjectLease:
    """A lease whose renewal loop the test runs on its own thread (10 ms ticks)."""
    lease = ObjectLease(backend, SCOPE, holder("run-a"), path=PATH, token="t", version="0",
                        expires_at=clock() + ttl, ttl=ttl, clock=clock, renew=False)
    backend.versions[PATH], backend.files[PATH] = "0", b"{}"
    return lease


def test_the_loop_renews_until_stopped(backend: Conditional) -> None:
    lease = looping(backend, Clock())
    real = backend.replace_if

    def replace_if(path: str, data: bytes, version: str) -> str | None:
        if backend.calls.count("replace") == 1:
            lease._stop.set()  # the second renewal is the last
        return real(path, data, version)

    backend.replace_if = replace_if  # type: ignore[method-assign]
    lease._renew_loop()
    assert backend.calls == ["replace", "replace"]
    assert lease.lost is None and lease.version == "2"


def test_the_loop_stops_once_the_lease_is_lost(backend: Conditional) -> None:
    lease = looping(backend, Clock())
    backend._bump(PATH, b"{}")  # replaced by someone: the first renewal loses it
    lease._renew_loop()
    assert lease.lost == "it was replaced by another run"


def test_the_loop_retries_a_store_failure_while_the_lease_lasts(
        backend: Conditional, caplog: pytest.LogCaptureFixture) -> None:
    lease = looping(backend, Clock())

    def replace_if(path: str, data: bytes, version: str) -> str | None:
        backend.calls.append("replace")
        if backend.calls.count("replace") == 2:
            lease._stop.set()
        raise StorageError("503 slow down")

    backend.replace_if = replace_if  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="foundry.storage"):
        lease._renew_loop()
    assert backend.calls == ["replace", "replace"]
    assert lease.lost is None
    assert [r.getMessage() for r in caplog.records] == [
        f"could not renew the lease on {SCOPE} (will retry): 503 slow down"] * 2


def test_the_loop_gives_up_a_lease_it_could_not_renew_before_it_expired(
        backend: Conditional) -> None:
    clock = Clock()
    lease = looping(backend, clock)

    def replace_if(path: str, data: bytes, version: str) -> str | None:
        clock.now = T0 + 1  # past the 30 ms lease
        raise StorageError("503 slow down")

    backend.replace_if = replace_if  # type: ignore[method-assign]
    lease._renew_loop()
    assert lease.lost == "it could not be renewed before it expired: 503 slow down"
    with pytest.raises(LeaseLost, match="could not be renewed before it expired"):
        lease.check()


def test_the_loop_marks_the_lease_lost_when_renewing_breaks(
        backend: Conditional, caplog: pytest.LogCaptureFixture) -> None:
    lease = looping(backend, Clock())

    def replace_if(path: str, data: bytes, version: str) -> str | None:
        raise KeyError("bug")

    backend.replace_if = replace_if  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="foundry.storage"):
        lease._renew_loop()
    assert lease.lost == "renewing it failed: KeyError: 'bug'"
    assert [r.getMessage() for r in caplog.records] == [f"renewing the lease on {SCOPE} failed"]


def test_the_renewal_thread_is_joined_on_release(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    thread = lease._thread
    assert thread is not None and thread.daemon and thread.name == f"foundry-lease {SCOPE}"
    lease.release()
    assert not thread.is_alive()


# --- holders, scopes, messages -------------------------------------------------------------------


def test_a_holder_for_this_run_names_this_process() -> None:
    h = Holder.for_run("run-1", "shop.orders", started=T0 + 0.9)
    assert (h.host, h.pid, h.started_at) == (socket.gethostname(), os.getpid(),
                                             "2027-01-15T08:00:00Z")


@pytest.mark.parametrize(
    "data",
    [None, [], {"run_id": "r", "host": "h", "pid": "x", "started_at": "s"},
     {"host": "h", "pid": 1, "started_at": "s"}, {"run_id": "r", "host": "h", "pid": None,
                                                  "started_at": "s"}],
)
def test_what_is_no_holder_reads_as_none(data: object) -> None:
    assert Holder.from_json(data) is None


def test_a_holder_without_a_pipeline_reads_and_describes_without_it() -> None:
    h = Holder.from_json({"run_id": 7, "host": "h", "pid": "12", "started_at": "s"})
    assert h == Holder("7", "h", 12, "s", "")
    assert h is not None and h.describe() == "run 7 on host h, pid 12, started at s"


def test_a_local_lock_is_held_until_its_process_exits(tmp_path: Path) -> None:
    backend = local_backend(str(tmp_path))
    with acquire(backend, SCOPE, holder("run-a")):
        with pytest.raises(LeaseHeld) as info:
            acquire(backend, SCOPE, holder("run-b"))
        lock = tmp_path / "_foundry" / "leases" / "system=shop" / "table=orders.lock"
        assert info.value.message.endswith(
            f"the lock ({lock}) is released when that process exits. Two runs must not "
            "write the same partition at once: wait for that run to finish, then run again")
        assert current_holder(backend, SCOPE) == holder("run-a")
    assert current_holder(backend, SCOPE) is None
    assert lock.read_bytes() == b""  # the name is cleared on release; the file stays


def test_lease_paths_by_kind() -> None:
    assert lease_path(SCOPE, local=True) == "_foundry/leases/system=shop/table=orders.lock"
    assert lease_path(SCOPE, local=False) == PATH


@pytest.mark.parametrize("scope", ["", "/a", "a//b", "a/./b", "a/../b", "a\\b", ".."])
def test_unsafe_scopes_are_refused(scope: str) -> None:
    with pytest.raises(ValueError) as info:
        check_scope(scope)
    assert str(info.value) == (
        f"a lease scope is a relative path like 'system=s/table=t', not {scope!r}")


def test_times_are_utc_to_the_millisecond_or_the_second() -> None:
    assert iso(T0 + 0.5) == "2027-01-15T08:00:00.500+00:00"
    assert iso(T0 + 0.5, seconds=True) == "2027-01-15T08:00:00Z"



# --- more edges the mutants showed ----------------------------------------------------------


def test_a_lease_shorter_than_a_second_is_a_lease(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock(), ttl=0.5)
    assert lease.expires_at == T0 + 0.5
    lease.release()


def test_a_backend_whose_local_root_is_no_text_leases_by_objects(backend: Conditional) -> None:
    backend.local_root = 5  # type: ignore[attr-defined]
    lease = take(backend, "run-a", Clock())
    assert isinstance(lease, ObjectLease)
    lease.release()


def test_try_acquire_of_a_free_scope_is_the_lease(backend: Conditional) -> None:
    lease = try_acquire(backend, SCOPE, holder("run-a"), clock=Clock())
    assert isinstance(lease, ObjectLease) and lease.holder == holder("run-a")
    lease.release()


def test_a_holder_for_this_run_started_now() -> None:
    h = Holder.for_run("run-1", "shop.orders")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", h.started_at)


def test_lease_errors_carry_their_scope_and_where_and_are_not_transient(
        backend: Conditional) -> None:
    lost = LeaseLost(SCOPE, "gone")
    assert (lost.scope, lost.reason, lost.transient) == (SCOPE, "gone", False)
    first = take(backend, "run-a", Clock())
    with pytest.raises(LeaseHeld) as info:
        acquire(backend, SCOPE, holder("run-b"), clock=Clock())
    assert (info.value.scope, info.value.where) == (SCOPE, WHERE)
    first.release()
    backend._bump(PATH, b"garbage")
    with pytest.raises(LeaseHeld) as info:
        acquire(backend, SCOPE, holder("run-b"), clock=Clock())
    assert info.value.where == WHERE


def test_the_lease_object_is_sorted_json(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    doc = stored(backend)
    assert backend.files[PATH] == json.dumps(
        {"expires_at": doc["expires_at"], "holder": doc["holder"], "token": doc["token"]}).encode()
    assert list(doc["holder"]) == sorted(doc["holder"])
    lease.release()


@pytest.mark.parametrize("root", ["memory://lake/", "memory://lakeX/"])
def test_the_lease_is_named_below_the_root_with_one_slash(root: str) -> None:
    backend = Conditional()
    backend.root_url = root
    lease = take(backend, "run-a", Clock())
    assert lease.where == f"{root}{PATH}"
    lease.release()


def test_a_takeover_names_the_version_it_wrote_and_says_so_in_the_log(
        backend: Conditional, caplog: pytest.LogCaptureFixture) -> None:
    first = take(backend, "run-a", Clock())
    with caplog.at_level(logging.INFO, logger="foundry.storage"):
        second = take(backend, "run-b", Clock(T0 + TTL))
    assert second.version == "2"
    assert [r.getMessage() for r in caplog.records] == [
        f"taking over the expired lease on {SCOPE} from run run-a (shop.orders) on host "
        "host-run-a, pid 4242, started at 2027-01-15T07:59:00Z"]
    first.release()
    second.release()


def test_a_takeover_from_an_unnamed_run_says_so_in_the_log(
        backend: Conditional, caplog: pytest.LogCaptureFixture) -> None:
    backend._bump(PATH, json.dumps({"token": "x", "expires_at": iso(T0)}).encode())
    with caplog.at_level(logging.INFO, logger="foundry.storage"):
        lease = take(backend, "run-b", Clock(T0 + 1))
    assert [r.getMessage() for r in caplog.records] == [
        f"taking over the expired lease on {SCOPE} from an unknown run"]
    lease.release()


def test_losing_a_lease_is_logged_and_raised_with_its_scope(
        backend: Conditional, caplog: pytest.LogCaptureFixture) -> None:
    lease = take(backend, "run-a", Clock())
    backend._bump(PATH, b"{}")
    with caplog.at_level(logging.WARNING, logger="foundry.storage"), \
            pytest.raises(LeaseLost) as info:
        lease.check()
    assert info.value.scope == SCOPE
    assert [r.getMessage() for r in caplog.records] == [
        f"lost the lease on {SCOPE}: it was replaced by another run"]
    with pytest.raises(LeaseLost) as again:
        lease.check()
    assert (again.value.scope, again.value.reason) == (SCOPE, "it was replaced by another run")
    lease.release()


def test_a_released_lease_raises_with_its_scope(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    lease.release()
    with pytest.raises(LeaseLost) as info:
        lease.check()
    assert info.value.message == (
        f"lost the lease on {SCOPE}: it was released; this run stops writing so that it "
        "cannot overwrite another run's data (run again once the scope is free)")


def test_renew_keeps_the_token(backend: Conditional) -> None:
    lease = take(backend, "run-a", Clock())
    token = stored(backend)["token"]
    lease.renew()
    assert stored(backend)["token"] == token
    lease.release()


def test_a_lease_without_a_renewal_thread_releases(backend: Conditional) -> None:
    lease = looping(backend, Clock())
    lease.release()
    assert PATH not in backend.files


def test_the_renewal_thread_renews_on_its_own(backend: Conditional) -> None:
    renewed = threading.Event()
    real = backend.replace_if

    def replace_if(path: str, data: bytes, version: str) -> str | None:
        renewed.set()
        return real(path, data, version)

    backend.replace_if = replace_if  # type: ignore[method-assign]
    lease = take(backend, "run-a", Clock(), ttl=0.03)  # renewed every 10 ms
    try:
        assert renewed.wait(30), "the renewal thread never renewed"  # a bound, not a measure
    finally:
        lease.release()


def test_the_loop_gives_up_at_the_very_moment_the_lease_expires(backend: Conditional) -> None:
    clock = Clock()
    lease = looping(backend, clock)

    def replace_if(path: str, data: bytes, version: str) -> str | None:
        clock.now = lease.expires_at
        raise StorageError("503 slow down")

    backend.replace_if = replace_if  # type: ignore[method-assign]
    lease._renew_loop()
    assert lease.lost == "it could not be renewed before it expired: 503 slow down"


# --- local locks -------------------------------------------------------------------------------


def test_a_local_lease_names_its_scope_and_loses_it_in_exact_words(tmp_path: Path) -> None:
    backend = local_backend(str(tmp_path))
    lock = tmp_path / "_foundry" / "leases" / "system=shop" / "table=orders.lock"
    lease = acquire(backend, SCOPE, holder("run-a"))
    assert (lease.scope, repr(lease)) == (SCOPE, f"LocalLease({SCOPE}, run-a)")
    lock.unlink()
    with pytest.raises(LeaseLost) as info:
        lease.check()
    assert (info.value.scope, info.value.reason) == (SCOPE, f"its lock file {lock} was deleted")
    lock.write_text("")  # another file of that name
    with pytest.raises(LeaseLost) as info:
        lease.check()
    assert (info.value.scope, info.value.reason) == (SCOPE, f"its lock file {lock} was replaced")
    lease.release()
    with pytest.raises(LeaseLost) as info:
        lease.check()
    assert (info.value.scope, info.value.reason) == (SCOPE, "it was released")


def test_the_lock_file_is_readable_by_all_and_writable_by_its_owner(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        lease = acquire(local_backend(str(tmp_path)), SCOPE, holder("run-a"))
    finally:
        os.umask(old)
    lock = tmp_path / "_foundry" / "leases" / "system=shop" / "table=orders.lock"
    assert lock.stat().st_mode & 0o777 == 0o644
    lease.release()


def test_a_run_only_looking_at_the_lock_keeps_others_out_until_it_stops(tmp_path: Path) -> None:
    import fcntl

    backend = local_backend(str(tmp_path))
    acquire(backend, SCOPE, holder("run-a")).release()  # the lock file exists
    lock = tmp_path / "_foundry" / "leases" / "system=shop" / "table=orders.lock"
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # what current_holder does for an instant, held on
        with pytest.raises(LeaseHeld) as info:
            acquire(backend, SCOPE, holder("run-b"))
        assert info.value.holder is None
    finally:
        os.close(fd)
    acquire(backend, SCOPE, holder("run-b")).release()
