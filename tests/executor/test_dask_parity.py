"""The Dask executor lands what the local executor lands: the same rows, metadata and cursor.

Each case builds one pipeline twice, identical but for where it lands (two folders on
local disk, or two prefixes of the moto S3 bucket), runs one copy with
:class:`LocalExecutor` and the other with :class:`DaskExecutor` on the session's
2-worker cluster, and compares what each committed, run by run:

- ``api``: the fake server's ``/changes`` feed, offset pages of 40, incremental on
  ``updated_at``; records with a list and a nested object;
- ``db``: a PostgreSQL table through psqlODBC, 3 range partitions on ``id``,
  incremental on ``updated_at`` (a few NULL keys, so the source reports a figure);
- ``files``: a CSV file and NDJSON files, landed as Parquet and CSV;
- ``custom``: an ``Extractor`` that splits itself into 4 parts, each with its own
  cursor and report figure, one part's ``note`` column all NULL (the schema widens
  across parts), lineage columns on.

Runs: the incremental sources (``api``, ``db``, ``custom``) land a first date, then
the next date after the source changed (from the stored cursor); ``custom`` then
reruns that date after it changed once more, replacing the commit, and last reruns
its first date, whose committed window is replayed up to its end (``ctx.until``);
``files`` (no cursor) reruns its first date with one more file. The two executors
land each run at the same time, each into its own storage root.

File names and counts differ by design and are never compared between executors:
the local executor lands every part of a run in one unit, so parts share files
(``part-0001-<tag>.parquet``, ...); Dask lands each part on a worker into files of
its own (``part-<part>-<attempt>-0001-<tag>.parquet``), so N parts make at least N
files. What is compared: every row (sorted, exactly) and the Arrow schema of the
files; the ``_metadata.json`` fields in :data:`SAME_FIELDS`; the stored cursor. Each
executor's partition must also hold exactly the files its metadata lists, each one
as its entry describes it, and no row twice; nothing staged may outlive a run.

The cluster's workers started with the environment of the moment the session's
cluster came up; the ``env(...)`` variables set later (the database's connection
string, the S3 emulator's endpoint and keys) are given to them here, as an operator
gives them to the workers of a real cluster.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from foundry_dsl import ir
from foundry_dsl.executor.base import Executor, PipelineResult
from foundry_dsl.executor.local import LocalExecutor
from foundry_dsl.planner.build import build_plan
from foundry_dsl.planner.plan import PipelinePlan
from foundry_dsl.storage.registry import open_backend
from foundry_dsl.storage.state import StateStore
from tests.executor.helpers import AT, DATE, NEXT_DAY

#: the fields of ``_metadata.json`` both executors must write alike
SAME_FIELDS = (
    "total_records", "schema", "new_cursor", "window", "file_formats",
    "system", "table", "partition_path", "source",
)
#: what the first commit of each case holds besides rows (so comparing them means something)
HOLDS = {
    "api": ("new_cursor", "window"),
    "db": ("new_cursor", "window", "source"),  # the NULL incremental keys it counted
    "files": (),
    "custom": ("new_cursor", "window", "source"),  # its parts' row counts, summed
}
#: the runs a case can make, (label, date): a first date; the next date after the source
#: changed (from the stored cursor); a date again after the source changed once more (its
#: commit replaced); the first date again once the next one is committed (its window
#: replayed, up to its end: ``ctx.until``)
FIRST, NEXT = ("first", DATE), ("next", NEXT_DAY)
RERUN_NEXT, RERUN_FIRST, REPLAY_FIRST = ("rerun", NEXT_DAY), ("rerun", DATE), ("replay", DATE)
EXECUTORS = ("local", "dask")
CASES = [(kind, where) for kind in ("api", "db", "files", "custom") for where in ("local", "s3")]

#: what the workers need of the test process's environment to reach the test services
ENV_S3 = ("FOUNDRY_TEST_S3_ENDPOINT", "FOUNDRY_TEST_S3_ACCESS_KEY", "FOUNDRY_TEST_S3_SECRET_KEY",
          "AWS_EC2_METADATA_DISABLED", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
          "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
          "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY")
ENV_PG = "FOUNDRY_TEST_PG_PARITY"


# --- what one executor committed in one run ----------------------------------------------


@dataclass
class Landed:
    result: PipelineResult
    meta: dict[str, Any]
    present: list[str]  # the partition's data files (everything but _metadata.json)
    blobs: dict[str, bytes | None]  # each file the metadata lists, as stored (None: missing)
    tables: list[pa.Table]  # each Parquet file the metadata lists, read back
    state: dict[str, Any] | None
    #: what else the storage root and the local scratch folder hold: neither a partition,
    #: nor the state, nor a lease's lock file
    leftovers: list[str]

    @property
    def listed(self) -> list[str]:
        return sorted(f["name"] for f in self.meta.get("files", []))

    @property
    def schemas(self) -> list[pa.Schema]:
        return [t.schema for t in self.tables]

    @property
    def num_rows(self) -> int:
        return sum(t.num_rows for t in self.tables)

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        """Every row of the partition as a tuple of Python values, sorted: duplicates kept."""
        rows = [tuple(r.values()) for t in self.tables for r in t.to_pylist()]
        return sorted(rows, key=repr)


def _read(pp: PipelinePlan, result: PipelineResult) -> Landed:
    backend = open_backend(pp.storage, pp.name)
    folder = pp.partition_path.rstrip("/")
    raw = backend.read_bytes(f"{folder}/_metadata.json")
    meta = json.loads(raw) if raw is not None else {}
    present = sorted(
        path.removeprefix(f"{folder}/") for path in backend.list_files(folder)
        if path != f"{folder}/_metadata.json"
    )
    blobs = {f["name"]: backend.read_bytes(f"{folder}/{f['name']}") for f in meta.get("files", [])}
    tables = [pq.read_table(io.BytesIO(data)) for name, data in sorted(blobs.items())
              if data is not None and name.endswith(".parquet")]
    state = StateStore(backend).get(pp.pipeline.system, pp.pipeline.table)
    kept = ("system=", "_state/", "_foundry/leases/")
    leftovers = [path for path in backend.list_files("") if not path.startswith(kept)]
    scratch = Path(pp.settings.scratch_dir)
    leftovers += [str(path) for path in scratch.rglob("*") if path.is_file()]
    return Landed(result, meta, present, blobs, tables, state, leftovers)


# --- the cases: the same pipeline for each executor, and how its source changes ----------


@dataclass(frozen=True)
class Case:
    #: the pipeline landing in ``storage``, with its scratch folder
    pipeline: Callable[[ir.Storage, Path], ir.Pipeline]
    #: called before each run (label): makes the source what that run reads
    before: Callable[[str], None]
    runs: tuple[tuple[str, dt.date], ...]


def _api_case(api: Any) -> Case:
    def change(i: int, minute: int, version: int = 1) -> dict[str, Any]:
        return {"id": i, "updated_at": f"2024-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z",
                "version": version, "price": round(i * 0.25, 2), "tags": [f"t{j}" for j in range(i % 3)],
                "owner": {"login": f"user{i % 7}", "team": {"id": i % 4}}}

    def before(run: str) -> None:
        if run == "first":
            api.changes = [change(i, i) for i in range(300)]
        else:  # 5 updated, 20 new
            api.changes = [*api.changes, *(change(i, 400 + i, 2) for i in range(0, 50, 10)),
                           *(change(i, 400 + i) for i in range(300, 320))]

    def pipeline(storage: ir.Storage, scratch: Path) -> ir.Pipeline:
        source = ir.ApiSource(
            base_url=api.url, endpoint="changes", records="data",
            paginate=ir.OffsetPagination(limit=40, total_path="total"),
            incremental=ir.ApiIncremental(field="updated_at", param="since"),
            retry=ir.RetryPolicy(max_attempts=8, backoff=0.01, max_backoff=0.05),
        )
        return _pipeline(storage, scratch, source, max_rows_per_file=150)

    return Case(pipeline, before, (FIRST, NEXT))


def _db_case(postgres: Any, table: str) -> Case:
    def insert(first: int, last: int, minute0: int) -> str:
        return (
            f"INSERT INTO {table} SELECT g, 'cust ' || (g % 97), (g % 10000) / 100.0, "
            "DATE '2024-01-01' + (g % 400), g % 3 = 0, "
            f"TIMESTAMPTZ '2024-06-01 00:00:00.000001+00' + ({minute0} + g) * INTERVAL '1 minute', "
            f"CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END FROM generate_series({first}, {last}) g;"
        )

    def before(run: str) -> None:
        if run == "first":
            postgres.psql(
                f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigint, customer text, "
                "amount numeric(12,2), day date, flag boolean, updated_at timestamptz, "
                "note varchar(20));" + insert(1, 2400, 0)
                + f"UPDATE {table} SET updated_at = NULL WHERE id % 500 = 7;"
            )
        else:
            postgres.psql(insert(3001, 3400, 10_000)
                          + f"UPDATE {table} SET amount = amount + 1, updated_at = "
                          "TIMESTAMPTZ '2024-12-01+00' + id * INTERVAL '1 s' WHERE id % 300 = 1;")

    def pipeline(storage: ir.Storage, scratch: Path) -> ir.Pipeline:
        source = ir.DbSource(
            connection=ir.EnvRef(name=ENV_PG), query=f"SELECT * FROM {table}",
            incremental_key="updated_at", partition_column="id", partitions=3, batch_size=400,
        )
        return _pipeline(storage, scratch, source, max_rows_per_file=800)

    return Case(pipeline, before, (FIRST, NEXT))


def _files_case(folder: Path) -> Case:
    data = folder / "data"

    def line(i: int) -> dict[str, Any]:
        return {"id": i, "name": f"name {i}", "amount": i * 1.5, "day": f"2024-02-{1 + i % 28:02d}"}

    def before(run: str) -> None:
        if run == "first":
            data.mkdir(parents=True)
            (data / "a.csv").write_text(
                "id,name,amount,day\n"
                + "".join(f'{i},"name {i}",{i * 1.5},2024-02-{1 + i % 28:02d}\n' for i in range(1, 201))
            )
            (data / "b.ndjson").write_text("".join(json.dumps(line(i)) + "\n" for i in range(201, 451)))
        else:  # the rerun lands every file again, one more among them
            (data / "c.ndjson").write_text(
                "".join(json.dumps(line(i)) + "\n" for i in range(451, 501))
            )

    def pipeline(storage: ir.Storage, scratch: Path) -> ir.Pipeline:
        source = ir.FilesSource(paths=("data/*.csv", "data/*.ndjson"))
        return _pipeline(storage, scratch, source, base=folder, max_rows_per_file=300,
                         formats=("parquet", "csv"))

    return Case(pipeline, before, (FIRST, RERUN_FIRST))


SPLIT_SOURCE = """
import datetime as dt
import os
import threading

