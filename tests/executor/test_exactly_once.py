"""Nothing lost, nothing doubled: backfills, reruns, overlapping runs, a crash before the cursor.

The source holds ids 1..N (N in a file, growing between runs, as a real table
does) and reads the window the executor gives it: ids after ``ctx.cursor`` and
up to ``ctx.until``. Every test ends by comparing the union of the committed
partitions with the source.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest

from foundry_dsl import ir
from foundry_dsl.executor.base import SilentProgress
from foundry_dsl.executor.local import LocalExecutor
from foundry_dsl.planner.build import build_plan
from foundry_dsl.planner.windows import WindowRequest
from tests.executor.helpers import AT, custom_pipeline, only

SOURCE = """
import os, time
from foundry_dsl.sources.base import Extractor, NewCursor
class Source(Extractor):
    def extract(self, ctx, part=0):
        folder = {folder!r}
        n = int(open(os.path.join(folder, "count.txt")).read())
        since = int(ctx.cursor) if ctx.cursor is not None else 0
        top = min(n, int(ctx.until)) if ctx.until is not None else n
        gate, inside = os.path.join(folder, "gate"), os.path.join(folder, "inside")
        if os.path.exists(gate) and not os.path.exists(inside):
            open(inside, "w").close()  # tell the test we are in; a second run does not wait
            while os.path.exists(gate):  # the test removes it: an event, not a time
                time.sleep(0.01)
        yield [{{"id": i}} for i in range(since + 1, top + 1)]
        yield NewCursor(str(top) if top > since else None)
"""

#: a source without a cursor: each run lands the whole table
SNAPSHOT = """
import os
class Source:
    def extract(self, ctx):
        n = int(open(os.path.join({folder!r}, "count.txt")).read())
        yield [{{"id": i}} for i in range(1, n + 1)]
"""

DAYS = [dt.date(2025, 3, d) for d in range(1, 6)]


def _pipeline(tmp_path: Path, **run: Any) -> ir.Pipeline:
    return custom_pipeline(tmp_path, SOURCE.format(folder=str(tmp_path)), table="events", **run)


def _run(p: ir.Pipeline, day: dt.date, **request: Any) -> Any:
    plan = build_plan([p], day, AT, look_up_storage=False, request=WindowRequest(**request))
    return only(LocalExecutor().execute(plan))


def _source(tmp_path: Path, n: int) -> None:
    (tmp_path / "count.txt").write_text(str(n))


def _table(tmp_path: Path) -> Path:
    return tmp_path / "out" / "system=s" / "table=events"


def _ids(tmp_path: Path, day: dt.date) -> list[int]:
    folder = _table(tmp_path) / f"dt={day.isoformat()}"
    meta = json.loads((folder / "_metadata.json").read_text())
    files = [str(folder / f["name"]) for f in meta["files"]]
    if not files:
        return []
    return sorted(r[0] for r in duckdb.sql(f"SELECT id FROM read_parquet({files!r})").fetchall())


def _union(tmp_path: Path) -> list[int]:
    """What the README's reader sees: every committed file of the table, via a glob."""
    glob = f"{_table(tmp_path)}/**/*.parquet"
    return sorted(r[0] for r in duckdb.sql(
        f"SELECT id FROM read_parquet('{glob}', hive_partitioning=true)").fetchall())


def test_a_backfill_rerun_of_an_older_date_keeps_its_rows(tmp_path: Path) -> None:
    p = _pipeline(tmp_path)
    _source(tmp_path, 100)
    assert _run(p, DAYS[0]).cursor == "100"
    _source(tmp_path, 150)
    assert _run(p, DAYS[1]).cursor == "150"
    rerun = _run(p, DAYS[0])
    assert rerun.status == "succeeded", rerun.error
    assert _ids(tmp_path, DAYS[0]) == list(range(1, 101))
    assert _union(tmp_path) == list(range(1, 151))


def test_a_rerun_of_an_older_date_with_new_source_rows_takes_none_of_them(tmp_path: Path) -> None:
    p = _pipeline(tmp_path)
    _source(tmp_path, 100)
    _run(p, DAYS[0])
    _source(tmp_path, 150)
    _run(p, DAYS[1])
    _source(tmp_path, 170)  # new rows: they belong to the next new date
    assert _run(p, DAYS[0]).status == "succeeded"
    assert _ids(tmp_path, DAYS[0]) == list(range(1, 101))
    assert _ids(tmp_path, DAYS[1]) == list(range(101, 151))
    assert _run(p, DAYS[2]).cursor == "170"
    assert _union(tmp_path) == list(range(1, 171))


