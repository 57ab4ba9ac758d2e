"""Storage layer: :class:`FsspecBackend`, one fsspec filesystem behind the backend interface.

One implementation serves local disk, S3 (s3fs), Azure Blob / ADLS Gen2
(adlfs) and GCS (gcsfs); ``local.py``, ``s3.py``, ``azure.py`` and ``gcs.py``
build it from the IR and ``registry.py`` picks them by storage kind. The commit
protocol (``commit.py``) and the state store (``state.py``) are built on what
this module hands on: a :class:`~foundry_dsl.storage.base.StorageBackend`
whose paths are relative to its root and whose errors are
:class:`StorageError` values that say whether a retry may help and never
contain a credential.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from foundry_dsl.errors import FoundryError, StorageError, redact
from foundry_dsl.storage.base import StorageBackend
from foundry_dsl.storage.conditional import ConditionalWrites, unless_refused
from foundry_dsl.storage.registry import conditional_writes
from foundry_dsl.storage.retry import Backoff, call_with_retry, is_transient

T = TypeVar("T")

#: part size for multipart uploads: S3's minimum is 5 MiB; 16 MiB keeps memory at
#: (parts in flight x 16 MiB) while a 1 GiB file still needs only 64 parts
DEFAULT_CHUNK_SIZE = 16 * 2**20
#: parts of one file uploaded at once
DEFAULT_CONCURRENCY = 4

_HINTS = {
    "transient": "the store kept failing; the committed partition is unchanged, rerun to retry",
    "missing": "the path does not exist in the store",
    "denied": "access was denied: check the credentials and permissions for this storage",
    "other": "check the storage configuration of the platform block",
}


class FsspecBackend(StorageBackend):
    """A :class:`StorageBackend` over one fsspec filesystem and a root inside it.

    ``root`` is the filesystem path (``/abs/dir``, ``bucket/prefix``,
    ``container/prefix``); ``root_url`` is how users see it. Every call is
    retried with exponential backoff and full jitter when the failure is
    transient (throttling, 5xx, dropped connections); errors are
    :class:`StorageError` with ``transient`` set, the backend, the URL of the
    path and the error text with every secret in ``secrets`` replaced by ``***``.
    """

    def __init__(
        self,
        fs: Any,
        root: str,
        *,
        backend_type: str,
        root_url: str,
        secrets: Iterable[str] = (),
        context: str = "",
        backoff: Backoff | None = None,
        put_options: dict[str, Any] | None = None,
    ) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.backend_type = backend_type
        self.root_url = root_url.rstrip("/")
        self._secrets = tuple(s for s in secrets if s)
        self.context = context
        self.backoff = backoff or Backoff()
        self.put_options = dict(put_options or {})
        #: how many calls were retried; benches and tests read it
        self.retries = 0
        # looked up on first use: building a backend imports no store's lease code
        self._conditions: ConditionalWrites | None = None
        self._conditions_known = False

    def __repr__(self) -> str:
        return f"FsspecBackend({self.backend_type}, {self.root_url})"

    # --- paths -------------------------------------------------------------------

    @property
    def local_root(self) -> str | None:
        """The root as a local directory when the backend is local disk, else None."""
        return self.root if self.backend_type == "local" else None

    def _full(self, path: str) -> str:
        path = path.strip("/")
        return f"{self.root}/{path}" if path else self.root

    def url(self, path: str) -> str:
        path = path.strip("/")
        return f"{self.root_url}/{path}" if path else self.root_url

    # --- the retry and error boundary ---------------------------------------------

    def _call(self, op: str, path: str, fn: Callable[[], T]) -> T:
        def describe() -> str:
            return f"{self.backend_type} {op} {self.url(path)}"

        def count() -> None:
            self.retries += 1

        try:
            return call_with_retry(fn, self.backoff, describe, on_retry=count)
        except FoundryError:
            raise
        except Exception as exc:
            raise self._error(op, path, exc) from None

    def _error(self, op: str, path: str, exc: BaseException) -> StorageError:
        transient = is_transient(exc)
        if transient:
            hint = _HINTS["transient"]
        elif isinstance(exc, FileNotFoundError):
            hint = _HINTS["missing"]
        elif isinstance(exc, PermissionError):
            hint = _HINTS["denied"]
        else:
            hint = _HINTS["other"]
        detail = redact(f"{type(exc).__name__}: {exc}".strip(), self._secrets)
        where = f"pipeline {self.context}: " if self.context else ""
        return StorageError(
            f"{where}{self.backend_type} {op} of {self.url(path)} failed: {detail} ({hint})",
            transient=transient,
        )

    # --- the original tool's interface ------------------------------------------------

    def upload_file(self, local_path: str, remote_path: str) -> None:
        target = self._full(remote_path)
        self._call("upload", remote_path, lambda: self.fs.put_file(local_path, target, **self.put_options))

    def download_file(self, remote_path: str, local_path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
        source = self._full(remote_path)
        self._call("download", remote_path, lambda: self.fs.get_file(source, local_path))

    def list_files(self, prefix: str) -> list[str]:
        base = self._full(prefix)
        cut = len(self.root) + 1

        def find() -> list[str]:
            try:
                found = self.fs.find(base)
            except FileNotFoundError:
                return []
            return sorted(p[cut:] for p in (self.fs._strip_protocol(f) for f in found)
                          if p.startswith(self.root + "/"))

        return self._call("list", prefix, find)

    def delete_file(self, remote_path: str) -> None:
        target = self._full(remote_path)

        def rm() -> None:
            # idempotent: a delete whose answer was lost is retried and finds nothing
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(target)

        self._call("delete", remote_path, rm)

    def get_backend_type(self) -> str:
        return self.backend_type

    # --- what commits and the state store need ----------------------------------------

    def exists(self, path: str) -> bool:
        target = self._full(path)
        return self._call("exists", path, lambda: bool(self.fs.exists(target)))

    def read_bytes(self, path: str) -> bytes | None:
        target = self._full(path)

        def cat() -> bytes | None:
            try:
                return bytes(self.fs.cat_file(target))
            except FileNotFoundError:
                return None

        return self._call("read", path, cat)

    def write_bytes(self, path: str, data: bytes) -> None:
        target = self._full(path)
        if self.local_root is not None:
            self._call("write", path, lambda: _replace_local(target, data))
        else:
            # one PUT: object stores show readers the old or the new object, never a mix
            self._call("write", path, lambda: self.fs.pipe_file(target, data))

    def copy_file(self, source: str, target: str) -> None:
        # server-side on S3, Azure and GCS: no data passes through this machine
        src, dst = self._full(source), self._full(target)
        self._call("copy", source, lambda: self.fs.copy(src, dst))


    # --- what leases need: conditional writes -----------------------------------------
    #
    # Each store checks the precondition itself, atomically with the write (conditional.py).
    # A precondition that does not hold is an answer (None / False), not an error. Local
    # disk has no conditional writes and keeps the base class's "cannot hold a lease"
    # answer: local leases are OS locks (lease_local.py).
    #
    # A retried call whose first answer was lost can find its own write and report the
    # precondition as failed; lease_object.py settles that by reading back what it wrote.

    def create_if_absent(self, path: str, data: bytes) -> str | None:
        bucket, key = self._bucket_key(path)
        writes = self._conditional()
        if writes is None:
            return super().create_if_absent(path, data)
        writes.require("create")
        return self._call("create", path, unless_refused(
            lambda: writes.create(bucket, key, data), None, gone=False))

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        bucket, key = self._bucket_key(path)
        writes = self._conditional()
        if writes is None:
            return super().read_versioned(path)

        def read() -> tuple[bytes, str] | None:
            try:
                return writes.read(bucket, key)
            except FileNotFoundError:
                return None

        return self._call("read", path, read)

    def replace_if(self, path: str, data: bytes, version: str) -> str | None:
        bucket, key = self._bucket_key(path)
        writes = self._conditional()
        if writes is None:
            return super().replace_if(path, data, version)
        writes.require("replace")
        # gone is "not at that version" too: S3 answers 404 where Azure and GCS answer 412
        return self._call("replace", path, unless_refused(
            lambda: writes.replace(bucket, key, data, version), None, gone=True))

    def delete_if(self, path: str, version: str) -> bool:
        bucket, key = self._bucket_key(path)
        writes = self._conditional()
        if writes is None:
            return super().delete_if(path, version)
        writes.require("delete")

        def delete() -> bool:
            writes.delete(bucket, key, version)
            return True

        return self._call("delete", path, unless_refused(delete, False, gone=True))

    def _conditional(self) -> ConditionalWrites | None:
        """This store's conditional writes, as its kind's registry entry names them."""
        if not self._conditions_known:
            cls = conditional_writes(self.backend_type)
            self._conditions = cls(self.fs) if cls is not None else None
            self._conditions_known = True
        return self._conditions

    def _bucket_key(self, path: str) -> tuple[str, str]:
        bucket, _, key = self._full(path).partition("/")
        return bucket, key


def store_url(scheme: str, bucket: str, prefix: str) -> str:
    """How users see a bucket and prefix: ``s3://bucket/prefix``."""
    prefix = prefix.strip("/")
    return f"{scheme}://{bucket}/{prefix}" if prefix else f"{scheme}://{bucket}"


def fs_root(bucket: str, prefix: str) -> str:
    """The same place as fsspec names it: ``bucket/prefix``."""
    prefix = prefix.strip("/")
    return f"{bucket}/{prefix}" if prefix else bucket


def _replace_local(target: str, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically: a temp file in the same folder, fsync, rename."""
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
