"""Storage layer: the S3 kind (and S3-compatible stores such as MinIO), through s3fs.

:func:`build` turns an ``ir.S3Storage`` into an :class:`FsspecBackend`, reading
its ``env(...)`` secrets at run time only; :func:`root_url` shows where it lands
without either; :class:`S3Conditions` are S3's conditional writes
(``If-None-Match: *`` and ``If-Match`` on the ETag), which leases are built on.
"""

from __future__ import annotations

import functools
from typing import Any

from foundry_dsl import ir
from foundry_dsl.errors import StorageError
from foundry_dsl.storage.conditional import ConditionalWrites
from foundry_dsl.storage.fsspec_backend import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONCURRENCY,
    FsspecBackend,
    fs_root,
    store_url,
)
from foundry_dsl.storage.layout import check_store_root


def root_url(s: ir.S3Storage) -> str:
    return store_url("s3", s.bucket, s.prefix)


def build(s: ir.S3Storage, context: str) -> FsspecBackend:
    check_store_root("s3", "bucket", s.bucket, s.prefix)
    import s3fs

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
        fs_root(s.bucket, s.prefix),
        backend_type="s3",
        root_url=root_url(s),
        secrets=(key or "", secret or ""),
        context=context,
        put_options={"chunksize": DEFAULT_CHUNK_SIZE, "max_concurrency": DEFAULT_CONCURRENCY},
    )


class S3Conditions(ConditionalWrites):
    """S3's conditional writes, on s3fs's botocore client."""

    #: the botocore operation and parameter each conditional call needs
    NEEDS = {
        "create": ("PutObject", "IfNoneMatch"),
        "replace": ("PutObject", "IfMatch"),
        "delete": ("DeleteObject", "IfMatch"),
    }

    def require(self, op: str) -> None:
        _need_s3_param(*self.NEEDS[op])

    def create(self, bucket: str, key: str, data: bytes) -> str:
        return str(self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data,
                                   IfNoneMatch="*")["ETag"])

    def read(self, bucket: str, key: str) -> tuple[bytes, str]:
        result: tuple[bytes, str] = self.sync(self._read, bucket, key)
        return result

    def replace(self, bucket: str, key: str, data: bytes, version: str) -> str:
        return str(self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data,
                                   IfMatch=version)["ETag"])

    def delete(self, bucket: str, key: str, version: str) -> None:
        self.fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=version)

    async def _read(self, bucket: str, key: str) -> tuple[bytes, str]:
        # one GET: the body and the ETag come from the same object version
        resp = await self.fs._call_s3("get_object", Bucket=bucket, Key=key)
        body = resp["Body"]
        try:
            data = await body.read()
        finally:
            body.close()
        return bytes(data), str(resp["ETag"])


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