def test_a_rerun_of_the_newest_date_keeps_its_rows_and_adds_the_new_ones(tmp_path: Path) -> None:
    p = _pipeline(tmp_path)
    _source(tmp_path, 100)
    _run(p, DAYS[0])
    _source(tmp_path, 150)
    _run(p, DAYS[1])
    _source(tmp_path, 160)
    assert _run(p, DAYS[1]).cursor == "160"
    assert _ids(tmp_path, DAYS[1]) == list(range(101, 161))
    assert _union(tmp_path) == list(range(1, 161))


def test_an_uncommitted_older_date_is_refused_without_an_explicit_window(tmp_path: Path) -> None:
    p = _pipeline(tmp_path)
    _source(tmp_path, 100)
    _run(p, DAYS[2])
    refused = _run(p, DAYS[0])
    assert refused.status == "failed"
    assert "is older than the newest commit" in (refused.error or "")
    assert "--from CURSOR" in (refused.error or "")
    assert not (_table(tmp_path) / "dt=2025-03-01").exists()
    assert _union(tmp_path) == list(range(1, 101))


def test_an_explicit_backfill_window_lands_exactly_those_rows(tmp_path: Path) -> None:
    p = _pipeline(tmp_path)
    _source(tmp_path, 100)
    _run(p, DAYS[2], start="40", end="100")  # the newest date holds 41..100
    backfill = _run(p, DAYS[0], start="0", end="40")
    assert backfill.status == "succeeded", backfill.error
    assert _ids(tmp_path, DAYS[0]) == list(range(1, 41))
    assert _union(tmp_path) == list(range(1, 101))


def test_a_source_that_ignores_the_window_end_fails_instead_of_doubling(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, SOURCE.format(folder=str(tmp_path)).replace(
        "min(n, int(ctx.until)) if ctx.until is not None else n", "n"), table="events")
    _source(tmp_path, 100)
    _run(p, DAYS[0])
    _source(tmp_path, 150)
    _run(p, DAYS[1])
    replay = _run(p, DAYS[0])
    assert replay.status == "failed"
    assert "past the end of this run's window '100'" in (replay.error or "")
    assert _ids(tmp_path, DAYS[0]) == list(range(1, 101))


def test_five_dates_run_and_rerun_in_shuffled_order_land_the_source_exactly(tmp_path: Path) -> None:
    import random

    p = _pipeline(tmp_path)
    rng = random.Random(1234)
    n = 0
    order = [rng.choice(DAYS) for _ in range(25)]
    outcomes = []
    for day in order:
        n += rng.randint(0, 20)  # new rows arrive between runs
        _source(tmp_path, n)
        result = _run(p, day)
        outcomes.append(result.status)
        if result.status == "failed":
            assert "older than the newest commit" in (result.error or ""), result.error
    # the newest date, run last, takes whatever arrived since the newest commit
    _run(p, max(d for d, s in zip(order, outcomes, strict=True) if s == "succeeded"))
    assert "failed" in outcomes and "succeeded" in outcomes  # both rules were exercised
    assert _union(tmp_path) == list(range(1, n + 1))


def test_an_empty_result_does_not_replace_committed_rows(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, SNAPSHOT.format(folder=str(tmp_path)), table="events")
    _source(tmp_path, 100)
    _run(p, DAYS[0])
    _source(tmp_path, 0)
    emptied = _run(p, DAYS[0])
    assert emptied.status == "failed"
    assert "replace the 100 rows" in (emptied.error or "")
    assert "--allow-empty" in (emptied.error or "")
    assert _ids(tmp_path, DAYS[0]) == list(range(1, 101))


def test_allow_empty_lets_an_empty_result_replace_committed_rows(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, SNAPSHOT.format(folder=str(tmp_path)), table="events")
    _source(tmp_path, 100)
    _run(p, DAYS[0])
    _source(tmp_path, 0)
    assert _run(p, DAYS[0], allow_empty=True).status == "succeeded"
    assert _ids(tmp_path, DAYS[0]) == []


