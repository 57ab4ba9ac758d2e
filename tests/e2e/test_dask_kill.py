"""Exactly once on a Dask cluster when workers or the driver die.

A part's source writes its process id to a marker; the test kills that process
(a worker) with SIGKILL, or the source kills itself to die on every try. The
driver alone commits, so the checks are the ones of the local executor: rows
exact and distinct, the files listed equal the files present, the cursor
stored once, and a failed run leaving the previous commit as it was.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from foundry_dsl import ir
from foundry_dsl.planner.build import build_plan
from tests.executor.helpers import AT, DATE
from tests.storage.recording_backend import RecordingBackend

pytestmark = pytest.mark.slow

SOURCE = '''
import os, pathlib, signal, time
from foundry_dsl.sources.base import Extractor, NewCursor

ROWS = 20_000


class Source(Extractor):
    def parts(self, ctx):
        return 2

    def extract(self, ctx, part=0):
        params = ctx.pipeline.source.params
        folder = pathlib.Path(params["folder"])
        base = part * 100_000
        if part == 1 and (folder / "die").exists():
            os.kill(os.getpid(), signal.SIGKILL)  # on every try
        if part == 1 and not (folder / "killed").exists():
            (folder / "killed").write_text("")
            yield [{"id": base + i} for i in range(5_000)]
            staging = folder / "lake" / "_foundry" / "staging"
            while not list(staging.rglob("part-1-*.parquet")):
                time.sleep(0.05)  # the attempt's first files are staged before it dies
            (folder / "marker").write_text(str(os.getpid()))
            while not (folder / "go").exists():  # the test's signal: an event, not a time
                time.sleep(0.05)
        for start in range(0, ROWS, 5_000):
            yield [{"id": base + i} for i in range(start, start + 5_000)]
        yield NewCursor(str(base + ROWS - 1))
'''

EXPECTED = [*range(0, 20_000), *range(100_000, 120_000)]


def _pipeline(folder: Path) -> ir.Pipeline:
    (folder / "src_kill.py").write_text(textwrap.dedent(SOURCE))
    return ir.Pipeline(
        system="s",
        table="t",
        platform=ir.Platform(name="p", storage=ir.LocalStorage(path=str(folder / "lake"))),
        source=ir.CustomSource(module="src_kill", class_name="Source",
                               params={"folder": str(folder)}),
        run=ir.RunOptions(local_output_dir=str(folder / "scratch"), max_rows_per_file=1_000),
        source_file=str(folder / "p.bronze"),
    )


def _partition(folder: Path) -> Path:
    return folder / "lake" / "system=s" / "table=t" / f"dt={DATE}"


def _landed(folder: Path) -> tuple[list[int], set[str], set[str]]:
    part = _partition(folder)
    meta = json.loads((part / "_metadata.json").read_text())
    listed = {f["name"] for f in meta["files"]}
    present = {p.name for p in part.iterdir() if p.suffix == ".parquet"}
    ids = sorted(i for name in present for i in pq.read_table(part / name)["id"].to_pylist())
    return ids, listed, present


def _kill_when_marked(folder: Path) -> threading.Thread:
    def kill() -> None:
        marker = folder / "marker"
        while not marker.exists() or not marker.read_text():
            threading.Event().wait(0.02)
        os.kill(int(marker.read_text()), signal.SIGKILL)
        (folder / "go").write_text("")  # the next try of the part runs through

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_a_worker_killed_mid_part_is_replaced_and_every_row_lands_once(
    tmp_path: Path, dask_executor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foundry_dsl.storage import registry

    recorders: list[RecordingBackend] = []
    real = registry.open_backend

    def recorded(storage: ir.Storage, context: str) -> Any:
        recorders.append(RecordingBackend(real(storage, context)))
        return recorders[-1]

    monkeypatch.setattr(registry, "open_backend", recorded)  # the driver's backend
    p = _pipeline(tmp_path)
    killer = _kill_when_marked(tmp_path)
    result = dask_executor.execute(build_plan([p], DATE, AT, look_up_storage=False))
    killer.join(timeout=5)

    assert result.results[0].status == "succeeded", result.results[0].error
    ids, listed, present = _landed(tmp_path)
    assert ids == EXPECTED  # exact and distinct: the dead attempt's 5,000 rows are gone
    assert listed == present
    state_writes = [path for op, path in recorders[-1].ops
                    if op == "write" and path.startswith("_state")]
    assert state_writes == ["_state/system=s/table=t.json (pending)", "_state/system=s/table=t.json"]
    state = json.loads((tmp_path / "lake" / "_state" / "system=s" / "table=t.json").read_text())
    assert state["cursor"] == "119999"
    assert not list((tmp_path / "lake" / "_foundry" / "staging").rglob("*.parquet"))


def test_a_part_whose_workers_die_three_times_fails_its_pipeline_and_keeps_the_commit(
    tmp_path: Path, dask_executor: Any
) -> None:
    p = _pipeline(tmp_path)
    (tmp_path / "killed").write_text("")  # the first run goes straight through
    first = dask_executor.execute(build_plan([p], DATE, AT, look_up_storage=False))
    assert first.results[0].status == "succeeded", first.results[0].error
    meta = (_partition(tmp_path) / "_metadata.json").read_bytes()
    state = (tmp_path / "lake" / "_state" / "system=s" / "table=t.json").read_bytes()

    (tmp_path / "die").write_text("")
    second = dask_executor.execute(build_plan([p], DATE, AT, look_up_storage=False))

    failed = second.results[0]
    assert failed.status == "failed"
    assert failed.task == "extract[1]"
    assert "part 1: the workers running it died 3 times" in (failed.error or "")
    assert (_partition(tmp_path) / "_metadata.json").read_bytes() == meta
    assert (tmp_path / "lake" / "_state" / "system=s" / "table=t.json").read_bytes() == state
    ids, listed, present = _landed(tmp_path)
    assert ids == EXPECTED and listed == present


PIPELINE = """\
platform lake {
  storage local { path = "lake" }
}

pipeline s.t {
  source custom {
    module = "src_kill"
    class_name = "Source"
    params { folder = "FOLDER" }
  }
  run {
    max_rows_per_file = 1000
    local_output_dir = "scratch"
  }
}
"""


def test_a_driver_killed_mid_run_leaves_the_commit_and_the_next_run_recovers(
    tmp_path: Path,
) -> None:
    from tests.e2e.helpers import REPO

    _pipeline(tmp_path)  # writes the source module
    (tmp_path / "p.bronze").write_text(PIPELINE.replace("FOLDER", str(tmp_path)))
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "foundry_dsl", "apply", "p.bronze", "--date", DATE.isoformat(),
           "--executor", "dask", "--workers", "2"]

    (tmp_path / "killed").write_text("")
    first = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    meta = (_partition(tmp_path) / "_metadata.json").read_bytes()

    (tmp_path / "killed").unlink()  # part 1 now blocks after staging files, until "go"
    driver = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        marker = tmp_path / "marker"
        while not (marker.exists() and marker.read_text()):
            assert driver.poll() is None, "the run ended before its part was under way"
            threading.Event().wait(0.05)
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and its cluster, mid-part
    finally:
        driver.wait(timeout=30)
    assert (_partition(tmp_path) / "_metadata.json").read_bytes() == meta

    (tmp_path / "go").write_text("")
    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    ids, listed, present = _landed(tmp_path)
    assert ids == EXPECTED and listed == present
    assert not list((tmp_path / "lake" / "_foundry" / "staging").rglob("*.parquet"))
