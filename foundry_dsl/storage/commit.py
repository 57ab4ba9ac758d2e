"""Storage layer: the commit protocol, the only way landed data becomes visible.

The executor hands each finished data file to :meth:`PartitionCommitter.upload`
and, when all are up, the run's metadata to :meth:`PartitionCommitter.commit`.
What it hands on: a partition whose ``_metadata.json`` (the commit marker,
always written last) lists exactly the partition's data files.

Uploads go to the staging area at the storage root (``layout.py``), never into
a ``system=.../table=...`` folder, so no reader's glob sees them. Then, by
backend:

**Local disk** swaps the staged folder (``_metadata.json`` written into it
first) with the partition folder in one ``renameat2(RENAME_EXCHANGE)`` call, on
the same filesystem, so a reader that lists the folder sees the old partition
or the new one, never a mix. Where the exchange is unavailable it falls back to
two renames (old folder to ``_foundry/staging/<partition>/old-<tag>``, new
folder in); between them the partition is briefly absent, never mixed, and
recovery (``recover.py``) puts the old one back if the run dies there.

**Object stores** (and custom backends) have no rename. At commit the staged
files are copied server-side into the partition, every one is checked to be
there, then ``_metadata.json`` is written in one PUT (atomic on S3, Azure and
GCS), then the previous commit's files and the staged copies are deleted. Until
that PUT the committed metadata names only the old files, all still present;
afterwards only the new ones. A reader that takes its file list from
``_metadata.json`` always sees one whole commit; a reader that globs the prefix
sees both for the few requests the copy takes (docs/commit-protocol.md).

On every backend the files are named anew per commit (``part-0001-<tag>.parquet``),
so they cannot collide with the committed ones. Before the marker is written the
committer calls its ``guard`` (the executor passes "do I still hold the
partition's lease?"), so a run that lost its lease never commits. A run that
dies at any moment leaves the previous commit readable; ``recover.py`` removes
what it left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable
from typing import Any

from foundry_dsl.errors import CommitError, FoundryError
from foundry_dsl.storage.base import StorageBackend
from foundry_dsl.storage.layout import (
    ATTEMPT,
    METADATA_FILE,
    OLD,
    STAGING,
    check_path,
    committed_metadata,
    direct_files,
    listed_names,
    local_root,
    refuse_links,
    staging_prefix,
    tagged_name,
)

log = logging.getLogger("foundry.storage")


class PartitionCommitter:
    """Uploads one run's files for one partition and commits them, or aborts."""

    def __init__(
        self,
        backend: StorageBackend,
        partition_path: str,
        run_id: str,
        guard: Callable[[], None] | None = None,
        tag: str | None = None,
    ) -> None:
        self.backend = backend
        self.partition_path = check_path(partition_path)
        self.run_id = run_id
        #: raises when this run may no longer commit (it lost its lease)
        self.guard = guard or (lambda: None)
        #: 8 random hex digits, fresh per attempt, so a retried run never overwrites
        #: the files of the commit it replaces even when its run_id is the same
        #: given: join the attempt of the run's committer (a unit of work landed elsewhere
        #: stages its files where the driver's committer commits them)
        self.tag = tag or secrets.token_hex(4)
        self.joined = tag is not None  # then its abort removes its own files only
        self.staging = f"{staging_prefix(self.partition_path)}/{ATTEMPT}{self.tag}"
        self._lock = threading.Lock()
        self._files: dict[str, str] = {}  # local basename -> final name
        self._sizes: dict[str, int] = {}
        self._state = "open"
        root = local_root(backend)
        self._local = LocalFolders(root, self.partition_path, self.tag) if root else None

    # --- upload ---------------------------------------------------------------------

    def upload(self, local_path: str) -> str:
        """Stage one finished data file; returns its final name in the partition."""
        name = os.path.basename(local_path)
        if not name or name == METADATA_FILE or name.startswith(("_", ".")):
            raise CommitError(
                f"partition {self.partition_path}: cannot upload '{name}': names starting "
                "with '_' or '.' are reserved (readers skip them)"
            )
        # a name of its own per commit, on every backend: a reader whose listing straddles a
        # commit then fails to open a file (and reads again) instead of mixing two commits
        final = tagged_name(name, self.tag)
        with self._lock:
            self._expect_open("upload")
            if name in self._files:
                raise CommitError(
                    f"partition {self.partition_path}: two data files are named '{name}'"
                )
            self._files[name] = final  # reserve before the slow part, outside the lock
        size = os.path.getsize(local_path)
        try:
            if self._local:
                self._local.check()  # never stage through a link out of the root
            self.backend.upload_file(local_path, f"{self.staging}/{final}")
        except BaseException:
            with self._lock:
                self._files.pop(name, None)
            raise
        with self._lock:
            self._sizes[name] = size
        return final

    def staged(self) -> list[tuple[str, str, int]]:
        """(name as uploaded, name in the partition, bytes) of every staged file."""
        with self._lock:
            return [(n, self._files[n], self._sizes[n]) for n in sorted(self._sizes)]

    def adopt(self, staged: list[tuple[str, str, int]]) -> None:
        """Take files another committer of this attempt staged (a unit landed elsewhere)."""
        with self._lock:
            self._expect_open("adopt files")
            for name, final, size in staged:
                if name in self._files:
                    raise CommitError(
                        f"partition {self.partition_path}: two data files are named '{name}'"
                    )
                self._files[name] = final
                self._sizes[name] = size

    # --- commit -----------------------------------------------------------------------

    def commit(self, metadata: dict[str, Any]) -> None:
        """Write ``_metadata.json`` last, then remove the previous commit's files.

        ``metadata["files"]`` may list the run's files by local name (strings, or
        dicts with ``name`` plus figures such as ``rows``); each entry's name is
        rewritten to the final name and given ``size``, and uploaded files missing
        from the list are added, so the committed list is exactly the partition.
        """
        with self._lock:
            self._expect_open("commit")
            if len(self._sizes) != len(self._files):
                raise CommitError(
                    f"partition {self.partition_path}: commit while uploads are still running"
                )
            self._state = "committing"
        metadata["files"] = self._file_entries(metadata.get("files"))
        metadata.setdefault("num_files", len(metadata["files"]))
        metadata.setdefault("partition_path", self.partition_path + "/")
        metadata.setdefault("run_id", self.run_id)
        data = json.dumps(metadata, indent=2, sort_keys=True, default=str).encode()
        names = {e["name"] for e in metadata["files"]}
        try:
            if self._local:
                self._local.commit(data, names, self.guard)
            else:
                self._commit_object_store(data, names)
        except FoundryError as exc:
            self._state = "failed"
            raise CommitError(
                f"partition {self.partition_path}: commit failed, the previous commit is intact: "
                f"{exc.message}",
                transient=exc.transient,
            ) from None
        except OSError as exc:
            self._state = "failed"
            raise CommitError(
                f"partition {self.partition_path}: commit failed, the previous commit is intact: "
                f"{exc}"
            ) from None
        self._state = "committed"

    def _commit_object_store(self, data: bytes, names: set[str]) -> None:
        for name in sorted(names):
            self.backend.copy_file(f"{self.staging}/{name}", f"{self.partition_path}/{name}")
        present = set(direct_files(self.backend, self.partition_path))
        missing = sorted(names - present)
        if missing:
            raise CommitError(
                f"partition {self.partition_path}: {len(missing)} file(s) to commit are not in "
                f"the store ({', '.join(missing[:3])}); another run may have removed them"
            )
        self.guard()
        self.backend.write_bytes(f"{self.partition_path}/{METADATA_FILE}", data)
        # committed from here on; what follows only removes files no reader is told about
        try:
            for name in sorted(present):
                if name not in names and name != METADATA_FILE and not name.startswith(("_", ".")):
                    self.backend.delete_file(f"{self.partition_path}/{name}")
            # with the files of dead attempts of units of work, which no commit lists
            for path in sorted(self.backend.list_files(self.staging)):
                self.backend.delete_file(path)
        except FoundryError as exc:
            log.warning("partition %s is committed, but removing old files failed (%s); "
                        "the next run removes them", self.partition_path, exc.message)

    def _file_entries(self, given: Any) -> list[dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {}
        for item in given or []:
            entry = {"name": item} if isinstance(item, str) else dict(item)
            name = os.path.basename(str(entry.get("name") or entry.get("path") or ""))
            if name not in self._files:
                raise CommitError(
                    f"partition {self.partition_path}: metadata lists '{name}', "
                    "which was not uploaded"
                )
            entry.pop("path", None)
            entries[name] = entry
        out = []
        for name in sorted(self._files, key=lambda n: self._files[n]):
            entry = entries.get(name, {})
            entry["name"] = self._files[name]
            entry.setdefault("size", self._sizes[name])
            out.append(entry)
        return out

    # --- abort ------------------------------------------------------------------------

    def abort(self) -> None:
        """Remove what this run staged or copied; the previous commit stays as it was."""
        with self._lock:
            if self._state == "committed":
                return
            self._state = "aborted"
            finals = list(self._files.values())
        if self.joined:
            # the attempt's folder is shared with the run's other units: only ours go
            for final in finals:
                self.backend.delete_file(f"{self.staging}/{final}")
            return
        if self._local:
            self._local.discard()
            return
        meta = committed_metadata(self.backend, self.partition_path)
        listed = listed_names(meta) or set()
        for final in finals:
            self.backend.delete_file(f"{self.staging}/{final}")
            if final not in listed:  # a copy made before the commit failed
                self.backend.delete_file(f"{self.partition_path}/{final}")

    def _expect_open(self, what: str) -> None:
        if self._state != "open":
            raise CommitError(
                f"partition {self.partition_path}: cannot {what}, this run is {self._state}"
            )


# --- local disk: build aside, swap in one syscall ---------------------------------------

AT_FDCWD = -100
RENAME_EXCHANGE = 2


def _exchange(a: str, b: str) -> bool:
    """Atomically swap two paths; False when the platform or filesystem cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, f"renameat2 exchange failed: {os.strerror(err)}", a)


class LocalFolders:
    """The partition folder and, in the staging area, one attempt's folders."""

    def __init__(self, root: str, partition_path: str, tag: str = "") -> None:
        self.root = root
        self.final = os.path.join(root, *partition_path.split("/"))
        self.parent = os.path.dirname(self.final)
        self.area = os.path.join(root, *staging_prefix(partition_path).split("/"))
        self.staging = os.path.join(self.area, ATTEMPT + tag)
        self.old = os.path.join(self.area, OLD + tag)
        leaf = os.path.basename(self.final)
        # where foundry before 0.2 staged, beside the partition: cleaned up, never used
        self.legacy = (f".{leaf}.staging-", f".{leaf}.old-")

    def check(self) -> None:
        """CommitError when the partition folder, a folder above it, or the staging area
        is a symbolic link, or lies outside the root: nothing is moved through a link."""
        refuse_links(self.root, self.final, "partition folder")
        refuse_links(self.root, self.staging, "staging folder")
        refuse_links(self.root, self.old, "staging folder")

    def commit(self, metadata: bytes, names: set[str], guard: Callable[[], None]) -> None:
        self.check()
        os.makedirs(self.staging, exist_ok=True)
        missing = sorted(n for n in names if not os.path.isfile(os.path.join(self.staging, n)))
        if missing:
            raise CommitError(
                f"{len(missing)} file(s) to commit are not staged ({', '.join(missing[:3])}); "
                "another run may have removed them"
            )
        for name in os.listdir(self.staging):
            # a dead attempt of a unit of work staged these: never listed, never committed
            if name not in names and os.path.isfile(os.path.join(self.staging, name)):
                os.remove(os.path.join(self.staging, name))
        with open(os.path.join(self.staging, METADATA_FILE), "wb") as fh:
            fh.write(metadata)
        for name in os.listdir(self.staging):
            _fsync(os.path.join(self.staging, name))
        _fsync(self.staging)
        guard()
        if not os.path.isdir(self.final):
            os.makedirs(self.parent, exist_ok=True)
            os.rename(self.staging, self.final)
            _fsync(self.parent)
            self.tidy()
            return
        carried = self._carry_nested()
        try:
            if _exchange(self.staging, self.final):
                leftover = self.staging  # now holds the previous commit
            else:
                os.rename(self.final, self.old)
                try:
                    os.rename(self.staging, self.final)
                except BaseException:
                    os.rename(self.old, self.final)  # the previous commit goes back at once
                    raise
                leftover = self.old
        except BaseException:
            # the swap did not happen: the nested partitions go back before staging is dropped
            self._uncarry(carried)
            raise
        _fsync(self.parent)
        try:
            shutil.rmtree(leftover)
        except OSError as exc:
            # committed already; the next run's recover() removes the old folder
            log.warning("partition %s is committed, but removing %s failed: %s",
                        self.final, leftover, exc)
        self.tidy()

    def _carry_nested(self) -> list[str]:
        # nested partitions (dt=X/hour=H) under the one being replaced are not ours to drop
        carried = []
        try:
            for entry in os.scandir(self.final):
                if entry.is_dir(follow_symlinks=False) and not entry.name.startswith((".", "_")):
                    os.rename(entry.path, os.path.join(self.staging, entry.name))
                    carried.append(entry.name)
        except BaseException:
            self._uncarry(carried)
            raise
        return carried

    def _uncarry(self, names: list[str]) -> None:
        for name in names:
            with contextlib.suppress(OSError):
                os.rename(os.path.join(self.staging, name), os.path.join(self.final, name))

    def discard(self) -> None:
        try:
            self.check()
        except CommitError as exc:
            log.warning("not removing the staged files: %s", exc.message)
            return
        shutil.rmtree(self.staging, ignore_errors=True)
        self.tidy()

    def tidy(self) -> None:
        """Remove the now-empty folders of the staging area, up to ``_foundry/staging``."""
        stop = os.path.join(self.root, *STAGING.split("/"))
        folder = self.area
        while folder.startswith(stop + os.sep):
            try:
                os.rmdir(folder)
            except OSError:
                return
            folder = os.path.dirname(folder)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
