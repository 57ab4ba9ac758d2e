"""Storage layer: the commit protocol, the only way landed data becomes visible.

The executor hands each finished data file to :meth:`PartitionCommitter.upload`
and, when all are up, the run's metadata to :meth:`PartitionCommitter.commit`.
What it hands on: a partition whose ``_metadata.json`` (the commit marker,
always written last) lists exactly the partition's data files.

Uploads go to the staging area at the storage root, never into a
``system=.../table=...`` folder, so no reader's glob sees them::

    _foundry/staging/<partition path>/attempt-<tag>/part-0001.parquet

(``tag`` = 8 random hex digits per attempt; a leading ``_`` keeps Hive readers
out of ``_foundry/``.) Then, by backend:

**Local disk** swaps the staged folder (``_metadata.json`` written into it
first) with the partition folder in one ``renameat2(RENAME_EXCHANGE)`` call, on
the same filesystem, so a reader that lists the folder sees the old partition
or the new one, never a mix; the spec's names (``part-0001.parquet``) are kept.
Where the exchange is unavailable it falls back to two renames (old folder to
``_foundry/staging/<partition>/old-<tag>``, new folder in); between them the
partition is briefly absent, never mixed, and :func:`recover` puts the old one
back if the run dies there.

**Object stores** (and custom backends) have no rename. At commit the staged
files are copied server-side into the partition under names that cannot
collide with the committed ones (``part-0001-<tag>.parquet``), every one is
checked to be there, then ``_metadata.json`` is written in one PUT (atomic on
S3, Azure and GCS), then the previous commit's files and the staged copies are
deleted. Until that PUT the committed metadata names only the old files, all
still present; afterwards only the new ones. A reader that takes its file list
from ``_metadata.json`` always sees one whole commit; a reader that globs the
prefix sees both for the few requests the copy takes (docs/commit-protocol.md).

Before the marker is written the committer calls its ``guard`` (the executor
passes "do I still hold the partition's lease?"), so a run that lost its lease
never commits. A run that dies at any moment leaves the previous commit
readable; :func:`recover` removes what it left behind, and
:func:`recover_table` finds the staging of every partition of a table (any
date), so the next run of the pipeline cleans up after any killed run.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable
from typing import Any

from foundry_dsl.errors import CommitError, FoundryError
from foundry_dsl.storage.base import StorageBackend

log = logging.getLogger("foundry.storage")

METADATA_FILE = "_metadata.json"
#: foundry's private area at the storage root: leases and staging live here
PRIVATE = "_foundry"
STAGING = f"{PRIVATE}/staging"
_ATTEMPT = "attempt-"
_OLD = "old-"
#: data files named by an object-store commit: ``<stem>-<8 hex><.ext>``
_TAGGED = re.compile(r"^[^/.]+-[0-9a-f]{8}(\..+)?$")


def committed_metadata(backend: StorageBackend, partition_path: str) -> dict[str, Any] | None:
    """The committed partition's ``_metadata.json``, or None when nothing is committed."""
    raw = backend.read_bytes(f"{_check_path(partition_path)}/{METADATA_FILE}")
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise CommitError(
            f"partition {partition_path}: {METADATA_FILE} is not valid JSON ({exc}); "
            "it was not written by foundry: inspect it, then delete it to land the partition again"
        ) from None
    if not isinstance(value, dict):
        raise CommitError(f"partition {partition_path}: {METADATA_FILE} is not a JSON object")
    return value


def staging_prefix(partition_path: str) -> str:
    """Where attempts at ``partition_path`` stage their files, relative to the root."""
    return f"{STAGING}/{_check_path(partition_path)}"


