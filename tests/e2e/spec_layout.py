"""Helpers for running the spec's own walkthroughs: `bronze-extract` as the installed
console script (so the current directory is not on the Python path, as for a user),
and the S3 bucket the spec's configs upload to, on the test S3 endpoint."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.e2e.helpers import REPO
from tests.fixtures.storage_services import S3_KEY, S3_SECRET, Service

#: the bucket and prefix every config of the spec uploads to
SPEC_BUCKET = "analytics-bronze"
SPEC_PREFIX = "bronze"
EXAMPLES = REPO / "docs" / "examples"


def console_script(name: str) -> str:
    """The installed entry point ``name`` of the Python running the tests."""
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else shutil.which(name) or name


def bronze_extract(
    cwd: Path, *args: str, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``bronze-extract ARGS`` in ``cwd``, with ``env`` added and no PYTHONPATH."""
    return run_script("bronze-extract", cwd, *args, env=env, timeout=timeout)


def run_script(
    name: str, cwd: Path, *args: str, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [console_script(name), *args],
        cwd=cwd,
        env={**base, "NO_COLOR": "1", "COLUMNS": "100", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spec_s3_env(s3: Service) -> dict[str, str]:
    """The Quick Start's step 2: the variables its configs read, set for the test S3."""
    return {
        "BRONZE_S3_ENDPOINT": s3.endpoint,
        "BRONZE_S3_ACCESS_KEY": S3_KEY,
        "BRONZE_S3_SECRET_KEY": S3_SECRET,
    }


def s3_client(s3: Service) -> Any:
    import boto3

    return boto3.client(
        "s3", endpoint_url=s3.endpoint, aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_SECRET, region_name="us-east-1",
    )


def ensure_spec_bucket(s3: Service) -> None:
    """The platform team's bucket (the spec's configs assume it exists)."""
    client = s3_client(s3)
    names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if SPEC_BUCKET not in names:
        client.create_bucket(Bucket=SPEC_BUCKET)


def keys_under(s3: Service, prefix: str) -> list[str]:
    """Every key under ``prefix`` (relative to it), sorted."""
    client = s3_client(s3)
    out: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=SPEC_BUCKET, Prefix=prefix):
        out += [o["Key"][len(prefix):] for o in page.get("Contents", [])]
    return sorted(out)


def read_json(s3: Service, key: str) -> dict[str, Any]:
    body = s3_client(s3).get_object(Bucket=SPEC_BUCKET, Key=key)["Body"].read()
    result: dict[str, Any] = json.loads(body)
    return result


def read_parquet(s3: Service, keys: list[str]) -> pa.Table:
    client = s3_client(s3)
    tables = [
        pq.read_table(io.BytesIO(client.get_object(Bucket=SPEC_BUCKET, Key=k)["Body"].read()))
        for k in keys
    ]
    return pa.concat_tables(tables)


def copy_examples(root: Path) -> Path:
    """The repository's ``docs/examples/`` under ``root/docs/``, as in a fresh clone."""
    target = root / "docs" / "examples"
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns("__pycache__"))
    return root