from foundry_dsl.sources.base import Extractor, NewCursor

PARTS = 4
LOCK = threading.Lock()  # the local executor's parts share this instance, on threads


class Source(Extractor):
    def parts(self, ctx):
        return PARTS

    def extract(self, ctx, part=0):
        n = int(open(os.path.join(os.path.dirname(__file__), "count.txt")).read())
        since = int(ctx.cursor) if ctx.cursor is not None else 0
        top = min(n, int(ctx.until)) if ctx.until is not None else n
        seqs = [s for s in range(since + 1, top + 1) if s % PARTS == part]
        for start in range(0, len(seqs), 250):
            yield [row(s, part) for s in seqs[start:start + 250]]
        with LOCK:
            self.report["rows"] = self.report.get("rows", 0) + len(seqs)
        yield NewCursor(str(seqs[-1]) if seqs else None)


def row(s, part):
    return {
        "seq": s,
        "part": part,
        "name": f"row {s:06d}",
        "amount": s / 8,
        "at": dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=s * 7),
        "day": dt.date(2024, 1, 1) + dt.timedelta(days=s % 365),
        "note": None if part == 0 else f"note {s}",
    }
"""


def _custom_case(folder: Path) -> Case:
    (folder / "parity_split.py").write_text(SPLIT_SOURCE)

    def before(run: str) -> None:
        counts = {"first": "1600", "next": "2000", "rerun": "2050", "replay": "2100"}
        (folder / "count.txt").write_text(counts[run])

    def pipeline(storage: ir.Storage, scratch: Path) -> ir.Pipeline:
        source = ir.CustomSource(module="parity_split", class_name="Source")
        return _pipeline(storage, scratch, source, base=folder, max_rows_per_file=300,
                         workers=2, lineage=True)

    return Case(pipeline, before, (FIRST, NEXT, RERUN_NEXT, REPLAY_FIRST))


def _pipeline(storage: ir.Storage, scratch: Path, source: Any, *, base: Path | None = None,
              formats: tuple[str, ...] = ("parquet",), **run: Any) -> ir.Pipeline:
    return ir.Pipeline(
        system="s",
        table="t",
        platform=ir.Platform(name="p", storage=storage, formats=formats),
        source=source,
        run=ir.RunOptions(local_output_dir=str(scratch), formats=formats, **run),
        source_file=str((base or scratch) / "pipelines.bronze"),
    )


# --- running both executors ----------------------------------------------------------------


@pytest.fixture(scope="module")
def workers_env(dask_cluster: Any) -> Iterator[Callable[..., None]]:
    """``share(*names)``: the cluster's workers get this process's value of each variable
    (or lose it, where it is unset here); what they had comes back after the module."""
    from distributed import Client

    def setenv(values: dict[str, str | None]) -> dict[str, str | None]:
        import os as worker_os

        previous = {name: worker_os.environ.get(name) for name in values}
        for name, value in values.items():
            if value is None:
                worker_os.environ.pop(name, None)
            else:
                worker_os.environ[name] = value
        return previous

    client = Client(dask_cluster.scheduler_address, set_as_default=False)
    saved: dict[str, dict[str, str | None]] = {}

    def share(*names: str) -> None:
        before = client.run(setenv, {name: os.environ.get(name) for name in names})
        for worker, values in before.items():
            for name, value in values.items():
                saved.setdefault(worker, {}).setdefault(name, value)

    try:
        yield share
    finally:
        for worker, values in saved.items():
            client.run(setenv, values, workers=[worker])
        client.close()


@dataclass(frozen=True)
class Run:
    kind: str  # the case's source
    label: str
    local: Landed
    dask: Landed

    def each(self) -> tuple[tuple[str, Landed], tuple[str, Landed]]:
        return (f"{self.label}/local", self.local), (f"{self.label}/dask", self.dask)


@pytest.fixture(scope="module", params=CASES, ids=[f"{k}-{w}" for k, w in CASES])
def runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    dask_cluster: Any, workers_env: Callable[..., None],
) -> Iterator[list[Run]]:
    """Each run of one case: what each executor committed."""
    from foundry_dsl.executor.dask import DaskExecutor

    kind, where = request.param
    folder = tmp_path_factory.mktemp(f"parity-{kind}-{where}")
    with pytest.MonkeyPatch.context() as mp:
        if kind == "api":
            api = request.getfixturevalue("api_server")
            api.reset()
            request.addfinalizer(api.reset)
            case = _api_case(api)
        elif kind == "db":
            postgres = request.getfixturevalue("postgres")
            mp.setenv(ENV_PG, postgres.conn_str())
            workers_env(ENV_PG)
            case = _db_case(postgres, f"parity_{where}")
        elif kind == "files":
            case = _files_case(folder / "source")
        else:
            case = _custom_case(folder)
        if where == "s3":
            s3 = request.getfixturevalue("moto_s3")
            workers_env(*ENV_S3)
            root = f"parity-{uuid.uuid4().hex[:8]}-{kind}"
            storages = {name: s3.storage(f"{root}/{name}") for name in EXECUTORS}
        else:
            storages = {name: ir.LocalStorage(path=str(folder / name / "out")) for name in EXECUTORS}
        executors: dict[str, Executor] = {
            "local": LocalExecutor(),
            # what the dask_executor fixture builds (as --scheduler does), for a whole module
            "dask": DaskExecutor(scheduler=dask_cluster.scheduler_address),
        }
        pipelines = {name: case.pipeline(storages[name], folder / name / "scratch")
                     for name in EXECUTORS}

        def land(name: str, date: dt.date) -> Landed:
            plan = build_plan([pipelines[name]], date, AT, look_up_storage=False)
            (result,) = executors[name].execute(plan).results
            return _read(plan.pipelines[0], result)

        out = []
        # both executors land each run at once: apart in storage, from the same source
        with ThreadPoolExecutor(len(EXECUTORS)) as pool:
            for label, date in case.runs:
                case.before(label)
                local, dask = (pool.submit(land, name, date) for name in EXECUTORS)
                out.append(Run(kind, label, local.result(), dask.result()))
        yield out


# --- the tests -------------------------------------------------------------------------------


def test_every_run_succeeds_on_both_executors(runs: list[Run]) -> None:
    for run in runs:
        for who, one in run.each():
            assert one.result.status == "succeeded", f"{who}: {one.result.error}"


def test_the_first_commit_holds_a_cursor_and_a_report_where_the_source_gives_them(
    runs: list[Run],
) -> None:
    first = runs[0].local.meta
    held = tuple(name for name in ("new_cursor", "window", "source") if first.get(name))
    assert held == HOLDS[runs[0].kind]


def test_both_executors_land_the_same_rows(runs: list[Run]) -> None:
    for run in runs:
        assert run.local.num_rows > 0, run.label
        assert (run.label, run.dask.rows) == (run.label, run.local.rows)


def test_every_file_of_both_executors_has_the_same_arrow_schema(runs: list[Run]) -> None:
    for run in runs:
        expected = run.local.schemas[0]
        for who, one in run.each():
            for got in one.schemas:
                assert got.equals(expected, check_metadata=True), f"{who}:\n{got}\n!=\n{expected}"


@pytest.mark.parametrize("name", SAME_FIELDS)
def test_a_metadata_field_is_the_same_on_both_executors(runs: list[Run], name: str) -> None:
    for run in runs:
        if name not in ("window", "source"):  # written only for some sources
            assert name in run.local.meta, (run.label, sorted(run.local.meta))
        assert (run.label, run.dask.meta.get(name)) == (run.label, run.local.meta.get(name))


def test_the_metadata_counts_every_row_landed(runs: list[Run]) -> None:
    for run in runs:
        for who, one in run.each():
            assert (who, one.meta["total_records"]) == (who, one.num_rows)
            assert (who, one.result.rows) == (who, one.num_rows)


def test_each_partition_holds_exactly_the_files_its_metadata_lists(runs: list[Run]) -> None:
    for run in runs:
        for who, one in run.each():
            assert (who, one.present) == (who, one.listed)
            assert (who, one.meta["num_files"]) == (who, len(one.listed))


def test_no_staged_file_outlives_a_run(runs: list[Run]) -> None:
    for run in runs:
        for who, one in run.each():
            assert (who, one.leftovers) == (who, [])


def test_every_listed_file_is_what_its_entry_says(runs: list[Run]) -> None:
    for run in runs:
        for who, one in run.each():
            for entry in one.meta["files"]:
                data = one.blobs[entry["name"]]
                name = f"{who}: {entry['name']}"
                assert data is not None, f"{name} is listed but not in the partition"
                assert (name, entry["bytes"]) == (name, len(data))
                assert (name, entry["sha256"]) == (name, hashlib.sha256(data).hexdigest())
                if entry["format"] == "parquet":
                    rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
                    assert (name, entry["rows"]) == (name, rows)


def test_no_row_lands_twice(runs: list[Run]) -> None:
    for run in runs:
        for who, one in run.each():
            rows = one.rows
            assert (who, len(set(map(repr, rows)))) == (who, len(rows))


def test_both_executors_store_the_same_cursor(runs: list[Run]) -> None:
    def stored(state: dict[str, Any] | None) -> tuple[Any, ...]:
        s = state or {}
        return s.get("cursor"), s.get("partition"), s.get("records"), s.get("pending")

    for run in runs:
        assert (run.label, stored(run.dask.state)) == (run.label, stored(run.local.state))
        assert (run.label, run.dask.result.cursor) == (run.label, run.local.result.cursor)


# --- cases that once differed on Dask -------------------------------------------------------


def _both(tmp_path: Path, dask_executor: Any, code: str) -> dict[str, tuple[PipelineResult, dict[str, Any] | None]]:
    """The custom source ``code`` landed on local disk by each executor: result, metadata."""
    (tmp_path / "src_both.py").write_text(textwrap.dedent(code))
    out = {}
    for name, executor in (("local", LocalExecutor()), ("dask", dask_executor)):
        p = _pipeline(ir.LocalStorage(path=str(tmp_path / name / "out")), tmp_path / name / "scratch",
                      ir.CustomSource(module="src_both", class_name="Source"), base=tmp_path)
        plan = build_plan([p], DATE, AT, look_up_storage=False)
        (result,) = executor.execute(plan).results
        meta = tmp_path / name / "out" / plan.pipelines[0].partition_path / "_metadata.json"
        out[name] = (result, json.loads(meta.read_text()) if meta.exists() else None)
    return out


def test_figures_a_source_reports_in_prepare_reach_the_metadata_on_dask(
    tmp_path: Path, dask_executor: Any
) -> None:
    got = _both(tmp_path, dask_executor, """
    from foundry_dsl.sources.base import Extractor
    class Source(Extractor):
        def prepare(self, ctx):
            self.report["planned_parts"] = 3
        def parts(self, ctx):
            return 3
        def extract(self, ctx, part=0):
            self.report[f"part{part}"] = 10
            yield [{"i": part * 10 + i} for i in range(10)]
    """)
    local, dask = got["local"][1], got["dask"][1]
    assert local is not None and local["source"] == {
        "planned_parts": 3, "part0": 10, "part1": 10, "part2": 10}
    assert dask is not None and dask["source"] == local["source"]


def test_big_ints_in_one_part_and_floats_in_another_land_as_text_on_dask(
    tmp_path: Path, dask_executor: Any
) -> None:
    got = _both(tmp_path, dask_executor, """
    from foundry_dsl.sources.base import Extractor
    class Source(Extractor):
        def parts(self, ctx):
            return 2
        def extract(self, ctx, part=0):
            yield [{"k": part, "v": 2**60 + 1 if part == 0 else 1.5}]
    """)
    (local, local_meta), (dask, dask_meta) = got["local"], got["dask"]
    assert local.status == "succeeded", local.error
    assert local_meta is not None and {"name": "v", "type": "string"} in local_meta["schema"]
    assert (dask.status, dask.error) == ("succeeded", None)
    assert dask_meta is not None and dask_meta["schema"] == local_meta["schema"]

