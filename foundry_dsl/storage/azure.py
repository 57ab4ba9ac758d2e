"""Storage layer: the Azure kind (Blob Storage and ADLS Gen2), through adlfs.

:func:`build` turns an ``ir.AzureStorage`` into an :class:`FsspecBackend`,
reading its ``env(...)`` secrets at run time only; :func:`root_url` shows where
it lands (``abfs://container/prefix``) without either; :class:`AzureConditions`
are Azure's conditional writes (``If-None-Match: *`` and ``If-Match`` on the
ETag), which leases are built on.
"""

from __future__ import annotations

from typing import Any

from foundry_dsl import ir
from foundry_dsl.storage.conditional import ConditionalWrites, missing
from foundry_dsl.storage.fsspec_backend import (
    DEFAULT_CONCURRENCY,
    FsspecBackend,
    fs_root,
    store_url,
)
from foundry_dsl.storage.layout import check_store_root


def root_url(s: ir.AzureStorage) -> str:
    return store_url("abfs", s.container, s.prefix)


def build(s: ir.AzureStorage, context: str) -> FsspecBackend:
    check_store_root("azure", "container", s.container, s.prefix)
    import adlfs

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
        fs_root(s.container, s.prefix),
        backend_type="azure",
        root_url=root_url(s),
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


class AzureConditions(ConditionalWrites):
    """Azure Blob's conditional writes, on adlfs's async blob service client."""

    def create(self, bucket: str, key: str, data: bytes) -> str:
        return str(self.sync(self._put, bucket, key, data, None))

    def read(self, bucket: str, key: str) -> tuple[bytes, str]:
        result: tuple[bytes, str] = self.sync(self._read, bucket, key)
        return result

    def replace(self, bucket: str, key: str, data: bytes, version: str) -> str:
        return str(self.sync(self._put, bucket, key, data, version))

    def delete(self, bucket: str, key: str, version: str) -> None:
        self.sync(self._delete, bucket, key, version)

    async def _put(self, container: str, blob: str, data: bytes, etag: str | None) -> str:
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

    async def _read(self, container: str, blob: str) -> tuple[bytes, str]:
        async with self.fs.service_client.get_blob_client(container=container, blob=blob) as bc:
            try:
                stream = await bc.download_blob(**getattr(self.fs, "_timeout_kwargs", {}))
            except Exception as exc:
                if missing(exc):
                    raise FileNotFoundError(blob) from exc
                raise
            data = await stream.readall()
            return bytes(data), str(stream.properties.etag)

    async def _delete(self, container: str, blob: str, etag: str) -> None:
        from azure.core import MatchConditions

        async with self.fs.service_client.get_blob_client(container=container, blob=blob) as bc:
            await bc.delete_blob(etag=etag, match_condition=MatchConditions.IfNotModified,
                                 **getattr(self.fs, "_timeout_kwargs", {}))
