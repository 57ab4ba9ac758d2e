"""The executor interface a distributed executor builds on: work, manifests, events."""

from __future__ import annotations

import pickle
import re
import threading
from pathlib import Path

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError, PlanError
from foundry_dsl.executor import events
from foundry_dsl.executor.base import PipelineResult
from foundry_dsl.executor.land import Landing, TaskFailed
from foundry_dsl.executor.registry import executor_for
from foundry_dsl.executor.work import Work
from foundry_dsl.planner.build import build_plan
from foundry_dsl.sources.base import ExtractContext
from foundry_dsl.sources.registry import extractor_for
from foundry_dsl.storage import api as storage_api
from foundry_dsl.storage.registry import backend_for
from tests.executor.helpers import AT, DATE


def sequence_pipeline(folder: Path, count: int, **run: object) -> ir.Pipeline:
    out = str(folder / "out")
    return ir.Pipeline(
        system="s",
        table="numbers",
        platform=ir.Platform(name="p", storage=ir.LocalStorage(path=out)),
        source=ir.SequenceSource(count=count, batch_rows=1_000),
        run=ir.RunOptions(local_output_dir=str(folder / "scratch"), **run),
        source_file=str(folder / "pipelines.bronze"),
    )


def test_progress_events_survive_pickling_and_replay_in_order() -> None:
    recorder = events.Recorder()
    recorder.started("s.t", "/out/system=s/table=t/dt=2025-01-12/")
    recorder.extracted("s.t", 10)
    recorder.wrote("s.t", "part-0001-ab.parquet", 10, 512)
    recorder.finished(PipelineResult(name="s.t", status="succeeded", rows=10))
    sent = pickle.loads(pickle.dumps(recorder.drain()))
    assert recorder.drain() == []  # each event is sent once

    replayed = events.Recorder()
    events.replay(sent, replayed)
    assert replayed.events == [
        events.Started("s.t", "/out/system=s/table=t/dt=2025-01-12/"),
        events.Extracted("s.t", 10),
        events.Wrote("s.t", "part-0001-ab.parquet", 10, 512),
        events.Finished(PipelineResult(name="s.t", status="succeeded", rows=10)),
    ]


def test_a_task_failure_crosses_a_process_boundary_intact() -> None:
    failed = pickle.loads(pickle.dumps(TaskFailed("extract[2]", ExtractError("HTTP 503"))))
    assert failed.task == "extract[2]"
    assert isinstance(failed.cause, ExtractError) and failed.cause.message == "HTTP 503"


def test_a_plan_carries_absolute_paths_so_it_runs_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    p = sequence_pipeline(Path("."), 10).model_copy(
        update={"run": ir.RunOptions(local_output_dir="scratch"), "source_file": "sub/p.bronze"}
    )
    settings = build_plan([p], DATE, AT, look_up_storage=False).pipelines[0].settings
    assert settings.base_dir == str(tmp_path / "sub")
    assert settings.scratch_dir == str(tmp_path / "scratch")


def test_a_unit_of_work_pickles_and_lands_its_parts_into_a_manifest(tmp_path: Path) -> None:
    p = sequence_pipeline(tmp_path, 2_500, max_rows_per_file=1_000)
    pp = build_plan([p], DATE, AT, look_up_storage=False).pipelines[0]
    ctx = ExtractContext(pipeline=p, run_date=DATE, run_at=AT, base_dir=Path(pp.settings.base_dir))
    work = pickle.loads(pickle.dumps(Work(
        plan=pp, run_id="run-1", parts=(0,), context=ctx, staging_dir=str(tmp_path / "scratch")
    )))
    (tmp_path / "scratch").mkdir()
    backend = backend_for(p)
    committer = storage_api.committer(backend, pp.partition_path, work.run_id)
    recorder = events.Recorder()
    landing = Landing(work, recorder, committer, lambda: committer, threading.Event())

    manifest = pickle.loads(pickle.dumps(landing.land(extractor_for(p.source))))

    assert manifest.parts == (0,)
    assert manifest.rows == 2_500
    assert [f.rows for f in manifest.files] == [1_000, 1_000, 500]
    assert manifest.schema is not None and manifest.schema.names == ["n"]
    assert sum(e.rows for e in recorder.events if isinstance(e, events.Wrote)) == 2_500
    committer.commit({"total_records": manifest.rows})
    # the commit names files anew (part-0001-<tag>.parquet): the manifest's, tagged
    landed = sorted(re.sub(r"-[0-9a-f]+\.", ".", f.name) for f in (tmp_path / "out").rglob("*.parquet"))
    assert landed == sorted(f.name for f in manifest.files)


def test_the_local_executor_is_chosen_by_name_and_an_unknown_one_gets_did_you_mean() -> None:
    assert type(executor_for("local", parallel=2)).__name__ == "LocalExecutor"
    with pytest.raises(PlanError, match="unknown executor 'locl': did you mean 'local'"):
        executor_for("locl")


def test_part_cursors_merge_by_type_not_as_text() -> None:
    ext = extractor_for(ir.SequenceSource(count=1))
    assert ext.merge_cursors(["599999", "2399999", None]) == "2399999"
    assert ext.merge_cursors(["2025-01-09", "2025-01-10T00:00:00+00:00"]) == (
        "2025-01-10T00:00:00+00:00"
    )
    assert ext.merge_cursors([None, None]) is None


def test_a_plan_made_in_one_directory_lands_in_its_storage_when_run_from_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foundry_dsl.executor.local import LocalExecutor

    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    p = ir.Pipeline(
        system="s",
        table="numbers",
        platform=ir.Platform(name="p", storage=ir.LocalStorage(path="lake")),
        source=ir.SequenceSource(count=10),
        run=ir.RunOptions(local_output_dir="scratch"),
    )
    plan = build_plan([p], DATE, AT, look_up_storage=False)
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = LocalExecutor().execute(pickle.loads(pickle.dumps(plan)))
    assert result.exit_code == 0, result.results[0].error
    assert list((tmp_path / "here" / "lake").rglob("_metadata.json"))
    assert list((tmp_path / "elsewhere").iterdir()) == []
