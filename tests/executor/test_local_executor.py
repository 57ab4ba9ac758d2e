"""The local executor in process: streaming, backpressure, parallelism, cursors, failures."""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from foundry_dsl.executor.jobs import WriteJob
from foundry_dsl.executor.scopes import staging_root
from foundry_dsl.sources.base import ExtractContext, Extractor
from tests.executor.helpers import AT, NEXT_DAY, apply, custom_pipeline, only, partition, rows

COUNTING = """
YIELDED = []
class Source:
    def extract(self, ctx):
        for i in range(ctx.pipeline.source.params["n"]):
            YIELDED.append(i)
            yield [{"i": i}]
"""


class Watch:
    """A Progress that checks, at every written file, how far the extractor ran ahead."""

    def __init__(self, yielded: list[int]) -> None:
        self.yielded = yielded
        self.leads: list[int] = []
        self.files = 0
        self.lock = threading.Lock()

    def started(self, name: str, partition: str) -> None: ...
    def extracted(self, name: str, rows: int) -> None: ...
    def finished(self, result: object) -> None: ...

    def wrote(self, name: str, file: str, rows: int, nbytes: int) -> None:
        with self.lock:
            self.files += 1
            self.leads.append(len(self.yielded) - self.files)


def test_backpressure_keeps_the_extractor_a_few_chunks_ahead(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, COUNTING, params={"n": 300}, max_rows_per_file=1, workers=2)
    import importlib
    import sys

    sys.path.insert(0, str(tmp_path))
    sys.modules.pop("src_t", None)  # another test's module of the same name
    try:
        module = importlib.import_module("src_t")
        watch = Watch(module.YIELDED)
        # the custom source imports the same module object from the same folder
        result = only(apply(p, progress=watch))
    finally:
        sys.path.remove(str(tmp_path))
    assert result.status == "succeeded", result.error
    assert watch.files == 300
    # queue (2) + one blocked put + one in the chunk stage + workers in flight (2)
    assert max(watch.leads) <= 2 + 1 + 1 + 2


def test_pipelines_run_at_once_with_parallel(tmp_path: Path) -> None:
    # each extractor waits until both are extracting: run one after the other, it times out
    (tmp_path / "shared.py").write_text("import threading\nBARRIER = threading.Barrier(2, timeout=10)\n")
    code = """
    import shared
    class Source:
        def extract(self, ctx):
            shared.BARRIER.wait()
            yield [{"x": 1}]
    """
    a = custom_pipeline(tmp_path, code, table="a")
    b = custom_pipeline(tmp_path, code, table="b")
    result = apply(a, b, parallel=2)
    assert [r.status for r in result.results] == ["succeeded", "succeeded"]


def test_every_part_of_a_split_source_lands_and_cursors_merge(tmp_path: Path) -> None:
    code = """
    from foundry_dsl.sources.base import Extractor, NewCursor
    class Source(Extractor):
        def parts(self, ctx):
            return 3
        def extract(self, ctx, part=0):
            yield [{"part": part, "i": i} for i in range(part * 10, part * 10 + 10)]
            yield NewCursor(f"2025-01-0{part + 1}")
    """
    p = custom_pipeline(tmp_path, code, max_rows_per_file=7)
    result = only(apply(p))
    assert result.status == "succeeded", result.error
    assert rows(tmp_path, columns="i") == [(i,) for i in range(30)]
    assert result.cursor == "2025-01-03"