def test_a_cursor_lost_after_the_commit_is_taken_from_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foundry_dsl.executor import run as pipeline_run
    from foundry_dsl.storage.state import StateStore

    p = _pipeline(tmp_path)
    _source(tmp_path, 100)
    _run(p, DAYS[0])
    _source(tmp_path, 150)
    real_put = StateStore.put

    def put_then_crash(self: StateStore, system: str, table: str, entry: Any) -> None:
        if entry is not None and "pending" not in entry:
            raise KeyboardInterrupt("killed between the commit and the cursor save")
        real_put(self, system, table, entry)

    monkeypatch.setattr(StateStore, "put", put_then_crash)
    with pytest.raises(KeyboardInterrupt):
        pipeline_run.PipelineRun(
            build_plan([p], DAYS[1], AT, look_up_storage=False).pipelines[0],
            SilentProgress(),
        )._run(0.0)
    monkeypatch.setattr(StateStore, "put", real_put)
    assert _ids(tmp_path, DAYS[1]) == list(range(101, 151))  # committed, cursor not saved
    _source(tmp_path, 160)
    assert _run(p, DAYS[2]).cursor == "160"
    assert _ids(tmp_path, DAYS[2]) == list(range(151, 161))
    assert _union(tmp_path) == list(range(1, 161))


def test_a_second_run_of_a_partition_in_progress_fails_at_once_naming_the_holder(
    tmp_path: Path,
) -> None:
    p = _pipeline(tmp_path)
    _source(tmp_path, 100)
    _run(p, DAYS[0])
    (tmp_path / "gate").touch()
    first: list[Any] = []
    runner = threading.Thread(target=lambda: first.append(_run(p, DAYS[0])))
    runner.start()
    try:
        while not (tmp_path / "inside").exists():  # the first run holds the lease now
            runner.join(0.01)
            assert runner.is_alive(), first
        second = _run(p, DAYS[0])
    finally:
        (tmp_path / "gate").unlink()
        runner.join()
    assert second.status == "failed"
    assert second.task == "lease"
    error = second.error or ""
    assert "is being written by run" in error and "pid" in error and "host" in error
    assert first[0].status == "succeeded", first[0].error
    assert _ids(tmp_path, DAYS[0]) == list(range(1, 101))


def test_staged_files_are_never_inside_the_table_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foundry_dsl.storage.commit import PartitionCommitter

    p = _pipeline(tmp_path, max_rows_per_file=10)
    _source(tmp_path, 100)
    _run(p, DAYS[0])
    seen: list[list[int]] = []
    real_commit = PartitionCommitter.commit

    def commit_after_a_read(self: PartitionCommitter, metadata: dict[str, Any]) -> None:
        seen.append(_union(tmp_path))  # every new file is staged now: readers see none
        real_commit(self, metadata)

    monkeypatch.setattr(PartitionCommitter, "commit", commit_after_a_read)
    _source(tmp_path, 150)
    assert _run(p, DAYS[0]).status == "succeeded"
    assert seen == [list(range(1, 101))]
    assert _union(tmp_path) == list(range(1, 151))


def test_on_object_stores_the_intent_precedes_the_commit_and_the_cursor_follows_it(
    tmp_path: Path, moto_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    from foundry_dsl.storage import registry as backends
    from tests.storage.recording_backend import RecordingBackend

    p = _pipeline(tmp_path)
    p = p.model_copy(update={"platform": p.platform.model_copy(
        update={"storage": moto_s3.storage(f"t-{uuid.uuid4().hex[:8]}")})})
    recorders: list[RecordingBackend] = []
    real = backends.open_backend

    def recorded(storage: ir.Storage, context: str) -> Any:
        recorders.append(RecordingBackend(real(storage, context)))
        return recorders[-1]

    monkeypatch.setattr(backends, "open_backend", recorded)
    _source(tmp_path, 10)
    result = _run(p, DAYS[0])
    assert result.status == "succeeded", result.error
    writes = [path for op, path in recorders[-1].ops if op == "write"]
    state = "_state/system=s/table=events.json"
    marker = "system=s/table=events/dt=2025-03-01/_metadata.json"
    assert [w for w in writes if w.startswith(("_state", "system="))] == [
        f"{state} (pending)", marker, state
    ]
