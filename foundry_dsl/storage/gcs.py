"""Storage layer: the Google Cloud Storage kind, through gcsfs.

:func:`build` turns an ``ir.GcsStorage`` into an :class:`FsspecBackend`,
reading its ``env(...)`` credentials at run time only; :func:`root_url` shows
where it lands (``gs://bucket/prefix``) without them; :class:`GcsConditions`
are GCS's conditional writes (``ifGenerationMatch`` on the generation), which
leases are built on.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import quote

from foundry_dsl import ir
from foundry_dsl.errors import StorageError
from foundry_dsl.storage.conditional import ConditionalWrites
from foundry_dsl.storage.fsspec_backend import (
    DEFAULT_CHUNK_SIZE,
    FsspecBackend,
    fs_root,
    store_url,
)
from foundry_dsl.storage.layout import check_store_root


def root_url(s: ir.GcsStorage) -> str:
    return store_url("gs", s.bucket, s.prefix)


def build(s: ir.GcsStorage, context: str) -> FsspecBackend:
    check_store_root("gcs", "bucket", s.bucket, s.prefix)
    import gcsfs

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
        fs_root(s.bucket, s.prefix),
        backend_type="gcs",
        root_url=root_url(s),
        context=context,
        put_options={"chunksize": DEFAULT_CHUNK_SIZE},
    )


class GcsConditions(ConditionalWrites):
    """GCS's conditional writes, on gcsfs's JSON-API client."""

    def create(self, bucket: str, key: str, data: bytes) -> str:
        # generation 0 means "no live object"
        return str(self.sync(self._put, bucket, key, data, "0"))

    def read(self, bucket: str, key: str) -> tuple[bytes, str]:
        result: tuple[bytes, str] = self.sync(self._read, bucket, key)
        return result

    def replace(self, bucket: str, key: str, data: bytes, version: str) -> str:
        return str(self.sync(self._put, bucket, key, data, version))

    def delete(self, bucket: str, key: str, version: str) -> None:
        self.sync(self.fs._call, "DELETE", "b/{}/o/{}", bucket, key, ifGenerationMatch=version)

    async def _put(self, bucket: str, key: str, data: bytes, generation: str) -> str:
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

    async def _read(self, bucket: str, key: str) -> tuple[bytes, str]:
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
