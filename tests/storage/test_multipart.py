"""Large files go up to S3 in parts."""

from __future__ import annotations

import os
from pathlib import Path

import boto3

from foundry_dsl.storage.fsspec_backend import FsspecBackend
from foundry_dsl.storage.registry import backend_for
from tests.fixtures.storage_services import BUCKET, S3_KEY, S3_SECRET, Service, make_pipeline

MiB = 2**20


def test_a_file_over_two_parts_is_uploaded_as_a_multipart_upload(
    moto_s3: Service, prefix: str, tmp_path: Path
) -> None:
    backend = backend_for(make_pipeline(moto_s3.storage(prefix)))
    assert isinstance(backend, FsspecBackend)
    backend.put_options["chunksize"] = 5 * MiB  # S3's smallest part, to keep the test small
    src = tmp_path / "part-0001.parquet"
    src.write_bytes(os.urandom(12 * MiB))
    backend.upload_file(str(src), "big/part-0001.parquet")
    head = boto3.client(
        "s3", endpoint_url=moto_s3.endpoint, aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_SECRET, region_name="us-east-1",
    ).head_object(Bucket=BUCKET, Key=f"{prefix}/big/part-0001.parquet")
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 2 MiB; multipart ETags end in -<parts>
    assert head["ContentLength"] == 12 * MiB
    out = tmp_path / "back.bin"
    backend.download_file("big/part-0001.parquet", str(out))
    assert out.read_bytes() == src.read_bytes()
