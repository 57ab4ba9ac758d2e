"""The edges of a run that the rules in test_run_rules.py leave open (scripts/mutate run):
the task and the footer of a failure, what the commit records, a window with nothing
to land, the state settled before the run, the emptying rule at 0 and 1 rows, a
backfill refusal, a custom merge_cursors, the copy kept on local disk, the folders a
custom module is looked for in, a source's own parts, and the clean-up after killed
runs. All in process, on local disk (or the in-memory store of
tests/storage/memory_backend.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import StorageError
from foundry_dsl.executor.base import PipelineResult, SilentProgress
from foundry_dsl.executor.local import LocalExecutor
from foundry_dsl.executor.run import PipelineRun
from foundry_dsl.planner.build import build_plan
from foundry_dsl.planner.windows import WindowRequest
from foundry_dsl.storage.local import local_backend
from foundry_dsl.storage.state import StateStore
from tests.executor.helpers import AT, DATE, NEXT_DAY, custom_pipeline, only, rows

# ids 1..N, N from count.txt, read after ctx.cursor and up to ctx.until; the cursor is
# the last id read (none when nothing new); down.txt makes the source fail
SOURCE = """
import os
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.base import Extractor, NewCursor
class Source(Extractor):
    def extract(self, ctx, part=0):
        folder = os.path.dirname(os.path.abspath(__file__))
        if os.path.exists(os.path.join(folder, "down.txt")):
            raise ExtractError("the source is down")
        n = int(open(os.path.join(folder, "count.txt")).read())
        since = int(ctx.cursor) if ctx.cursor is not None else 0
        top = n if ctx.until is None else min(n, int(ctx.until))
        yield [{"id": i} for i in range(since + 1, top + 1)]
        yield NewCursor(str(top) if top > since else None)
"""

TABLE = "system=s/table=t"
FIRST = f"{TABLE}/dt=2025-01-12/"  # the partition of DATE
SECOND = f"{TABLE}/dt=2025-01-13/"  # the partition of NEXT_DAY


def _count(tmp_path: Path, n: int) -> None:
    (tmp_path / "count.txt").write_text(str(n))


def _url(tmp_path: Path, partition_path: str = FIRST) -> str:
    return f"{tmp_path / 'out'}/{partition_path}"


def _meta(tmp_path: Path, partition_path: str = FIRST) -> dict[str, Any]:
    return json.loads((tmp_path / "out" / partition_path / "_metadata.json").read_text())


def _state(tmp_path: Path) -> dict[str, Any] | None:
    return StateStore(local_backend(str(tmp_path / "out"))).get("s", "t")


def _run(p: ir.Pipeline, day: dt.date = DATE, **request: Any) -> PipelineResult:
    plan = build_plan([p], day, AT, look_up_storage=False, request=WindowRequest(**request))
    return only(LocalExecutor().execute(plan))


def _footer(tmp_path: Path, task: str, why: str, kept: str) -> str:
    return (f"pipeline s.t: task {task} failed: {why}\n"
            f"  nothing is committed at {_url(tmp_path)} yet{kept}. "
            "Fix the cause and run `foundry apply` again.")


# --- what a failure says --------------------------------------------------------------


def test_a_failed_intent_write_names_the_state_task(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_put = StateStore.put

    def put(self: StateStore, system: str, table: str, entry: dict[str, Any] | None) -> None:
        if entry is not None and "pending" in entry:
            raise StorageError("disk full")
        real_put(self, system, table, entry)

    monkeypatch.setattr(StateStore, "put", put)
    _count(tmp_path, 10)
    failed = _run(custom_pipeline(tmp_path, SOURCE))
    assert (failed.status, failed.task) == ("failed", "state")
    assert failed.error == _footer(tmp_path, "state", "disk full", "; staging was cleaned up")


def test_a_failure_after_data_was_staged_says_the_staging_was_cleaned_up(tmp_path: Path) -> None:
    (tmp_path / "down.txt").touch()
    failed = _run(custom_pipeline(tmp_path, SOURCE))
    assert (failed.status, failed.task) == ("failed", "extract[0]")
    assert failed.error == _footer(tmp_path, "extract[0]", "the source is down",
                                   "; staging was cleaned up")
    assert not (tmp_path / "out" / "_staging").exists()


def test_a_failure_without_cleanup_names_the_staging_it_kept(tmp_path: Path) -> None:
    (tmp_path / "down.txt").touch()
    failed = _run(custom_pipeline(tmp_path, SOURCE, cleanup_on_failure=False))
    (staging,) = (tmp_path / "out" / "_staging" / "s.t").iterdir()
    assert failed.error == _footer(tmp_path, "extract[0]", "the source is down",
                                   f"; staging kept in {staging}")


# --- what the commit records ------------------------------------------------------------


def test_the_commit_records_the_new_cursor(tmp_path: Path) -> None:
    _count(tmp_path, 10)
    assert _run(custom_pipeline(tmp_path, SOURCE)).cursor == "10"
    assert _meta(tmp_path)["new_cursor"] == "10"


def test_the_commit_records_extract_and_write_time_within_the_total(tmp_path: Path) -> None:
    _count(tmp_path, 10)
    _run(custom_pipeline(tmp_path, SOURCE))
    durations = _meta(tmp_path)["durations"]
    assert sorted(durations) == ["extract_and_write_seconds", "total_seconds"]
    assert 0 <= durations["extract_and_write_seconds"] <= durations["total_seconds"]


def test_a_replay_that_lands_fewer_rows_records_the_end_of_its_window(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, SOURCE)
    _count(tmp_path, 10)
    _run(p)  # dt=2025-01-12 holds (None, 10]
    _count(tmp_path, 12)
    _run(p, NEXT_DAY)  # the newest: dt=2025-01-13 holds (10, 12]
    _count(tmp_path, 8)  # ids 9 and 10 are gone from the source
    replay = _run(p)
    assert (replay.status, replay.rows, replay.cursor) == ("succeeded", 8, "8")
    # the partition still holds (None, 10]: ids 9 and 10 belong to no later partition
    assert _meta(tmp_path)["window"] == {"start": None, "end": "10", "kind": "replay"}


def test_a_source_that_gives_no_cursor_is_not_asked_to_merge_cursors(tmp_path: Path) -> None:
    merging = """
