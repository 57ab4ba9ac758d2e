"""A run's commit and cursor, in the order that keeps them in step, checked on the
recorded sequence of what the run did (scripts/mutate run): the intent is stored,
then the partition is committed, then the cursor; a run that fails anywhere leaves a
state the next run settles from the commits. Local disk: the commit is seen by
wrapping the committer, the state writes by wrapping the backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import CommitError, StorageError
from foundry_dsl.storage import registry as backends
from foundry_dsl.storage.commit import PartitionCommitter
from foundry_dsl.storage.local import local_backend
from foundry_dsl.storage.state import StateStore
from tests.executor.helpers import NEXT_DAY, apply, custom_pipeline, only, partition
from tests.storage.recording_backend import RecordingBackend

# ids 1..N, N from count.txt; the cursor is the last id read (none when nothing new)
SOURCE = """
import os
from foundry_dsl.sources.base import Extractor, NewCursor
class Source(Extractor):
    def extract(self, ctx, part=0):
        folder = os.path.dirname(os.path.abspath(__file__))
        n = int(open(os.path.join(folder, "count.txt")).read())
        since = int(ctx.cursor) if ctx.cursor is not None else 0
        top = n if ctx.until is None else min(n, int(ctx.until))
        yield [{"id": i} for i in range(since + 1, top + 1)]
        if os.path.exists(os.path.join(folder, "past.txt")):  # a source that ignores ctx.until
            yield NewCursor("99")
            return
        yield NewCursor(str(top) if top > since else None)
"""

STATE = "_state/system=s/table=t.json"
MARKER = "system=s/table=t/dt=2025-01-12/_metadata.json"


def _count(tmp_path: Path, n: int) -> None:
    (tmp_path / "count.txt").write_text(str(n))


def _state(tmp_path: Path) -> dict[str, Any] | None:
    return StateStore(local_backend(str(tmp_path / "out"))).get("s", "t")


def _meta(tmp_path: Path) -> dict[str, Any]:
    return json.loads((partition(tmp_path) / "_metadata.json").read_text())


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What runs do to the store, in order: writes and deletes of the state, and commits."""
    seen: list[tuple[str, str]] = []
    real_open = backends.open_backend
    real_commit = PartitionCommitter.commit

    def recorded(storage: ir.Storage, context: str) -> Any:
        backend = RecordingBackend(real_open(storage, context))
        backend.ops = seen  # one sequence for every backend a run opens
        return backend

    def commit(self: PartitionCommitter, metadata: dict[str, Any]) -> None:
        seen.append(("commit", self.partition_path))
        real_commit(self, metadata)

    monkeypatch.setattr(backends, "open_backend", recorded)
    monkeypatch.setattr(PartitionCommitter, "commit", commit)
    return seen


def _order(events: list[tuple[str, str]]) -> list[str]:
    return [f"{op} {path}" for op, path in events
            if op == "commit" or (op in ("write", "delete") and path.startswith("_state"))]


def test_the_intent_is_stored_before_the_commit_and_the_cursor_after_it(
        tmp_path: Path, events: list[tuple[str, str]]) -> None:
    _count(tmp_path, 10)
    result = only(apply(custom_pipeline(tmp_path, SOURCE)))
    assert result.status == "succeeded", result.error
    assert _order(events) == [
        f"write {STATE} (pending)",
        "commit system=s/table=t/dt=2025-01-12",
        f"write {STATE}",
    ]


def test_a_source_without_a_cursor_writes_no_state(tmp_path: Path,
                                                  events: list[tuple[str, str]]) -> None:
    snapshot = "class Source:\n    def extract(self, ctx):\n        yield [{'x': 1}]\n"
    assert only(apply(custom_pipeline(tmp_path, snapshot))).status == "succeeded"
    assert _order(events) == ["commit system=s/table=t/dt=2025-01-12"]


