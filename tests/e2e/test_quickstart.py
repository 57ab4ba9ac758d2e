"""The spec's Quick Start ("Basic Usage"), step by step with its own file names and
folders, on a loopback API and the test S3 endpoint:

1. ``cp docs/examples/configs/api_example.yaml my_config.yaml`` and edit it (here: the
   loopback API in place of GitHub, and the token variable step 2 names);
2. ``export MY_API_TOKEN=... BRONZE_S3_ENDPOINT=... BRONZE_S3_ACCESS_KEY=... ...``;
3. ``bronze-extract --config my_config.yaml --date 2025-01-12``, then three configs
   with ``--parallel-workers 3``;
4. ``ls -la output/system=*/table=*/dt=*/``.

The steps run once (module fixture); each test checks one thing the spec says you get.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.spec_layout import (
    SPEC_PREFIX,
    bronze_extract,
    copy_examples,
    ensure_spec_bucket,
    keys_under,
    read_json,
    read_parquet,
    spec_s3_env,
)
from tests.fixtures.api_server import BEARER_TOKEN, ApiServer
from tests.fixtures.storage_services import Service

DATE = "2025-01-12"
RECORDS = 250  # the loopback API's default dataset
PARALLEL = ("config1.yaml", "config2.yaml", "config3.yaml")


@dataclass(frozen=True)
class QuickStart:
    clone: Path
    single: subprocess.CompletedProcess[str]
    parallel: subprocess.CompletedProcess[str]
    s3: Service


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


@pytest.fixture(scope="module")
def quickstart(
    tmp_path_factory: pytest.TempPathFactory, api_server: ApiServer, moto_s3: Service
) -> Iterator[QuickStart]:
    ensure_spec_bucket(moto_s3)
    clone = copy_examples(tmp_path_factory.mktemp("medallion-foundry"))
    # 1. Create a configuration file, and edit it with your settings
    shutil.copyfile(clone / "docs/examples/configs/api_example.yaml", clone / "my_config.yaml")
    text = (clone / "my_config.yaml").read_text()
    text = edit(text, 'base_url: "https://api.github.com"', f'base_url: "{api_server.url}"')
    text = edit(text, 'endpoint: "/repos/owner/repo/issues"', 'endpoint: "/bearer/github"')
    text = edit(text, 'auth_token_env: "GITHUB_TOKEN"', 'auth_token_env: "MY_API_TOKEN"')
    (clone / "my_config.yaml").write_text(text)
    for i, name in enumerate(PARALLEL, 1):
        (clone / name).write_text(edit(text, 'table: "issues"', f'table: "issues_{i}"'))
    # 2. Set environment variables
    env = {"MY_API_TOKEN": BEARER_TOKEN, **spec_s3_env(moto_s3)}
    # 3. Run extraction: single, then several configs in parallel
    single = bronze_extract(clone, "--config", "my_config.yaml", "--date", DATE, env=env)
    parallel = bronze_extract(
        clone, "--config", ",".join(PARALLEL), "--parallel-workers", "3", "--date", DATE, env=env
    )
    yield QuickStart(clone, single, parallel, moto_s3)


def partition(table: str) -> str:
    return f"{SPEC_PREFIX}/system=github/table={table}/dt={DATE}/"


def test_step_3_the_single_extraction_succeeds(quickstart: QuickStart) -> None:
    out = quickstart.single
    assert out.returncode == 0, out.stderr + out.stdout


def test_step_3_lands_one_part_file_and_the_metadata_in_the_bronze_layout(
    quickstart: QuickStart,
) -> None:
    keys = keys_under(quickstart.s3, partition("issues"))
    assert len(keys) == 2 and keys[0] == "_metadata.json"
    assert re.fullmatch(r"part-0001-[0-9a-z]+\.parquet", keys[1]), keys[1]


def test_step_3_lands_every_record_of_the_api(quickstart: QuickStart) -> None:
    meta = read_json(quickstart.s3, partition("issues") + "_metadata.json")
    table = read_parquet(quickstart.s3, [partition("issues") + f["name"] for f in meta["files"]])
    assert sorted(table.column("id").to_pylist()) == list(range(RECORDS))


def test_step_3_metadata_has_the_spec_s_fields(quickstart: QuickStart) -> None:
    meta = read_json(quickstart.s3, partition("issues") + "_metadata.json")
    assert {k: meta[k] for k in (
        "run_date", "system", "table", "total_records", "num_files", "partition_path",
        "file_formats",
    )} == {
        "run_date": DATE,
        "system": "github",
        "table": "issues",
        "total_records": RECORDS,
        "num_files": 1,
        "partition_path": f"system=github/table=issues/dt={DATE}/",
        "file_formats": {"csv": False, "parquet": True},
    }


def test_step_3_parallel_configs_each_land_their_table(quickstart: QuickStart) -> None:
    assert quickstart.parallel.returncode == 0, quickstart.parallel.stderr
    totals = [
        read_json(quickstart.s3, partition(f"issues_{i}") + "_metadata.json")["total_records"]
        for i in (1, 2, 3)
    ]
    assert totals == [RECORDS] * 3


def test_step_4_ls_lists_the_part_files_of_every_partition(quickstart: QuickStart) -> None:
    out = subprocess.run(
        "ls -la output/system=*/table=*/dt=*/", shell=True, cwd=quickstart.clone,
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr
    listed = re.findall(r"part-0001\S*\.parquet", out.stdout)
    assert len(listed) == 4  # issues, issues_1, issues_2, issues_3
