"""Storage layer: the backends, built from the IR's storage block.

One implementation, :class:`FsspecBackend`, serves local disk, S3 (s3fs),
Azure Blob / ADLS Gen2 (adlfs) and GCS (gcsfs); :func:`backend_for` builds it
from ``pipeline.platform.storage`` and resolves the ``env(...)`` secrets there,
at run time only. Custom backends are found by dotted class path or by entry
point (group ``foundry.storage``). The commit protocol (``commit.py``) and the
state store (``state.py``) are built on what this module hands on: a
:class:`~foundry_dsl.storage.base.StorageBackend` whose paths are relative to
its root and whose errors are :class:`StorageError` values that say whether a
retry may help and never contain a credential.

:func:`backend_root_url` renders where a pipeline lands for ``foundry plan``
without contacting anything or reading a secret.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from importlib import metadata as importlib_metadata
from typing import Any, TypeVar

from foundry_dsl import ir
from foundry_dsl.errors import ConfigError, FoundryError, StorageError, redact
from foundry_dsl.storage.base import StorageBackend
from foundry_dsl.storage.retry import Backoff, call_with_retry, is_transient

T = TypeVar("T")

log = logging.getLogger("foundry.storage")

ENTRY_POINT_GROUP = "foundry.storage"

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
    # Each store checks the precondition itself, atomically with the write: S3 with
    # If-None-Match: * / If-Match on the ETag, Azure with If-None-Match: * / If-Match on
    # the ETag, GCS with ifGenerationMatch on the generation. A precondition that does
    # not hold is an answer (None / False), not an error. Local disk keeps the base
    # class's "cannot hold a lease" answer: local leases are OS locks (lease.py).
    #
    # A retried call whose first answer was lost can find its own write and report the
    # precondition as failed; lease.py settles that by reading back what it wrote.

    def create_if_absent(self, path: str, data: bytes) -> str | None:
        bucket, key = self._bucket_key(path)
        if self.backend_type == "s3":
            _need_s3_param("PutObject", "IfNoneMatch")

            def create() -> str:
                return str(self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data,
                                           IfNoneMatch="*")["ETag"])
        elif self.backend_type == "azure":
            def create() -> str:
                return str(self._sync(self._azure_put, bucket, key, data, None))
        elif self.backend_type == "gcs":
            def create() -> str:
                # generation 0 means "no live object"
                return str(self._sync(self._gcs_put, bucket, key, data, "0"))
        else:
            return super().create_if_absent(path, data)
        return self._call("create", path, _unless_refused(create, None, missing=False))

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        bucket, key = self._bucket_key(path)
        if self.backend_type == "s3":
            reader: Callable[[str, str], Any] = self._s3_read
        elif self.backend_type == "azure":
            reader = self._azure_read
        elif self.backend_type == "gcs":
            reader = self._gcs_read
        else:
            return super().read_versioned(path)

        def read() -> tuple[bytes, str] | None:
            try:
                result: tuple[bytes, str] | None = self._sync(reader, bucket, key)
            except FileNotFoundError:
                return None
            return result

        return self._call("read", path, read)

    def replace_if(self, path: str, data: bytes, version: str) -> str | None:
        bucket, key = self._bucket_key(path)
        if self.backend_type == "s3":
            _need_s3_param("PutObject", "IfMatch")

            def replace() -> str:
                return str(self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data,
                                           IfMatch=version)["ETag"])
        elif self.backend_type == "azure":
            def replace() -> str:
                return str(self._sync(self._azure_put, bucket, key, data, version))
        elif self.backend_type == "gcs":
            def replace() -> str:
                return str(self._sync(self._gcs_put, bucket, key, data, version))
        else:
            return super().replace_if(path, data, version)
        # gone is "not at that version" too: S3 answers 404 where Azure and GCS answer 412
        return self._call("replace", path, _unless_refused(replace, None, missing=True))

    def delete_if(self, path: str, version: str) -> bool:
        bucket, key = self._bucket_key(path)
        if self.backend_type == "s3":
            _need_s3_param("DeleteObject", "IfMatch")

            def delete() -> bool:
                self.fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=version)
                return True
        elif self.backend_type == "azure":
            def delete() -> bool:
                self._sync(self._azure_delete, bucket, key, version)
                return True
        elif self.backend_type == "gcs":
            def delete() -> bool:
                self._sync(self.fs._call, "DELETE", "b/{}/o/{}", bucket, key,
                           ifGenerationMatch=version)
                return True
        else:
            return super().delete_if(path, version)
        return self._call("delete", path, _unless_refused(delete, False, missing=True))

    def _bucket_key(self, path: str) -> tuple[str, str]:
        bucket, _, key = self._full(path).partition("/")
        return bucket, key

    def _sync(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one coroutine function on the filesystem's own event loop (s3fs, adlfs, gcsfs)."""
        from fsspec.asyn import sync

        return sync(self.fs.loop, fn, *args, **kwargs)

    async def _s3_read(self, bucket: str, key: str) -> tuple[bytes, str]:
        # one GET: the body and the ETag come from the same object version
        resp = await self.fs._call_s3("get_object", Bucket=bucket, Key=key)
        body = resp["Body"]
        try:
            data = await body.read()
        finally:
            body.close()
        return bytes(data), str(resp["ETag"])

    async def _azure_put(self, container: str, blob: str, data: bytes, etag: str | None) -> str:
        from azure.core import MatchConditions

        conditions: dict[str, Any] = (
            {"overwrite": False} if etag is None  # sends If-None-Match: *
            else {"overwrite": True, "etag": etag, "match_condition": MatchConditions.IfNotModified}
        )
        async with self.fs.service_client.get_blob_client(container=container, blob=blob) as bc:
            # adlfs marks every blob it writes as a file; do the same so listings agree
            result = await bc.upload_blob(data, metadata={"is_directory": "false"}, **conditions,
                                          **getattr(self.fs, "_timeout_kwargs", {}))
        return str(result["etag"])

    async def _azure_read(self, container: str, blob: str) -> tuple[bytes, str]:
        async with self.fs.service_client.get_blob_client(container=container, blob=blob) as bc:
            try:
                stream = await bc.download_blob(**getattr(self.fs, "_timeout_kwargs", {}))
            except Exception as exc:
                if _missing(exc):
                    raise FileNotFoundError(blob) from exc
                raise
            data = await stream.readall()
            return bytes(data), str(stream.properties.etag)

    async def _azure_delete(self, container: str, blob: str, etag: str) -> None:
        from azure.core import MatchConditions

        async with self.fs.service_client.get_blob_client(container=container, blob=blob) as bc:
            await bc.delete_blob(etag=etag, match_condition=MatchConditions.IfNotModified,
                                 **getattr(self.fs, "_timeout_kwargs", {}))

    async def _gcs_put(self, bucket: str, key: str, data: bytes, generation: str) -> str:
        import json
        import secrets
        from urllib.parse import quote

        # a multipart upload, as gcsfs makes for mode="create": GCS honours ifGenerationMatch
        # on every upload type, fake-gcs-server (1.54) only on this one
        boundary = secrets.token_hex(16)
        body = (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
            f"{json.dumps({'name': key})}\r\n"
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode() + data + f"\r\n--{boundary}--".encode()
        out = await self.fs._call(
            "POST",
            f"{self.fs._location}/upload/storage/v1/b/{quote(bucket, safe='')}/o",
            uploadType="multipart",
            ifGenerationMatch=generation,
            headers={"Content-Type": f'multipart/related; boundary="{boundary}"'},
            data=body,
            json_out=True,
        )
        return str(out["generation"])

    async def _gcs_read(self, bucket: str, key: str) -> tuple[bytes, str]:
        # the generation first, then exactly that generation's bytes: a replacement between
        # the two calls makes the second a 404, and we look again
        for _ in range(5):
            meta = await self.fs._call("GET", "b/{}/o/{}", bucket, key, json_out=True)
            generation = str(meta["generation"])
            try:
                _headers, data = await self.fs._call(
                    "GET", "b/{}/o/{}", bucket, key, alt="media", generation=generation
                )
            except FileNotFoundError:
                continue
            return bytes(data), generation
        raise StorageError(
            f"gcs object gs://{bucket}/{key} kept changing while it was read; try again",
            transient=True,
        )


@functools.cache
def _s3_accepts(operation: str, param: str) -> bool:
    import botocore.session

    model = botocore.session.get_session().get_service_model("s3")
    return param in model.operation_model(operation).input_shape.members


def _need_s3_param(operation: str, param: str) -> None:
    """Refuse when botocore does not know a condition: s3fs would drop it without a word."""
    if not _s3_accepts(operation, param):
        import botocore

        raise StorageError(
            f"this s3 backend cannot hold a lease: botocore {botocore.__version__} does not "
            f"know {operation}'s {param} (S3 conditional writes); upgrade s3fs / aiobotocore "
            "so that a newer botocore comes with them",
            transient=False,
        )


#: error codes that mean "the precondition did not hold", whatever the store
_REFUSED_CODES = frozenset(
    {
        "PreconditionFailed",  # S3 412
        "ConditionalRequestConflict",  # S3 409: a concurrent conditional write to the key
        "BlobAlreadyExists",  # Azure 409 for If-None-Match: *
        "ConditionNotMet",  # Azure 412
    }
)


def _codes(exc: BaseException) -> Iterable[tuple[int | None, str | None]]:
    """(HTTP status, error code) of each exception in the cause chain."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        response = getattr(cur, "response", None)
        status: int | None = None
        code: Any = None
        if isinstance(response, dict):  # botocore ClientError
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = response.get("Error", {}).get("Code")
        else:  # azure-core HttpResponseError
            status = getattr(cur, "status_code", None)
            code = getattr(cur, "error_code", None)
        code = getattr(code, "value", code)  # azure's StorageErrorCode is an enum
        yield (status if isinstance(status, int) else None, str(code) if code else None)
        cur = cur.__cause__ or cur.__context__


def _refused(exc: BaseException) -> bool:
    """True when ``exc`` is a store saying "precondition failed", not a failure."""
    if isinstance(exc, FileExistsError):  # s3fs (If-None-Match) and gcsfs (any 412) say so
        return True
    return any(status == 412 or code in _REFUSED_CODES for status, code in _codes(exc))


def _missing(exc: BaseException) -> bool:
    if isinstance(exc, FileNotFoundError):
        return True
    return any(status == 404 for status, _code in _codes(exc))


def _unless_refused(fn: Callable[[], T], refused: T, *, missing: bool) -> Callable[[], T]:
    """``fn`` with a refused precondition (and, when ``missing``, a missing object) as a result."""

    def run() -> T:
        try:
            return fn()
        except Exception as exc:
            if _refused(exc) or (missing and _missing(exc)):
                return refused
            raise

    return run


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


# --- building a backend from the IR ------------------------------------------------------


def backend_root_url(storage: ir.Storage, run: ir.RunOptions) -> str:
    """Where a pipeline lands, for display: contacts nothing and reads no secret."""
    if not run.storage_enabled:
        return run.local_output_dir
    if isinstance(storage, ir.LocalStorage):
        return storage.path
    if isinstance(storage, ir.S3Storage):
        return _url("s3", storage.bucket, storage.prefix)
    if isinstance(storage, ir.AzureStorage):
        return _url("abfs", storage.container, storage.prefix)
    if isinstance(storage, ir.GcsStorage):
        return _url("gs", storage.bucket, storage.prefix)
    return f"{storage.backend}:{storage.root}" if storage.root else storage.backend


def _url(scheme: str, bucket: str, prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{scheme}://{bucket}/{prefix}" if prefix else f"{scheme}://{bucket}"


def _fs_root(bucket: str, prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{bucket}/{prefix}" if prefix else bucket


def backend_for(pipeline: ir.Pipeline) -> StorageBackend:
    """The backend a pipeline writes to, with its secrets read from the environment.

    ``run.storage_enabled = false`` keeps files on local disk under
    ``run.local_output_dir``, as in the original tool.
    """
    storage = pipeline.platform.storage
    context = pipeline.name
    try:
        if not pipeline.run.storage_enabled:
            return local_backend(pipeline.run.local_output_dir, context=context)
        if isinstance(storage, ir.LocalStorage):
            return local_backend(storage.path, context=context)
        if isinstance(storage, ir.S3Storage):
            return _s3(storage, context)
        if isinstance(storage, ir.AzureStorage):
            return _azure(storage, context)
        if isinstance(storage, ir.GcsStorage):
            return _gcs(storage, context)
        return custom_backend(storage, context)
    except FoundryError as exc:
        if isinstance(exc, (StorageError, ConfigError)):
            raise
        # an unset env(...) variable: the message names it and where it was written
        raise StorageError(
            f"pipeline {context}: cannot open {backend_root_url(storage, pipeline.run)}: "
            f"{exc.message}; set it and run again"
        ) from None


def local_backend(path: str, *, context: str = "") -> FsspecBackend:
    from fsspec.implementations.local import LocalFileSystem

    root = os.path.abspath(path)
    return FsspecBackend(
        LocalFileSystem(auto_mkdir=True), root, backend_type="local", root_url=root, context=context
    )


def _need(module: str, extra: str, context: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise StorageError(
            f"pipeline {context}: the {extra} backend needs the '{module}' package: "
            f"pip install 'foundry-dsl[{extra}]'"
        ) from None


def _s3(s: ir.S3Storage, context: str) -> FsspecBackend:
    s3fs = _need("s3fs", "s3", context)
    key, secret = ir.resolve(s.access_key), ir.resolve(s.secret_key)
    endpoint, region = ir.resolve(s.endpoint), ir.resolve(s.region)
    options: dict[str, Any] = {
        "skip_instance_cache": True,
        "use_listings_cache": False,
        # one quick botocore retry inside a call; our backoff retries the whole call.
        # s3fs's own loop is off (below) so the layers do not multiply into minutes
        "config_kwargs": {
            "retries": {"max_attempts": 2, "mode": "standard"},
            "connect_timeout": 10,
            "read_timeout": 60,
        },
    }
    if key and secret:
        options.update(key=key, secret=secret)
    # otherwise boto's standard chain: env, ~/.aws, instance profile, SSO
    if endpoint:
        options["endpoint_url"] = endpoint
    if region:
        options["client_kwargs"] = {"region_name": region}
    fs = s3fs.S3FileSystem(**options)
    fs.retries = 1
    return FsspecBackend(
        fs,
        _fs_root(s.bucket, s.prefix),
        backend_type="s3",
        root_url=_url("s3", s.bucket, s.prefix),
        secrets=(key or "", secret or ""),
        context=context,
        put_options={"chunksize": DEFAULT_CHUNK_SIZE, "max_concurrency": DEFAULT_CONCURRENCY},
    )


def _azure(s: ir.AzureStorage, context: str) -> FsspecBackend:
    adlfs = _need("adlfs", "azure", context)
    account = ir.resolve(s.account_name)
    key = ir.resolve(s.account_key)
    sas = ir.resolve(s.sas_token)
    conn = ir.resolve(s.connection_string)
    options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
    if conn:
        options["connection_string"] = conn
    if account:
        options["account_name"] = account
    if key:
        options["account_key"] = key
    if sas:
        options["sas_token"] = sas
    if not (conn or key or sas):
        # no secret given: Azure's default credential chain (managed identity, CLI, env)
        options["anon"] = False
    fs = adlfs.AzureBlobFileSystem(**options)
    _tame_azure_retries(fs)
    return FsspecBackend(
        fs,
        _fs_root(s.container, s.prefix),
        backend_type="azure",
        root_url=_url("abfs", s.container, s.prefix),
        secrets=(key or "", sas or "", conn or "", *_connection_string_secrets(conn)),
        context=context,
        put_options={"max_concurrency": DEFAULT_CONCURRENCY},
    )


def _tame_azure_retries(fs: Any) -> None:
    """One quick SDK retry inside a call; our backoff retries the whole call.

    Azure Storage's default waits 15 s, then 18 s, then 24 s between attempts, and
    adlfs offers no setting for it, so the policy object the client pipeline shares
    is adjusted in place. Should the SDK's internals move, its defaults stay.
    """
    policy = getattr(getattr(getattr(fs, "service_client", None), "_config", None),
                     "retry_policy", None)
    for attr, value in (("total_retries", 1), ("connect_retries", 1), ("read_retries", 1),
                        ("status_retries", 1), ("initial_backoff", 0.5),
                        ("increment_base", 2), ("random_jitter_range", 0.5)):
        if policy is not None and hasattr(policy, attr):
            setattr(policy, attr, value)


def _connection_string_secrets(conn: str | None) -> list[str]:
    """The key and SAS inside a connection string, so errors can redact them alone."""
    out = []
    for part in (conn or "").split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() in ("accountkey", "sharedaccesssignature") and value:
            out.append(value)
    return out


def _gcs(s: ir.GcsStorage, context: str) -> FsspecBackend:
    gcsfs = _need("gcsfs", "gcs", context)
    project, creds, endpoint = ir.resolve(s.project), ir.resolve(s.credentials), ir.resolve(s.endpoint)
    options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
    if project:
        options["project"] = project
    if creds:
        options["token"] = creds  # a service-account JSON file
    elif endpoint:
        options["token"] = "anon"  # emulators take no credentials
    else:
        options["token"] = "google_default"
    if endpoint:
        options["endpoint_url"] = endpoint
    if endpoint:
        # the plain JSON-API client: gcsfs's default class also probes the bucket layout
        # over gRPC, which emulators do not speak (it would retry for minutes)
        from gcsfs.core import GCSFileSystem as fs_class
    else:
        fs_class = gcsfs.GCSFileSystem
    fs = fs_class(**options)
    return FsspecBackend(
        fs,
        _fs_root(s.bucket, s.prefix),
        backend_type="gcs",
        root_url=_url("gs", s.bucket, s.prefix),
        context=context,
        put_options={"chunksize": DEFAULT_CHUNK_SIZE},
    )


# --- custom backends ------------------------------------------------------------------


def custom_backend(s: ir.CustomStorage, context: str = "") -> StorageBackend:
    """``cls(root=..., options=...)`` for a dotted class path or a ``foundry.storage`` entry point."""
    cls = _load_backend_class(s)
    options = {k: (v.resolve() if isinstance(v, ir.EnvRef) else v) for k, v in s.options.items()}
    backend = cls(root=s.root, options=options)
    if not isinstance(backend, StorageBackend):
        raise ConfigError.single(
            f"storage backend '{s.backend}' is not a StorageBackend",
            s.span,
            help="subclass foundry_dsl.storage.base.StorageBackend",
        )
    return backend


def _load_backend_class(s: ir.CustomStorage) -> type:
    name = s.backend
    for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            loaded = ep.load()
            if isinstance(loaded, type):
                return loaded
    module_name, sep, attr = name.partition(":")
    if not sep:
        module_name, _, attr = name.rpartition(".")
    if module_name and attr:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError.single(
                f"cannot import storage backend module '{module_name}': {exc}",
                s.span,
                help="check the module is installed or on PYTHONPATH",
            ) from None
        cls = getattr(module, attr, None)
        if isinstance(cls, type):
            return cls
    names = sorted(ep.name for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP))
    known = f"; installed entry points: {', '.join(names)}" if names else ""
    raise ConfigError.single(
        f"unknown storage backend '{name}'",
        s.span,
        help=f"give 'package.module:Class' or a '{ENTRY_POINT_GROUP}' entry point name{known}",
    )
