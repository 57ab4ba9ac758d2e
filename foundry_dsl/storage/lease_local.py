"""Storage layer: leases on local disk, an OS lock on a lock file.

``flock(LOCK_EX | LOCK_NB)`` on ``<root>/_foundry/leases/<scope>.lock``, with
the holder written into it so a second run can name it. The kernel drops the
lock when the holding process dies, however it dies, so a local lease never
needs to expire: one that can be locked is free. flock belongs to the open file
description, so two acquisitions in one process conflict as two processes do.
The lock file is never deleted: deleting a locked file lets a third run lock a
new file of the same name while a second still holds the old one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import threading
import time

from foundry_dsl.errors import StorageError
from foundry_dsl.storage.lease_base import Holder, Lease, LeaseHeld, LeaseLost, lease_path


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


def lock_path(local_root: str, scope: str) -> str:
    """The lock file of ``scope`` under the backend's local root."""
    return os.path.join(local_root, *lease_path(scope, local=True).split("/"))


def _open_lock_file(path: str) -> int:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # O_CLOEXEC: a child the run starts must not keep the lock alive after the run dies
    return _open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _open(path: str, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that never follows a symbolic link at ``path``: a link planted there
    would have the run write its name into, and lock, whatever file it points to."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, mode)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise StorageError(
            f"the lease's lock file {path} is a symbolic link; foundry does not follow "
            "one there: remove it (a run recreates the file)") from None


def attempt_local(path: str, scope: str, holder: Holder) -> Lease | LeaseHeld:
    """The lease on ``scope`` locked at ``path``, or LeaseHeld naming the run that has it."""
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

    :func:`local_holder` takes a shared lock for an instant to look; a shared lock
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


def local_holder(path: str) -> Holder | None:
    """Who holds the lock at ``path`` now, or None when it is free."""
    try:
        fd = _open(path, os.O_RDONLY | os.O_CLOEXEC)
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