from foundry_dsl.sources.base import Extractor
class Source(Extractor):
    def extract(self, ctx, part=0):
        yield [{"id": 1}]
    def merge_cursors(self, cursors):
        return "merged"
"""
    done = _run(custom_pipeline(tmp_path, merging))
    assert (done.status, done.cursor) == ("succeeded", None), done.error
    assert _meta(tmp_path)["new_cursor"] is None
    assert _state(tmp_path) is None


# --- a window with nothing to land ------------------------------------------------------


def test_a_replay_of_a_partition_that_holds_no_rows_keeps_it_as_it_is(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, SOURCE)
    _count(tmp_path, 10)
    _run(p, NEXT_DAY)  # the newest: dt=2025-01-13 holds (None, 10]
    _count(tmp_path, 0)
    # a full refresh of dt=2025-01-12 while the source was empty: it holds (None, None]
    assert _run(p, full_refresh=True).status == "succeeded"
    before = _meta(tmp_path)
    _count(tmp_path, 10)
    kept = _run(p)
    assert kept == PipelineResult(
        name="s.t", status="succeeded", seconds=kept.seconds, partition=_url(tmp_path),
        note="kept as it is: its window is nothing: the partition holds no rows and later "
             "partitions hold the rest",
    )
    assert 0 <= kept.seconds < 3600
    assert _meta(tmp_path) == before


# --- the state, settled before the run ----------------------------------------------------


def test_a_settled_intent_is_stored_even_when_the_run_then_fails(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, SOURCE)
    _count(tmp_path, 10)
    _run(p)
    committed_run = _meta(tmp_path)["run_id"]
    # a run killed after its commit and before its cursor: its intent is still there
    StateStore(local_backend(str(tmp_path / "out"))).put("s", "t", {"pending": {
        "run_id": committed_run, "partition": FIRST, "cursor": "10"}})
    (tmp_path / "down.txt").touch()
    assert _run(p, NEXT_DAY).status == "failed"
    state = _state(tmp_path)
    assert state is not None
    assert {k: v for k, v in state.items() if k != "updated_at"} == {
        "cursor": "10", "partition": FIRST, "run_id": committed_run,
        "settled_from_commit": True,
    }


# --- the emptying rule at its edges --------------------------------------------------------


def test_an_empty_result_may_replace_an_empty_partition(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, SOURCE)
    _count(tmp_path, 0)
    assert _run(p).status == "succeeded"
    assert _meta(tmp_path)["total_records"] == 0
    again = _run(p)
    assert again.status == "succeeded", again.error
    assert _meta(tmp_path)["total_records"] == 0


def test_an_empty_result_does_not_replace_a_single_committed_row(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, SOURCE)
    _count(tmp_path, 1)
    _run(p)
    before = _meta(tmp_path)
    _count(tmp_path, 0)
    failed = _run(p)
    assert (failed.status, failed.task) == ("failed", "commit")
    assert _meta(tmp_path) == before


# --- a backfill refused -----------------------------------------------------------------


def test_a_backfill_refusal_names_the_pipeline_once(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, SOURCE)
    _count(tmp_path, 10)
    _run(p, NEXT_DAY)
    refused = _run(p)
    assert (refused.status, refused.task) == ("failed", "state")
    assert refused.error == (
        f"pipeline s.t: task state failed: partition {FIRST} has no commit and is older "
        f"than the newest commit ({SECOND}, cursor 10); a run now would land rows that "
        "belong to later dates. This is a backfill: say which rows it holds with "
        "--from CURSOR [--to CURSOR], or reload everything with --full-refresh\n"
        f"  nothing is committed at {_url(tmp_path)} yet. "
        "Fix the cause and run `foundry apply` again."
    )


# --- the copy kept on local disk (keep_local_files) ---------------------------------------


def test_an_object_store_commit_is_kept_on_local_disk_with_its_metadata(tmp_path: Path) -> None:
    from tests.storage.memory_backend import SharedMemoryBackend

    root = f"lake-{uuid.uuid4().hex[:8]}"
    p = custom_pipeline(tmp_path, SOURCE, keep_local_files=True).model_copy(update={
        "platform": ir.Platform(name="p", storage=ir.CustomStorage(
            backend="tests.storage.memory_backend:SharedMemoryBackend", root=root))})
    _count(tmp_path, 10)
    assert _run(p).status == "succeeded"
    store = SharedMemoryBackend.STORES.pop(root)
    committed = json.loads(store[f"{FIRST}_metadata.json"])
    copy = tmp_path / "out" / FIRST
    assert json.loads((copy / "_metadata.json").read_text()) == committed
    assert sorted(f.name for f in copy.iterdir()) == sorted(
        ["_metadata.json", *(f["name"] for f in committed["files"])])


def test_local_disk_storage_keeps_no_second_copy(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, SOURCE, keep_local_files=True).model_copy(update={
        "platform": ir.Platform(name="p", storage=ir.LocalStorage(path=str(tmp_path / "lake")))})
    _count(tmp_path, 10)
    done = _run(p)
    assert done.status == "succeeded", done.error
    assert (tmp_path / "lake" / FIRST / "_metadata.json").is_file()
    assert not (tmp_path / "out" / TABLE).exists()


# --- where a custom module is looked for ----------------------------------------------------

ELSEWHERE = """
class Source:
    def extract(self, ctx):
        yield [{"x": 1}]