def recover(backend: StorageBackend, partition_path: str) -> None:
    """Clean up after killed runs of one partition: staging, and files no commit lists.

    Call it only while holding the partition's lease (never while another run writes it).
    """
    partition_path = _check_path(partition_path)
    root = _local_root(backend)
    if root is not None:
        _LocalFolders(root, partition_path).recover()
        return
    meta = committed_metadata(backend, partition_path)
    listed = _listed_names(meta)
    for name in _direct_files(backend, partition_path):
        if name == METADATA_FILE or name.startswith(("_", ".")):
            continue
        # when foundry's own metadata lists the files, anything else is left over;
        # otherwise only our tagged names are known to be ours
        if (listed is not None and name not in listed) or (
            listed is None and _TAGGED.match(name)
        ):
            backend.delete_file(f"{partition_path}/{name}")
    for path in backend.list_files(staging_prefix(partition_path)):
        rest = path[len(staging_prefix(partition_path)) + 1 :]
        if rest.startswith(_ATTEMPT) and rest.count("/") == 1:
            backend.delete_file(path)


def staged_partitions(backend: StorageBackend, table_prefix: str) -> list[str]:
    """Partitions below ``table_prefix`` that a killed run left staging for, sorted."""
    base = f"{STAGING}/{_check_path(table_prefix)}"
    found: set[str] = set()
    root = _local_root(backend)
    if root is not None:
        top = os.path.join(root, *base.split("/"))
        for folder, dirs, _files in os.walk(top):
            if any(d.startswith((_ATTEMPT, _OLD)) for d in dirs):
                found.add(os.path.relpath(folder, os.path.join(root, *STAGING.split("/")))
                          .replace(os.sep, "/"))
            dirs[:] = [d for d in dirs if not d.startswith((_ATTEMPT, _OLD))]
    else:
        for path in backend.list_files(base):
            segs = path[len(STAGING) + 1 :].split("/")
            for i, seg in enumerate(segs[:-1]):
                if seg.startswith(_ATTEMPT):
                    found.add("/".join(segs[:i]))
                    break
    return sorted(found)


def recover_table(
    backend: StorageBackend,
    table_prefix: str,
    claim: Callable[[str], contextlib.AbstractContextManager[bool]],
) -> list[str]:
    """Recover every partition of a table that a killed run left staging for, any date.

    ``claim(partition)`` enters a context that says whether this run may touch that
    partition (it holds or took its lease); partitions a live run holds are skipped,
    so recovery never deletes a live run's files. Returns the partitions recovered.
    """
    done = []
    for partition in staged_partitions(backend, table_prefix):
        with claim(partition) as ours:
            if ours:
                recover(backend, partition)
                done.append(partition)
    return done


class PartitionCommitter:
    """Uploads one run's files for one partition and commits them, or aborts."""

    def __init__(
        self,
        backend: StorageBackend,
        partition_path: str,
        run_id: str,
        guard: Callable[[], None] | None = None,
    ) -> None:
        self.backend = backend
        self.partition_path = _check_path(partition_path)
        self.run_id = run_id
        #: raises when this run may no longer commit (it lost its lease)
        self.guard = guard or (lambda: None)
        #: 8 random hex digits, fresh per attempt, so a retried run never overwrites
        #: the files of the commit it replaces even when its run_id is the same
        self.tag = secrets.token_hex(4)
        self.staging = f"{staging_prefix(self.partition_path)}/{_ATTEMPT}{self.tag}"
        self._lock = threading.Lock()
        self._files: dict[str, str] = {}  # local basename -> final name
        self._sizes: dict[str, int] = {}
        self._state = "open"
        root = _local_root(backend)
        self._local = _LocalFolders(root, self.partition_path, self.tag) if root else None

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
        final = _tagged_name(name, self.tag)
        with self._lock:
            self._expect_open("upload")
            if name in self._files:
                raise CommitError(
                    f"partition {self.partition_path}: two data files are named '{name}'"
                )
            self._files[name] = final  # reserve before the slow part, outside the lock
        size = os.path.getsize(local_path)
        try:
            self.backend.upload_file(local_path, f"{self.staging}/{final}")
        except BaseException:
            with self._lock:
                self._files.pop(name, None)
            raise
        with self._lock:
            self._sizes[name] = size
        return final

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
        present = set(_direct_files(self.backend, self.partition_path))
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
            for name in sorted(names):
                self.backend.delete_file(f"{self.staging}/{name}")
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
        if self._local:
            self._local.discard()
            return
        meta = committed_metadata(self.backend, self.partition_path)
        listed = _listed_names(meta) or set()
        for final in finals:
            self.backend.delete_file(f"{self.staging}/{final}")
            if final not in listed:  # a copy made before the commit failed
                self.backend.delete_file(f"{self.partition_path}/{final}")

    def _expect_open(self, what: str) -> None:
        if self._state != "open":
            raise CommitError(
                f"partition {self.partition_path}: cannot {what}, this run is {self._state}"
            )


