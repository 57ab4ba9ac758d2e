"""`foundry plan` and `foundry graph` as a user runs them: snapshots of every pipeline file.

The pipelines in pipelines/ cover every partition strategy (date: demo,
hourly: github_issues, timestamp: stripe_customers, batch_id: erp_orders,
none: warehouse). Run with fixed --date/--at and --offline, the output is
byte-identical from run to run, so it is compared to a stored snapshot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIPELINE_FILES = sorted(
    p.relative_to(REPO).as_posix()
    for pattern in ("*.bronze", "*.yaml", "*.yml")
    for p in (REPO / "pipelines").rglob(pattern)
    if "data" not in p.relative_to(REPO / "pipelines").parts
)
FIXED = ["--date", "2025-01-12", "--at", "2025-01-12T14:30:00Z", "--offline"]


def _referenced_variables() -> set[str]:
    """Every environment variable the pipelines read: unset in the runs below, so a
    plan's env lines are the same on every machine."""
    from foundry_dsl import api
    from foundry_dsl.planner.checks import env_vars

    project = api.load([str(REPO / f) for f in PIPELINE_FILES])
    return {v.name for p in project.pipelines for v in env_vars(p)}


UNSET = _referenced_variables()


def foundry(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in UNSET}
    full_env = {**clean, "NO_COLOR": "1", "COLUMNS": "80", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "foundry_dsl", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("path", PIPELINE_FILES)
def test_plan_text(path: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    out = foundry("plan", path, *FIXED)
    assert out.returncode == 0, out.stderr
    assert out.stdout == snapshot


@pytest.mark.parametrize("path", PIPELINE_FILES)
def test_plan_json(path: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    out = foundry("plan", path, *FIXED, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == snapshot


def test_plan_of_every_file_fits_80_columns_without_colour() -> None:
    out = foundry("plan", *PIPELINE_FILES, *FIXED)
    assert out.returncode == 0, out.stderr
    assert "\x1b[" not in out.stdout
    assert max(len(line) for line in out.stdout.splitlines()) <= 80


def test_plan_is_byte_identical_across_runs() -> None:
    first = foundry("plan", *PIPELINE_FILES, *FIXED, "--json").stdout
    assert first and foundry("plan", *PIPELINE_FILES, *FIXED, "--json").stdout == first


def test_plan_ends_with_a_summary_line() -> None:
    out = foundry("plan", "pipelines/demo.bronze", *FIXED)
    assert out.stdout.splitlines()[-1] == "2 pipelines: 2 to write (storage not checked)"


def test_plan_shows_secrets_as_env_references_never_values() -> None:
    out = foundry("plan", "pipelines/erp_orders.bronze", *FIXED, env={"ERP_ODBC": "Driver=x;PWD=hunter2-secret"})
    assert 'env("ERP_ODBC")' in out.stdout
    assert "hunter2-secret" not in out.stdout


def test_detailed_exitcode_is_2_when_the_plan_writes() -> None:
    assert foundry("plan", "pipelines/demo.bronze", *FIXED, "--detailed-exitcode").returncode == 2


def test_plain_exit_code_is_0() -> None:
    assert foundry("plan", "pipelines/demo.bronze", *FIXED).returncode == 0


def test_unsafe_batch_id_exits_1_with_the_reason() -> None:
    out = foundry("plan", "pipelines/erp_orders.bronze", *FIXED, "--batch-id", "../x")
    assert out.returncode == 1
    assert out.stderr.startswith("error: pipeline erp.orders: the batch id '../x' contains '..'")


def test_bad_date_exits_1_with_help() -> None:
    out = foundry("plan", "pipelines/demo.bronze", "--date", "12/01/2025", "--offline")
    assert out.returncode == 1
    assert "--date '12/01/2025' is not a date" in out.stderr
    assert "= help: use YYYY-MM-DD" in out.stderr


def test_at_that_leaves_the_calendar_in_utc_exits_1_with_help() -> None:
    out = foundry("plan", "pipelines/demo.bronze", "--at", "9999-12-31T23:59:59-01:00", "--offline")
    assert out.returncode == 1
    assert out.stderr.splitlines()[:2] == [
        "error: --at '9999-12-31T23:59:59-01:00' is outside the years 1 to 9999 in UTC",
        "   = help: e.g. --at 2025-01-12T14:30:00Z",
    ]


def test_select_keeps_only_the_named_pipeline() -> None:
    out = foundry("plan", "pipelines/demo.bronze", *FIXED, "--json", "--select", "shop.orders")
    assert [p["name"] for p in json.loads(out.stdout)["pipelines"]] == ["shop.orders"]


def test_select_of_an_unknown_pipeline_suggests_the_closest() -> None:
    out = foundry("plan", "pipelines/demo.bronze", *FIXED, "--select", "shop.order")
    assert out.returncode == 1
    assert "did you mean 'shop.orders'?" in out.stderr


def test_graph_mermaid(snapshot) -> None:  # type: ignore[no-untyped-def]
    out = foundry("graph", "pipelines/demo.bronze", "--format", "mermaid", *FIXED[:4])
    assert out.returncode == 0, out.stderr
    assert out.stdout == snapshot


def test_graph_dot(snapshot) -> None:  # type: ignore[no-untyped-def]
    out = foundry("graph", "pipelines/erp_orders.bronze", "--format", "dot", *FIXED[:4])
    assert out.returncode == 0, out.stderr
    assert out.stdout == snapshot