"""


def _planned_in(here: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A plan made in ``here``, which holds the module; the pipeline file is elsewhere."""
    module = f"beside_{uuid.uuid4().hex[:8]}"
    here.mkdir()
    (here / f"{module}.py").write_text(ELSEWHERE)
    (tmp_path / "pipelines").mkdir()
    p = custom_pipeline(tmp_path / "pipelines", ELSEWHERE).model_copy(update={
        "source": ir.CustomSource(module=module, class_name="Source"),
        "run": ir.RunOptions(local_output_dir=str(tmp_path / "out"))})
    monkeypatch.chdir(here)
    return build_plan([p], DATE, AT, look_up_storage=False).pipelines[0]


def test_a_custom_module_in_the_folder_the_plan_was_made_in_is_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pp = _planned_in(tmp_path / "here", tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)  # the run looks where the plan was made, not where it runs
    done = PipelineRun(pp, SilentProgress()).run()
    assert (done.status, done.rows) == ("succeeded", 1), done.error


def test_a_plan_that_names_no_work_folder_never_looks_in_the_current_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pp = _planned_in(tmp_path / "here", tmp_path, monkeypatch)
    pp = dataclasses.replace(pp, settings=dataclasses.replace(pp.settings, work_dir=""))
    failed = PipelineRun(pp, SilentProgress()).run()  # run in the folder holding the module
    assert (failed.status, failed.task) == ("failed", "prepare")
    assert "cannot find module" in (failed.error or "")


# --- a source's own parts -----------------------------------------------------------------


def test_a_custom_source_lands_the_parts_its_prepare_counted(tmp_path: Path) -> None:
    parted = """
from foundry_dsl.sources.base import Extractor
class Source(Extractor):
    def prepare(self, ctx):
        return 3
    def parts(self, ctx):
        return ctx.prepared
    def extract(self, ctx, part=0):
        yield [{"part": part}]
"""
    done = _run(custom_pipeline(tmp_path, parted))
    assert done.status == "succeeded", done.error
    assert rows(tmp_path, columns="part") == [(0,), (1,), (2,)]


# --- where a run writes, and what it logs -----------------------------------------------