def test_the_stored_cursor_reaches_the_next_run(tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    code = f"""
    from foundry_dsl.sources.base import NewCursor
    class Source:
        def extract(self, ctx):
            open({str(seen)!r}, "w").write(str(ctx.cursor))
            yield [{{"x": 1}}]
            yield NewCursor("stored-1")
    """
    p = custom_pipeline(tmp_path, code)
    assert only(apply(p)).status == "succeeded"
    assert seen.read_text() == "None"
    assert only(apply(p, date=NEXT_DAY)).status == "succeeded"
    assert seen.read_text() == "stored-1"


def test_sources_name_their_cursor_env_variable() -> None:
    from foundry_dsl import ir
    from foundry_dsl.sources.registry import cursor_env_name

    db = ir.DbSource(connection=ir.EnvRef(name="DSN"), query="select 1", cursor_env="ORDERS_CURSOR")
    api = ir.ApiSource(base_url="http://x", incremental=ir.ApiIncremental(field="u", param="since", cursor_env="C"))
    assert (cursor_env_name(db), cursor_env_name(api)) == ("ORDERS_CURSOR", "C")


def test_a_failed_run_keeps_the_old_cursor_and_the_old_partition(tmp_path: Path) -> None:
    flag = tmp_path / "fail"
    code = f"""
    import os
    from foundry_dsl.sources.base import Extractor, NewCursor
    class Source(Extractor):
        def extract(self, ctx, part=0):
            yield [{{"x": 1}}, {{"x": 2}}]
            if os.path.exists({str(flag)!r}):
                raise RuntimeError("network down")
            yield NewCursor("c-" + str(ctx.cursor))
    """
    p = custom_pipeline(tmp_path, code, max_rows_per_file=1)
    assert only(apply(p)).cursor == "c-None"
    flag.write_text("")
    failed = only(apply(p))
    assert failed.status == "failed"
    assert failed.task == "extract[0]"
    assert "network down" in (failed.error or "")
    assert rows(tmp_path) == [(1,), (2,)]
    flag.unlink()
    # the next day's run starts from the cursor the first run stored
    assert only(apply(p, date=NEXT_DAY)).cursor == "c-c-None"


def test_cleanup_on_failure_false_keeps_local_staging_and_says_where(tmp_path: Path) -> None:
    code = """
    class Source:
        def extract(self, ctx):
            yield [{"x": 1}]
            yield [{"x": 2}]
            raise ValueError("bad row")
    """
    p = custom_pipeline(tmp_path, code, max_rows_per_file=1, cleanup_on_failure=False)
    result = only(apply(p))
    assert result.status == "failed"
    kept = [d for d in staging_root(p.run.local_output_dir, p.name).iterdir()]
    assert len(kept) == 1
    assert f"staging kept in {kept[0]}" in (result.error or "")


def test_cleanup_on_failure_removes_local_staging(tmp_path: Path) -> None:
    code = """
    class Source:
        def extract(self, ctx):
            yield [{"x": 1}]
            raise ValueError("bad row")
    """
    p = custom_pipeline(tmp_path, code, max_rows_per_file=1)
    assert only(apply(p)).status == "failed"
    assert not staging_root(p.run.local_output_dir, p.name).exists() or list(staging_root(p.run.local_output_dir, p.name).iterdir()) == []


def test_lineage_adds_the_batch_id_and_the_run_time(tmp_path: Path) -> None:
    code = """
    class Source:
        def extract(self, ctx):
            yield [{"x": 1}, {"x": 2}]
    """
    p = custom_pipeline(tmp_path, code, lineage=True, batch_id="b42")
    assert only(apply(p)).status == "succeeded"
    got = rows(tmp_path, columns="x, _batch_id, _extracted_at")
    assert got == [(1, "b42", AT), (2, "b42", AT)]


def test_an_empty_extraction_commits_an_empty_partition(tmp_path: Path) -> None:
    code = """
    class Source:
        def extract(self, ctx):
            return iter(())
    """
    p = custom_pipeline(tmp_path, code)
    result = only(apply(p))
    assert (result.status, result.rows, result.files) == ("succeeded", 0, 0)
    assert (partition(tmp_path) / "_metadata.json").exists()


def test_errors_name_the_pipeline_and_task_and_hide_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S_TOKEN", "sekrit-value-123")
    code = """
    import os
    class Source:
        def extract(self, ctx):
            raise RuntimeError("login failed for " + os.environ["S_TOKEN"])
            yield []
    """
    from foundry_dsl import ir

    p = custom_pipeline(tmp_path, code, params={"token": ir.EnvRef(name="S_TOKEN")})
    result = only(apply(p))
    assert result.status == "failed"
    assert (result.error or "").startswith("pipeline s.t: task extract[0] failed: ")
    assert "sekrit-value-123" not in (result.error or "")
    assert "login failed for ***" in (result.error or "")


def test_write_jobs_are_plain_values_that_pickle(tmp_path: Path) -> None:
    p = custom_pipeline(tmp_path, "class Source: pass\n")
    job = WriteJob(p, "system=s/table=t/", "run-1", str(tmp_path), 3, (("parquet", "zstd"),), 2)
    assert pickle.loads(pickle.dumps(job)) == job
    assert job.local_path("parquet") == os.path.join(str(tmp_path), "part-0003.parquet")


def test_arrow_batches_pass_through(tmp_path: Path) -> None:
    code = """
    import pyarrow as pa
    class Source:
        def extract(self, ctx):
            yield pa.record_batch({"x": pa.array([1, 2], pa.int32())})
            yield pa.table({"x": pa.array([3], pa.int32())})
    """
    p = custom_pipeline(tmp_path, code)
    assert only(apply(p)).rows == 3
    assert rows(tmp_path) == [(1,), (2,), (3,)]
    schema = pq.read_schema(next(partition(tmp_path).glob("*.parquet")))
    assert schema.field("x").type == pa.int32()


def test_prepare_of_a_custom_extractor_runs_once_and_every_part_sees_it(tmp_path: Path) -> None:
    calls = tmp_path / "prepare_calls"
    code = f"""
    from foundry_dsl.sources.base import Extractor
    class Source(Extractor):
        def prepare(self, ctx):
            with open({str(calls)!r}, "a") as fh:
                fh.write("x")
            return {{"bounds": [0, 10, 20]}}
        def parts(self, ctx):
            return len(ctx.prepared["bounds"]) - 1
        def extract(self, ctx, part=0):
            lo, hi = ctx.prepared["bounds"][part], ctx.prepared["bounds"][part + 1]
            yield [{{"i": i}} for i in range(lo, hi)]
    """
    p = custom_pipeline(tmp_path, code)
    result = only(apply(p))
    assert result.status == "succeeded", result.error
    assert calls.read_text() == "x"
    assert rows(tmp_path) == [(i,) for i in range(20)]


class Ranges(Extractor):
    """A real extractor that splits itself by ranges computed in prepare()."""

    prepared_calls = 0

    def prepare(self, ctx: ExtractContext) -> object:
        Ranges.prepared_calls += 1
        return {"bounds": [0, 10, 20, 25]}

    def parts(self, ctx: ExtractContext) -> int:
        return len(ctx.prepared["bounds"]) - 1

    def extract(self, ctx: ExtractContext, part: int = 0) -> Iterator[list[dict[str, int]]]:
        lo, hi = ctx.prepared["bounds"][part], ctx.prepared["bounds"][part + 1]
        yield [{"i": i} for i in range(lo, hi)]


def test_prepare_runs_once_per_run_and_every_part_sees_its_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import foundry_dsl.sources.registry as registry

    p = custom_pipeline(tmp_path, "class Source: pass\n")
    monkeypatch.setattr(registry, "extractor_for", lambda source: Ranges(source))
    Ranges.prepared_calls = 0
    result = only(apply(p))
    assert result.status == "succeeded", result.error
    assert Ranges.prepared_calls == 1
    assert rows(tmp_path) == [(i,) for i in range(25)]


MANY = """
import pyarrow as pa
class Source:
    def extract(self, ctx):
        for start in range(0, 1_050_000, 70_000):
            yield pa.table({"i": pa.array(range(start, start + 70_000), pa.int64())})
"""


def test_with_several_workers_only_the_last_file_is_small(tmp_path: Path) -> None:
    # three files are open at once, each fed 65,536-row slices in turn: the stream's end
    # leaves several partial files, which are repacked
    p = custom_pipeline(tmp_path, MANY, max_rows_per_file=100_000, workers=3, formats=("parquet", "csv"))
    assert only(apply(p)).status == "succeeded"
    for fmt in ("parquet", "csv"):
        files = sorted(partition(tmp_path).glob(f"*.{fmt}"))
        counts = [pq.read_metadata(f).num_rows if fmt == "parquet" else len(f.read_text().splitlines()) - 1 for f in files]
        assert counts == [100_000] * 10 + [50_000]
    assert rows(tmp_path) == [(i,) for i in range(1_050_000)]


def test_a_write_job_runs_in_another_process(tmp_path: Path) -> None:
    import multiprocessing

    from foundry_dsl.executor.jobs import write_chunk

    p = custom_pipeline(tmp_path, "class Source: pass\n")
    job = WriteJob(p, "system=s/table=t/", "run-1", str(tmp_path), 1, (("parquet", "zstd"), ("csv", "none")), 1)
    table = pa.table({"i": pa.array([1, 2, 3], pa.int64())})
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        infos = pool.apply(write_chunk, (job, table))
    assert [(i.name, i.rows) for i in infos] == [("part-0001.parquet", 3), ("part-0001.csv", 3)]
    assert pq.read_table(job.local_path("parquet")).equals(table)