def test_the_stored_cursor_names_the_run_and_partition_that_reached_it(tmp_path: Path) -> None:
    _count(tmp_path, 10)
    result = only(apply(custom_pipeline(tmp_path, SOURCE)))
    state = _state(tmp_path)
    assert state is not None
    assert (state["cursor"], state["partition"], state["records"]) == (
        "10", "system=s/table=t/dt=2025-01-12/", 10)
    assert state["run_id"] == _meta(tmp_path)["run_id"]
    assert "pending" not in state
    assert result.cursor == "10"


def test_the_commit_records_the_window_it_holds(tmp_path: Path) -> None:
    _count(tmp_path, 10)
    only(apply(custom_pipeline(tmp_path, SOURCE)))
    assert _meta(tmp_path)["window"] == {"start": None, "end": "10", "kind": "new"}
    _count(tmp_path, 15)
    only(apply(custom_pipeline(tmp_path, SOURCE)))  # the newest partition again: extended
    assert _meta(tmp_path)["window"] == {"start": None, "end": "15", "kind": "extend"}


def test_a_commit_with_no_new_rows_records_its_start_as_its_end(tmp_path: Path) -> None:
    _count(tmp_path, 10)
    p = custom_pipeline(tmp_path, SOURCE)
    only(apply(p))
    only(apply(p, date=NEXT_DAY))  # nothing arrived since
    meta = json.loads((tmp_path / "out" / "system=s" / "table=t" / "dt=2025-01-13" /
                       "_metadata.json").read_text())
    assert meta["window"] == {"start": "10", "end": "10", "kind": "new"}