def _numbers(tmp_path: Path, **run: Any) -> ir.Pipeline:
    """A source that keeps no cursor: each run of a partition holds only that partition."""
    out = str(tmp_path / "out")
    return ir.Pipeline(
        system="s", table="t",
        platform=ir.Platform(name="p", storage=ir.LocalStorage(path=out)),
        source=ir.SequenceSource(start=1, count=5),
        run=ir.RunOptions(local_output_dir=out, **run),
        source_file=str(tmp_path / "pipelines.bronze"),
    )


def test_a_run_writes_nothing_in_the_current_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    assert _run(_numbers(tmp_path)).status == "succeeded"
    assert sorted(os.listdir(tmp_path / "cwd")) == []


def test_a_source_that_keeps_no_cursor_logs_no_window(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="foundry"):
        done = _run(_numbers(tmp_path))
    staging = tmp_path / "out" / "_staging" / "s.t" / _meta(tmp_path)["run_id"]
    assert [r.getMessage() for r in caplog.records if r.name == "foundry.executor"] == [
        f"pipeline s.t: holding the lease of {TABLE}/dt=2025-01-12",
        f"pipeline s.t: 1 extract part(s), scratch in {staging}",
        f"pipeline s.t: committed {done.partition}",
    ]


def test_a_column_that_appears_after_a_file_was_uploaded_reaches_every_file(
        tmp_path: Path) -> None:
    widening = """
class Source:
    def extract(self, ctx):
        yield [{"id": i} for i in range(1, 11)]  # a full file: uploaded at once
        yield [{"id": 11, "note": "late"}]
"""
    done = _run(custom_pipeline(tmp_path, widening, max_rows_per_file=10))
    assert (done.status, done.files) == ("succeeded", 2), done.error
    assert rows(tmp_path, columns="id, note") == [
        *((i, None) for i in range(1, 11)), (11, "late")]


# --- clean-up after killed runs -----------------------------------------------------------


@pytest.mark.parametrize(
    ("incremental", "scope"),
    [
        (True, TABLE),  # a table's runs share the cursor, so the lease is the table's
        (True, None),  # no .scope file: left by a foundry older than scopes
        (False, f"{TABLE}/dt=2025-01-11"),  # another date's run, under that date's lease
        (False, f"{TABLE}/dt=2025-01-12"),  # an earlier run of this very partition
    ],
    ids=["table", "no-scope-file", "another-date", "same-date"],
)
def test_the_scratch_a_killed_run_left_is_removed_by_the_next_run(
        tmp_path: Path, incremental: bool, scope: str | None) -> None:
    if incremental:
        _count(tmp_path, 10)
        p = custom_pipeline(tmp_path, SOURCE)
    else:
        p = _numbers(tmp_path)
    dead = tmp_path / "out" / "_staging" / "s.t" / "20250111_143000-deadbeef"
    dead.mkdir(parents=True)
    (dead / "part-0001.parquet").write_bytes(b"half a file")
    if scope is not None:
        (dead / ".scope").write_text(scope)
    done = _run(p)
    assert done.status == "succeeded", done.error
    assert not (tmp_path / "out" / "_staging").exists()


def test_uploads_a_killed_run_staged_for_another_date_are_removed(tmp_path: Path) -> None:
    staging = tmp_path / "out" / "_foundry" / "staging" / TABLE
    attempt = staging / "dt=2025-01-11" / "attempt-deadbeef"
    attempt.mkdir(parents=True)
    (attempt / "part-0001-deadbeef.parquet").write_bytes(b"half a file")
    _count(tmp_path, 10)
    done = _run(custom_pipeline(tmp_path, SOURCE))
    assert done.status == "succeeded", done.error
    assert list((tmp_path / "out" / "_foundry" / "staging").iterdir()) == []


# --- what a unit of work carries ------------------------------------------------------------


class _Handing(PipelineRun):
    """A run that records each unit of work it hands to the landing step (the executor
    interface: an out-of-process executor lands ``Work`` on another machine)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.handed: list[Any] = []

    def _land(self, work: Any, extractor: Any, backend: Any) -> Any:
        self.handed.append(work)
        return super()._land(work, extractor, backend)


def test_the_unit_of_work_carries_the_runs_id(tmp_path: Path) -> None:
    # a Dask worker names its scratch folder and its committer by this id
    pp = build_plan([_numbers(tmp_path)], DATE, AT, look_up_storage=False).pipelines[0]
    run = _Handing(pp, SilentProgress())
    done = run.run()
    assert done.status == "succeeded", done.error
    assert [w.run_id for w in run.handed] == [run.run_id]
