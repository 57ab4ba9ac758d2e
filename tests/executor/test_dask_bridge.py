"""Worker events reach the driver's progress with each part counted once."""

from __future__ import annotations

import logging

import pytest

from foundry_dsl.executor.dask import _Bridge
from foundry_dsl.executor.events import Extracted, Recorder, Wrote


def event(kind: str, part: int, attempt: str, **fields: object) -> tuple[float, dict[str, object]]:
    return (0.0, {"kind": kind, "part": part, "attempt": attempt, **fields})


def test_rows_show_as_they_come_and_a_dead_attempt_takes_its_rows_back() -> None:
    progress = Recorder()
    bridge = _Bridge(progress, "s.t")
    bridge.handle(event("extracted", 1, "a", rows=500))
    bridge.handle(event("extracted", 1, "a", rows=300))
    bridge.forget(1, "a")
    bridge.handle(event("extracted", 1, "a", rows=200))  # late: the attempt is dead
    bridge.handle(event("extracted", 1, "b", rows=1_000))
    bridge.keep(1, "b")
    assert progress.events == [
        Extracted("s.t", 500), Extracted("s.t", 300), Extracted("s.t", -800),
        Extracted("s.t", 1_000),
    ]


def test_files_are_reported_once_their_attempt_succeeded_never_a_dead_ones() -> None:
    progress = Recorder()
    bridge = _Bridge(progress, "s.t")
    bridge.handle(event("wrote", 0, "a", file="part-0-a-0001.parquet", rows=10, nbytes=99))
    bridge.handle(event("wrote", 1, "x", file="part-1-x-0001.parquet", rows=10, nbytes=99))
    bridge.forget(1, "x")
    assert progress.events == []
    bridge.keep(0, "a")
    bridge.handle(event("wrote", 0, "a", file="part-0-a-0002.parquet", rows=5, nbytes=50))
    assert progress.events == [
        Wrote("s.t", "part-0-a-0001.parquet", 10, 99),
        Wrote("s.t", "part-0-a-0002.parquet", 5, 50),
    ]


def test_a_workers_log_line_is_logged_on_the_driver(caplog: pytest.LogCaptureFixture) -> None:
    bridge = _Bridge(Recorder(), "s.t")
    with caplog.at_level(logging.INFO, logger="foundry"):
        bridge.handle(event("log", 0, "a", name="foundry.api", level=logging.WARNING,
                            message="HTTP 503 from http://h/x; retrying"))
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("foundry.api", logging.WARNING, "HTTP 503 from http://h/x; retrying")
    ]


def test_local_disk_is_refused_only_when_a_worker_is_on_another_machine(tmp_path: object) -> None:
    import datetime as dt

    from foundry_dsl import ir
    from foundry_dsl.executor.dask import _refusal
    from foundry_dsl.planner.build import build_plan

    def planned(storage: ir.Storage) -> object:
        p = ir.Pipeline(system="s", table="t", platform=ir.Platform(name="p", storage=storage),
                        source=ir.SequenceSource(count=1))
        at = dt.datetime(2025, 1, 12, tzinfo=dt.timezone.utc)
        return build_plan([p], at.date(), at, look_up_storage=False).pipelines[0]

    local = planned(ir.LocalStorage(path=str(tmp_path)))
    s3 = planned(ir.S3Storage(bucket="b"))
    assert _refusal(local, []) is None  # type: ignore[arg-type]
    assert _refusal(s3, ["tcp://10.0.0.7:40000"]) is None  # type: ignore[arg-type]
    why = _refusal(local, ["tcp://10.0.0.7:40000"])  # type: ignore[arg-type]
    assert why is not None
    assert "workers on other machines (tcp://10.0.0.7:40000) cannot reach" in why