# --- helpers ---------------------------------------------------------------------------


def _check_path(path: str) -> str:
    parts = path.split("/")
    if not path or path != path.strip("/") or any(p in ("", ".", "..") for p in parts):
        raise CommitError(f"invalid partition path '{path}': want 'a=1/b=2', no '..' or '//'")
    return path


def _tagged_name(name: str, tag: str) -> str:
    stem, dot, ext = name.partition(".")
    return f"{stem}-{tag}{dot}{ext}"


def _local_root(backend: StorageBackend) -> str | None:
    root = getattr(backend, "local_root", None)
    return root if isinstance(root, str) else None


def _direct_files(backend: StorageBackend, partition_path: str) -> list[str]:
    """Files directly in the partition; nested partitions (``hour=14/``) are not ours."""
    cut = len(partition_path) + 1
    return [p[cut:] for p in backend.list_files(partition_path) if "/" not in p[cut:]]


def _listed_names(meta: dict[str, Any] | None) -> set[str] | None:
    files = meta.get("files") if meta else None
    if not isinstance(files, list):
        return None
    return {str(f["name"]) if isinstance(f, dict) else str(f) for f in files}


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


class _LocalFolders:
    """The partition folder and, in the staging area, one attempt's folders."""

    def __init__(self, root: str, partition_path: str, tag: str = "") -> None:
        self.root = root
        self.final = os.path.join(root, *partition_path.split("/"))
        self.parent = os.path.dirname(self.final)
        self.area = os.path.join(root, *staging_prefix(partition_path).split("/"))
        self.staging = os.path.join(self.area, _ATTEMPT + tag)
        self.old = os.path.join(self.area, _OLD + tag)
        leaf = os.path.basename(self.final)
        # where foundry before 0.2 staged, beside the partition: cleaned up, never used
        self.legacy = (f".{leaf}.staging-", f".{leaf}.old-")

    def commit(self, metadata: bytes, names: set[str], guard: Callable[[], None]) -> None:
        os.makedirs(self.staging, exist_ok=True)
        missing = sorted(n for n in names if not os.path.isfile(os.path.join(self.staging, n)))
        if missing:
            raise CommitError(
                f"{len(missing)} file(s) to commit are not staged ({', '.join(missing[:3])}); "
                "another run may have removed them"
            )
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
            self._tidy()
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
        self._tidy()

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
        shutil.rmtree(self.staging, ignore_errors=True)
        self._tidy()

    def recover(self) -> None:
        olds = self._olds()
        if not os.path.isdir(self.final) and olds:
            # died between the fallback's two renames: the old partition goes back; the
            # newest if a failed clean-up left several (their tags are random, so by age)
            newest = max(olds, key=lambda path: os.stat(path).st_mtime_ns)
            os.makedirs(self.parent, exist_ok=True)
            os.rename(newest, self.final)
            olds.remove(newest)
        for path in [*olds, *self._attempts()]:
            shutil.rmtree(path, ignore_errors=True)
        self._tidy()

    def _olds(self) -> list[str]:
        found = []
        if os.path.isdir(self.area):
            found += [os.path.join(self.area, n) for n in os.listdir(self.area) if n.startswith(_OLD)]
        if os.path.isdir(self.parent):
            found += [os.path.join(self.parent, n) for n in os.listdir(self.parent)
                      if n.startswith(self.legacy[1])]
        return found

    def _attempts(self) -> list[str]:
        found = []
        if os.path.isdir(self.area):
            found += [os.path.join(self.area, n) for n in os.listdir(self.area)
                      if n.startswith(_ATTEMPT)]
        if os.path.isdir(self.parent):
            found += [os.path.join(self.parent, n) for n in os.listdir(self.parent)
                      if n.startswith(self.legacy[0])]
        return found

    def _tidy(self) -> None:
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