def test_a_failed_commit_leaves_an_intent_the_next_run_drops(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _count(tmp_path, 10)
    p = custom_pipeline(tmp_path, SOURCE)
    real = PartitionCommitter.commit

    def refuse(self: PartitionCommitter, metadata: dict[str, Any]) -> None:
        raise CommitError("the store said no")

    monkeypatch.setattr(PartitionCommitter, "commit", refuse)
    failed = only(apply(p))
    assert (failed.status, failed.task) == ("failed", "commit")
    left = _state(tmp_path)
    assert left is not None and left["pending"]["cursor"] == "10" and left.get("cursor") is None
    monkeypatch.setattr(PartitionCommitter, "commit", real)
    again = only(apply(p))
    assert again.status == "succeeded", again.error
    assert again.cursor == "10"  # read from the initial cursor again: nothing was skipped
    state = _state(tmp_path)
    assert state is not None and state["cursor"] == "10" and "pending" not in state


def test_a_cursor_that_cannot_be_stored_after_the_commit_is_settled_from_the_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _count(tmp_path, 10)
    p = custom_pipeline(tmp_path, SOURCE)
    real_put = StateStore.put

    def put(self: StateStore, system: str, table: str, entry: dict[str, Any] | None) -> None:
        if entry is not None and entry.get("pending") is None:
            raise StorageError("disk full")
        real_put(self, system, table, entry)

    monkeypatch.setattr(StateStore, "put", put)
    failed = only(apply(p))
    assert (failed.status, failed.task) == ("failed", "state")
    assert (
        "the partition is committed but the new cursor '10' could not be stored: disk full; "
        "the next run takes the cursor from this commit (it records its window), so nothing "
        "is lost or doubled"
    ) in (failed.error or "")
    monkeypatch.setattr(StateStore, "put", real_put)
    _count(tmp_path, 12)
    again = only(apply(p))
    assert again.status == "succeeded", again.error
    state = _state(tmp_path)
    assert state is not None and state["cursor"] == "12"
    assert state["run_id"] == _meta(tmp_path)["run_id"]  # this run stored its own cursor
    assert _meta(tmp_path)["total_records"] == 12  # the newest partition extended: 1..12


def test_settling_from_the_commit_is_stored_before_the_run_reads_the_cursor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _count(tmp_path, 10)
    p = custom_pipeline(tmp_path, SOURCE)
    only(apply(p))
    committed_run = _meta(tmp_path)["run_id"]
    store = StateStore(local_backend(str(tmp_path / "out")))
    # a run killed after its commit and before its cursor: the intent is still there
    store.put("s", "t", {"pending": {"run_id": committed_run, "partition":
                                     "system=s/table=t/dt=2025-01-12", "cursor": "10"}})
    _count(tmp_path, 14)
    again = only(apply(p, date=NEXT_DAY))
    assert again.status == "succeeded", again.error
    assert again.cursor == "14"
    rows_next_day = json.loads((tmp_path / "out" / "system=s" / "table=t" / "dt=2025-01-13" /
                                "_metadata.json").read_text())["total_records"]
    assert rows_next_day == 4  # 11..14: the settled cursor, not the initial one


def test_a_source_past_the_end_of_its_window_fails_the_commit(tmp_path: Path) -> None:
    _count(tmp_path, 10)
    p = custom_pipeline(tmp_path, SOURCE)
    only(apply(p))  # dt=2025-01-12 holds (None, 10]
    _count(tmp_path, 12)
    only(apply(p, date=NEXT_DAY))  # the newest: dt=2025-01-13 holds (10, 12]
    (tmp_path / "past.txt").touch()
    failed = only(apply(p))  # a replay of dt=2025-01-12: (None, 10]
    assert (failed.status, failed.task) == ("failed", "commit")
    assert (
        "the source returned rows up to cursor '99', past the end of this run's window '10'; "
        "those rows belong to a later partition and would be landed twice. A custom source "
        "must not yield rows past ctx.until"
    ) in (failed.error or "")


def test_an_empty_result_does_not_replace_committed_rows(tmp_path: Path) -> None:
    _count(tmp_path, 2)
    p = custom_pipeline(tmp_path, SOURCE)
    only(apply(p))
    before = _meta(tmp_path)
    _count(tmp_path, 0)  # the source lost its rows: a rerun reads none
    failed = only(apply(p))
    assert (failed.status, failed.task) == ("failed", "commit")
    assert (
        f"the source returned no rows, and committing would replace the 2 rows committed at "
        f"{before['batch_timestamp']} with an empty partition. If the source really is empty "
        "for this run, run again with --allow-empty (or set allow_empty = true in the run block)"
    ) in (failed.error or "")
    assert _meta(tmp_path) == before


def test_an_empty_result_may_replace_committed_rows_when_allowed(tmp_path: Path) -> None:
    _count(tmp_path, 2)
    only(apply(custom_pipeline(tmp_path, SOURCE)))
    _count(tmp_path, 0)
    done = only(apply(custom_pipeline(tmp_path, SOURCE, allow_empty=True)))
    assert done.status == "succeeded", done.error
    assert _meta(tmp_path)["total_records"] == 0


# --- what a run tells: its result, its debug log, the task that failed, its context ----


def test_a_succeeded_run_reports_its_figures_and_partition(tmp_path: Path) -> None:
    _count(tmp_path, 10)
    result = only(apply(custom_pipeline(tmp_path, SOURCE)))
    meta = _meta(tmp_path)
    assert (result.name, result.status, result.rows, result.files) == ("s.t", "succeeded", 10, 1)
    assert result.bytes == sum(f["size"] for f in meta["files"]) > 0
    assert result.partition == f"{tmp_path / 'out'}/system=s/table=t/dt=2025-01-12/"
    assert 0 < result.seconds < 3600


def test_a_run_logs_its_window_parts_and_commit_at_debug_level(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    _count(tmp_path, 10)
    with caplog.at_level(logging.DEBUG, logger="foundry"):
        result = only(apply(custom_pipeline(tmp_path, SOURCE)))
    lines = [r.getMessage() for r in caplog.records if r.name == "foundry.executor"]
    assert "pipeline s.t: window (initial, ..]: rows after the newest commit" in lines
    assert f"pipeline s.t: committed {result.partition}" in lines
    parts = [line for line in lines if " extract part(s), scratch in " in line]
    assert len(parts) == 1 and parts[0].startswith(
        f"pipeline s.t: 1 extract part(s), scratch in {tmp_path / 'out'}")


def test_the_source_sees_the_runs_date_time_batch_and_window(tmp_path: Path) -> None:
    seen = """
import json, os
from foundry_dsl.sources.base import Extractor, NewCursor
class Source(Extractor):
    def extract(self, ctx, part=0):
        folder = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(folder, "ctx.json"), "w") as fh:
            json.dump({"run_date": str(ctx.run_date), "run_at": ctx.run_at.isoformat(),
                       "batch_id": ctx.batch_id, "cursor": ctx.cursor, "until": ctx.until,
                       "prepared": ctx.prepared}, fh)
        yield [{"id": 1}]
        n = int(open(os.path.join(folder, "count.txt")).read())
        yield NewCursor(str(n if ctx.until is None else min(n, int(ctx.until))))
"""
    p = custom_pipeline(tmp_path, seen)
    _count(tmp_path, 5)
    only(apply(p))
    _count(tmp_path, 8)
    only(apply(p, date=NEXT_DAY))  # the newest is dt=2025-01-13 now
    replay = only(apply(p))  # dt=2025-01-12 again: its window (None, 5]
    assert replay.status == "succeeded", replay.error
    ctx = json.loads((tmp_path / "ctx.json").read_text())
    assert ctx == {"run_date": "2025-01-12", "run_at": "2025-01-12T14:30:00+00:00",
                   "batch_id": ctx["batch_id"], "cursor": None, "until": "5", "prepared": None}
    assert ctx["batch_id"] == "20250112_143000"


@pytest.mark.parametrize("task", ["recover", "prepare"])
def test_a_failure_names_the_task_it_happened_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str) -> None:
    from foundry_dsl.sources.custom import CustomExtractor
    from foundry_dsl.storage import api as storage_api

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise StorageError(f"{task} broke")

    if task == "recover":
        monkeypatch.setattr(storage_api, "recover", fail)
    else:
        monkeypatch.setattr(CustomExtractor, "prepare", fail)
    _count(tmp_path, 10)
    failed = only(apply(custom_pipeline(tmp_path, SOURCE)))
    assert (failed.status, failed.task) == ("failed", task)
    assert f"task {task} failed: {task} broke" in (failed.error or "")


def test_a_run_that_lost_its_lease_before_the_commit_commits_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from foundry_dsl.storage.lease import LeaseLost
    from foundry_dsl.storage.lease_local import LocalLease

    def lost(self: LocalLease) -> None:
        raise LeaseLost(self.scope, "its lock file was deleted")

    monkeypatch.setattr(LocalLease, "check", lost)
    _count(tmp_path, 10)
    failed = only(apply(custom_pipeline(tmp_path, SOURCE)))
    assert (failed.status, failed.task) == ("failed", "commit")
    assert not (partition(tmp_path) / "_metadata.json").exists()


def test_a_first_run_failing_at_the_commit_says_nothing_is_committed_yet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: PartitionCommitter, metadata: dict[str, Any]) -> None:
        raise CommitError("the store said no")

    monkeypatch.setattr(PartitionCommitter, "commit", refuse)
    _count(tmp_path, 10)
    failed = only(apply(custom_pipeline(tmp_path, SOURCE)))
    assert (f"nothing is committed at {tmp_path / 'out'}/system=s/table=t/dt=2025-01-12/ yet"
            in (failed.error or ""))


def test_a_rerun_failing_at_the_commit_says_the_committed_partition_is_unchanged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _count(tmp_path, 10)
    p = custom_pipeline(tmp_path, SOURCE)
    only(apply(p))

    def refuse(self: PartitionCommitter, metadata: dict[str, Any]) -> None:
        raise CommitError("the store said no")

    monkeypatch.setattr(PartitionCommitter, "commit", refuse)
    failed = only(apply(p))
    assert (f"the committed partition {tmp_path / 'out'}/system=s/table=t/dt=2025-01-12/ is "
            "unchanged" in (failed.error or ""))


def test_the_sources_figures_are_committed(tmp_path: Path) -> None:
    reporting = """
from foundry_dsl.sources.base import Extractor
class Source(Extractor):
    def extract(self, ctx, part=0):
        self.report["requests"] = 3
        yield [{"id": 1}]
"""
    only(apply(custom_pipeline(tmp_path, reporting)))
    assert _meta(tmp_path)["source"] == {"requests": 3}
