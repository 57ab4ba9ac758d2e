"""`foundry apply` on an API source end to end: a subprocess against the fake API server.

Exactly-once landing through faults, incremental loads over three runs, a failed
run that commits nothing, and no secret anywhere in logs, plans or metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import foundry
from tests.fixtures.api_server import BEARER_TOKEN, ApiServer, typed_record

# the executor's commit protocol and state store are built alongside; until they land
# these tests have nothing to run against

PARTITION = "out/system=fake/table=items/dt={date}"


def write_pipeline(folder: Path, api: ApiServer, *, endpoint: str, params: str = "",
                   auth: str = "", incremental: str = "") -> Path:
    text = f"""platform lake {{
  storage local {{
    path = "out"
  }}
  partition = date
  formats = [parquet]
}}

pipeline fake.items {{
  platform = lake
  source api {{
    base_url = "{api.url}"
    endpoint = "{endpoint}"
    params {{
      {params}
    }}
    records = "data"
    {auth}
    paginate offset {{
      limit = 1000
      total_path = "total"
    }}
    timeout = 0.3
    retry {{
      max_attempts = 10
      backoff = 0.01
      max_backoff = 0.05
    }}
    {incremental}
  }}
}}
"""
    path = folder / "pipeline.bronze"
    path.write_text(text)
    return path


def landed(folder: Path, date: str) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    files = sorted((folder / PARTITION.format(date=date)).glob("*.parquet"))
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: r["id"])


def metadata(folder: Path, date: str) -> dict[str, Any] | None:
    path = folder / PARTITION.format(date=date) / "_metadata.json"
    return json.loads(path.read_text()) if path.exists() else None


def stored_cursor(folder: Path) -> str | None:
    out = foundry(folder, "state", "show", "fake.items", "--file", "pipeline.bronze")
    assert out.returncode == 0, out.stderr
    if "no stored state" in out.stdout:
        return None
    return json.loads(out.stdout)["cursor"]  # type: ignore[no-any-return]


INCREMENTAL = 'incremental {\n      field = "updated_at"\n      param = "since"\n    }'


@pytest.mark.slow
def test_landed_partition_equals_the_source_through_faults(tmp_path: Path, api: ApiServer) -> None:
    n = 100_000
    write_pipeline(tmp_path, api, endpoint="/offset", params=f"n = {n}")
    api.inject(0.2, slow=0.5, retry_after="0")
    out = foundry(tmp_path, "apply", "pipeline.bronze", "--date", "2024-01-02")
    assert out.returncode == 0, out.stderr + out.stdout
    assert landed(tmp_path, "2024-01-02") == [typed_record(i) for i in range(n)]
    assert sum(api.faults.injected.values()) >= 0.10 * len(api.log)


def test_incremental_over_three_runs_lands_only_new_or_updated_records(
        tmp_path: Path, api: ApiServer) -> None:
    write_pipeline(tmp_path, api, endpoint="/changes", incremental=INCREMENTAL)
    api.changes = [{"id": i, "updated_at": f"2024-01-01T00:00:{i:02d}Z", "v": 1}
                   for i in range(50)]

    assert foundry(tmp_path, "apply", "pipeline.bronze", "--date", "2024-01-01").returncode == 0
    assert [r["id"] for r in landed(tmp_path, "2024-01-01")] == list(range(50))
    assert stored_cursor(tmp_path) == "2024-01-01T00:00:49Z"

    api.changes[7] = {"id": 7, "updated_at": "2024-01-02T00:00:00Z", "v": 2}
    api.changes.append({"id": 50, "updated_at": "2024-01-02T00:00:01Z", "v": 1})
    assert foundry(tmp_path, "apply", "pipeline.bronze", "--date", "2024-01-02").returncode == 0
    assert [(r["id"], r["v"]) for r in landed(tmp_path, "2024-01-02")] == [(7, 2), (50, 1)]
    assert stored_cursor(tmp_path) == "2024-01-02T00:00:01Z"
    assert api.requests_to("changes")[-1].query["since"] == "2024-01-01T00:00:49Z"

    assert foundry(tmp_path, "apply", "pipeline.bronze", "--date", "2024-01-03").returncode == 0
    assert landed(tmp_path, "2024-01-03") == []
    assert stored_cursor(tmp_path) == "2024-01-02T00:00:01Z"


def test_a_page_failing_past_the_budget_commits_nothing_and_keeps_the_cursor(
        tmp_path: Path, api: ApiServer) -> None:
    write_pipeline(tmp_path, api, endpoint="/changes", incremental=INCREMENTAL)
    api.changes = [{"id": i, "updated_at": f"2024-01-01T00:00:{i:02d}Z"} for i in range(5)]
    assert foundry(tmp_path, "apply", "pipeline.bronze", "--date", "2024-01-01").returncode == 0
    api.changes.append({"id": 5, "updated_at": "2024-01-02T00:00:00Z"})
    api.inject(1.0, kinds=("503",))

    out = foundry(tmp_path, "apply", "pipeline.bronze", "--date", "2024-01-02")
    assert out.returncode == 1
    assert "/changes?since=2024-01-01T00%3A00%3A04Z" in out.stderr + out.stdout
    assert "HTTP 503 Service Unavailable) after 10 attempts" in out.stderr + out.stdout
    assert metadata(tmp_path, "2024-01-02") is None
    assert landed(tmp_path, "2024-01-02") == []
    assert stored_cursor(tmp_path) == "2024-01-01T00:00:04Z"


def test_the_token_appears_in_no_log_line_plan_or_metadata(
        tmp_path: Path, api: ApiServer, auth_env: dict[str, str]) -> None:
    auth = 'auth bearer {\n      token = env("API_TOKEN")\n    }'
    write_pipeline(tmp_path, api, endpoint="/bearer/offset", params="n = 3000", auth=auth,
                   incremental=INCREMENTAL)
    api.inject(0.0, first=3, kinds=("503", "429", "drop"), retry_after="0")  # one of each
    env = dict(auth_env)
    outputs = [
        foundry(tmp_path, "plan", "pipeline.bronze", env=env),
        foundry(tmp_path, "plan", "pipeline.bronze", "--json", env=env),
        foundry(tmp_path, "apply", "pipeline.bronze", "--date", "2024-01-01",
                "--log-format", "json", env=env),
        foundry(tmp_path, "apply", "pipeline.bronze", "--date", "2024-01-02", env=env),
    ]
    assert outputs[2].returncode == 0, outputs[2].stderr
    assert len(landed(tmp_path, "2024-01-01")) == 3000
    assert api.faults.injected == {"503": 1, "429": 1, "drop": 1}  # retries were logged
    api.inject(1.0, kinds=("503",))
    outputs.append(foundry(tmp_path, "apply", "pipeline.bronze", "--date", "2024-01-03", env=env))
    assert outputs[-1].returncode == 1
    texts = [o.stdout + o.stderr for o in outputs]
    texts += [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()
              and p.suffix != ".parquet"]
    assert any("_metadata" in str(p) for p in tmp_path.rglob("_metadata.json"))
    assert [t for t in texts if BEARER_TOKEN in t] == []
