"""Exactly once under SIGKILL, and one writer at a time: `foundry apply` as a process.

The source is a custom incremental one over ids 1..N (N in ``count.txt``, growing
between runs, as a real table does); it reads the window it is given: ids after
``ctx.cursor`` and up to ``ctx.until``. Every check comes down to one question: do
the committed partitions, read through their ``_metadata.json``, hold exactly ids
1..c, each once, where c is what some committed state of the table holds?

* **The SIGKILL matrix** (local disk; S3 on the moto server): runs that replace
  the newest date, land a new one or replay an older one are killed at random
  moments (seeded; the seed is in every message), then at a few fixed events of
  the commit, and each is run again. After each kill and after each rerun: every
  committed ``_metadata.json`` lists exactly the files present (on S3 after a kill,
  at least every listed file: a commit killed between its copies and its marker
  leaves files no commit lists until the next run), the union of the partitions is
  1..c without a duplicate, and the cursor is never ahead of the commits; after
  each rerun also: nothing left in ``_foundry/staging`` or the local scratch.
  Readers run all the while and must never fail or miscount: on local disk the
  README's DuckDB glob query; on S3 a reader that takes its file list from
  ``_metadata.json``. A glob reader on S3 is only observed and its counts printed:
  S3 has no atomic multi-object rename (docs/commit-protocol.md).
* **A kill between the commit and the cursor save**, made certain rather than
  lucky: the run SIGKILLs itself at a chosen event after its commit is visible and
  before its cursor is saved. The next run must settle the cursor from the commit:
  no doubled rows.
* **Overlapping runs**: two runs of one pipeline and date started together (in
  the first trial as plain ``python -m foundry_dsl apply``); the source waits on a gate file that the test removes
  only after one run is inside the source and the other has exited, so the overlap
  is certain. Exactly one commits; the other fails naming the holder (host, pid).

Killed runs go through a test harness (``HARNESS``, written into a temporary
folder; never product code) that logs phase events (``leased``, ``extract``,
``upload``, ``pending``, ``commit``, ``copy``, ``marker``, ``delete``,
``swapped``, ``committed``, ``state``, ...) so that each kill is told where it
landed, can SIGKILL its own process at one of them, and for S3 passes a short
lease ttl to ``lease.acquire`` (a killed run's lease blocks the next run until it
expires: seconds here instead of the default minute). They are forked from a
fork server that imported foundry once (``ZYGOTE``): each is still a process of
its own (its pid in the lease, its flock, SIGKILL kills it alone) and starts in a
tenth of the time of a fresh interpreter. ``FOUNDRY_KILL_FORK_SERVER=0`` runs each
as ``python wrap.py apply ...`` instead (about three times slower).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import REPO
from tests.fixtures.storage_services import (
    BUCKET,
    ENV_S3_ENDPOINT,
    ENV_S3_KEY,
    ENV_S3_SECRET,
    S3_KEY,
    S3_SECRET,
    Service,
)

#: FOUNDRY_KILL_SEED=<n> replays (or explores) another sequence of kill moments
SEED = int(os.environ.get("FOUNDRY_KILL_SEED", "20250112"))
KILLS = 20  # kills at random moments per backend
KILLS_AT_STATE = 20  # kills between the commit and the cursor save
OVERLAP_TRIALS = 10  # per backend
S3_LEASE_TTL = 1.5  # seconds; the harness passes it to lease.acquire for S3 kill runs
TABLE = "system=s/table=ev"
FIRST_DAY = date(2025, 3, 1)
TIMEOUT = 120  # a safety net only: no outcome is decided by a timeout

SOURCE = '''
import os, time
from foundry_dsl.sources.base import Extractor, NewCursor

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 50

class Ids(Extractor):
    """ids 1..N from count.txt: those after ctx.cursor, up to ctx.until."""

    def extract(self, ctx, part=0):
        with open(os.path.join(HERE, "count.txt")) as fh:
            n = int(fh.read())
        since = int(ctx.cursor) if ctx.cursor is not None else 0
        top = min(n, int(ctx.until)) if ctx.until is not None else n
        gate = os.path.join(HERE, "gate")
        if os.path.exists(gate):
            # tells the test this run holds the lease (one file per run that gets this far)
            open(os.path.join(HERE, f"inside-{os.getpid()}"), "x").close()
            while os.path.exists(gate):  # the test removes it: an event, not a time
                time.sleep(0.01)
        for lo in range(since + 1, top + 1, BATCH):
            yield [{"id": i, "label": f"row-{i:08d}"} for i in range(lo, min(lo + BATCH, top + 1))]
            # a source takes its time, so kills land inside the extract too; every verdict
            # holds whatever moment a kill lands at
            time.sleep(0.004)
        yield NewCursor(str(top) if top > since else None)
'''

#: test harness, never product code: phase events, a SIGKILL at one, a short S3 lease.
#: ``run(argv)`` installs the hooks and runs ``foundry_dsl.cli.main.main``; the hooks only
#: observe (and kill): they change nothing a run does but, when asked, the lease ttl
HARNESS = """
import functools, importlib, os, signal, sys, threading, time

#: what `foundry apply` imports, loaded once by the fork server before it forks runs
PRELOAD = [
    "foundry_dsl.cli.main", "foundry_dsl.cli.commands.apply", "foundry_dsl.cli.commands.plan",
    "foundry_dsl.frontends.load", "foundry_dsl.planner.build", "foundry_dsl.planner.plan", "foundry_dsl.executor.metadata",
    "foundry_dsl.executor.local", "foundry_dsl.executor.run",
    "foundry_dsl.executor.streams", "foundry_dsl.executor.jobs", "foundry_dsl.storage.api",
    "foundry_dsl.write.chunker", "foundry_dsl.write.convert", "foundry_dsl.write.schema",
    "foundry_dsl.write.writers", "foundry_dsl.sources.custom", "foundry_dsl.cursors",
    "foundry_dsl.storage.registry", "foundry_dsl.storage.local", "foundry_dsl.storage.s3", "foundry_dsl.storage.commit", "foundry_dsl.storage.recover", "foundry_dsl.storage.lease",
    "foundry_dsl.storage.state", "foundry_dsl.planner.windows", "foundry_dsl.cli.render.summary",
    "duckdb", "pyarrow", "pyarrow.parquet", "s3fs", "rich.console",
]


WARM = (
    'platform lake {\\n  storage local {\\n    path = "out"\\n  }\\n}\\n'
    'pipeline s.warm {\\n  platform = lake\\n  source files {\\n    paths = ["data/*.csv"]\\n  }\\n}\\n'
)


def preload(folder):
    for name in PRELOAD:
        importlib.import_module(name)
    # the parser is built once per process and cached: build it before forking
    path = os.path.join(folder, "warm.bronze")
    with open(path, "w") as fh:
        fh.write(WARM)
    try:
        importlib.import_module("foundry_dsl.frontends.load").load([path])
    except Exception as exc:  # only a warm-up: the runs compile (and fail) on their own
        print(f"warm-up failed: {exc!r}", file=sys.stderr)


_lock = threading.Lock()
_seen = {}
_committing = threading.Event()
_committed = threading.Event()
_log = None
_die = ""


def event(name):
    with _lock:
        n = _seen[name] = _seen.get(name, 0) + 1
        os.write(_log, f"{os.getpid()} {time.monotonic():.6f} {name} {n}\\n".encode())
        if _die and _die in (name, f"{name}:{n}"):
            os.kill(os.getpid(), signal.SIGKILL)


def _wrap(owner, attr, before=None, after=None):
    real = getattr(owner, attr)

    @functools.wraps(real)
    def patched(*args, **kwargs):
        if before is not None:
            before(*args, **kwargs)
        out = real(*args, **kwargs)
        if after is not None:
            after(*args, **kwargs)
        return out

    setattr(owner, attr, patched)


def install():
    global _log, _die
    _log = os.open(os.environ["KILLTEST_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    _die = os.environ.get("KILLTEST_DIE", "")
    event("start")
    from foundry_dsl.executor import run as pipeline_run
    from foundry_dsl.storage.state import StateStore
    from foundry_dsl.storage import commit, lease
    from foundry_dsl.storage.fsspec_backend import FsspecBackend

    if os.environ.get("KILLTEST_LEASE_TTL"):
        ttl = float(os.environ["KILLTEST_LEASE_TTL"])
        lease.acquire = functools.partial(lease.acquire, ttl=ttl)
        lease.try_acquire = functools.partial(lease.try_acquire, ttl=ttl)

    _wrap(pipeline_run.PipelineRun, "_run_leased", before=lambda *a, **k: event("leased"))
    from foundry_dsl.executor import land

    _wrap(land.Landing, "_stream", before=lambda *a, **k: event("extract"))
    _wrap(commit.PartitionCommitter, "upload", after=lambda *a, **k: event("upload"))

    def commit_starts(*a, **k):
        _committing.set()
        event("commit")

    def commit_ends(*a, **k):
        _committing.clear()
        _committed.set()
        event("committed")

    _wrap(commit.PartitionCommitter, "commit", before=commit_starts, after=commit_ends)
    _wrap(FsspecBackend, "copy_file", after=lambda *a, **k: event("copy"))
    _wrap(FsspecBackend, "write_bytes",
          after=lambda self, path, *a, **k: path.endswith("/_metadata.json") and event("marker"))
    _wrap(FsspecBackend, "delete_file",
          after=lambda *a, **k: _committing.is_set() and event("delete"))
    real_exchange = commit._exchange

    def exchange(a, b):
        done = real_exchange(a, b)
        event("swapped")
        return done

    commit._exchange = exchange
    real_put = StateStore.put

    def put(self, system, table, entry):
        if entry is not None and "pending" in entry:
            real_put(self, system, table, entry)
            event("pending")
        elif _committed.is_set():
            event("state")  # the cursor save after the commit: a kill here never saves it
            real_put(self, system, table, entry)
            event("saved")
        else:
            real_put(self, system, table, entry)
            event("settle")

    StateStore.put = put


def run(argv):
    install()
    from foundry_dsl.cli.main import main

    try:
        return main(argv)
    finally:
        event("exit")
"""

#: `python wrap.py apply ...`: a plain subprocess through the harness
WRAP = """
import sys
import killtest_harness

sys.exit(killtest_harness.run(sys.argv[1:]))
"""

#: A fork server: imports foundry once, then forks one process per run. Each run is a
#: process of its own (its own pid, locks and lease; SIGKILL kills it alone) that skips
#: the second or so of imports a fresh interpreter pays. JSON lines on stdin: {"op": "run",
#: "tag", "argv", "cwd", "env", "out", "err"} and {"op": "kill", "tag"}; on stdout:
#: {"tag", "pid"} when forked and {"tag", "status"} when reaped (status as
#: Popen.returncode). A kill is sent only to a run not yet reaped (alive, or a zombie
#: that keeps its pid), so never to a reused pid.
ZYGOTE = """
import json, os, signal, sys, threading, time, traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import killtest_harness

killtest_harness.preload(os.path.dirname(os.path.abspath(__file__)))
REPLY = os.dup(1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
replies = os.fdopen(REPLY, "w", buffering=1)
write_lock = threading.Lock()
live_lock = threading.Lock()
live = {}  # pid -> tag, while not reaped
done = threading.Event()


def send(obj):
    with write_lock:
        replies.write(json.dumps(obj) + "\\n")
        replies.flush()


def reap():
    while True:
        try:
            # WNOWAIT: the exited run stays a zombie, so its pid cannot be reused until it
            # is reaped below, under the lock that kills take too
            found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            if done.is_set():
                return
            time.sleep(0.005)  # nothing to reap yet: poll again (no verdict depends on it)
            continue
        if found is None:
            continue
        with live_lock:
            pid, status = os.waitpid(found.si_pid, 0)
            tag = live.pop(pid)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        send({"tag": tag, "status": code})


def child(req):
    code = 70
    try:
        os.close(REPLY)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        for fd, path, mode in ((0, os.devnull, os.O_RDONLY), (1, req["out"], flags),
                               (2, req["err"], flags)):
            new = os.open(path, mode, 0o644)
            os.dup2(new, fd)
            os.close(new)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        sys.argv = ["foundry", *req["argv"]]
        code = killtest_harness.run(req["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


threading.Thread(target=reap, daemon=True).start()
for line in sys.stdin:
    req = json.loads(line)
    if req["op"] == "run":
        with live_lock:
            pid = os.fork()
            if pid == 0:
                child(req)
            live[pid] = req["tag"]
        send({"tag": req["tag"], "pid": pid})
    elif req["op"] == "kill":
        with live_lock:
            for pid, tag in live.items():
                if tag == req["tag"]:
                    os.kill(pid, signal.SIGKILL)
done.set()
with live_lock:
    for pid in live:
        os.kill(pid, signal.SIGKILL)
"""

#: where a kill landed, by the last event the killed run logged
PHASES = {
    "start": "startup",
    "leased": "recover/settle",
    "settle": "recover/settle",
    "extract": "extract/write",
    "upload": "write/upload",
    "pending": "pending saved, before the commit",
    "commit": "commit, not yet visible",
    "copy": "commit, not yet visible",
    "marker": "commit visible, old files not yet deleted",
    "delete": "commit visible, old files not yet deleted",
    "swapped": "commit visible, old folder not yet removed",
    "committed": "after the commit, before the cursor save",
    "state": "after the commit, before the cursor save",
    "saved": "after the cursor save",
    "exit": "after the cursor save",
}


# --- storage as a reader sees it -------------------------------------------------------


class Store:
    """The storage root, read without foundry, through a pyarrow filesystem (local or S3)."""

    def __init__(self, fs: Any, root: str) -> None:
        self.fs = fs
        self.root = root
        #: (partition, its _metadata.json) -> the ids of the files it lists. A commit
        #: always writes new metadata (a new run id), so a partition is read again
        #: exactly when it was committed again; the listing is checked every time.
        self.read_ids: dict[tuple[str, bytes], list[int]] = {}

    def files_under(self, rel: str) -> list[str]:
        from pyarrow import fs as pafs

        infos = self.fs.get_file_info(
            pafs.FileSelector(f"{self.root}/{rel}", recursive=True, allow_not_found=True)
        )
        cut = len(self.root) + 1
        return sorted(i.path[cut:] for i in infos if i.type == pafs.FileType.File)

    def table(self) -> dict[str, set[str]]:
        """Each partition folder of the table, with the files in it (nested: ``a/b``)."""
        found: dict[str, set[str]] = collections.defaultdict(set)
        for path in self.files_under(TABLE):
            part, _, name = path[len(TABLE) + 1 :].partition("/")
            found[part].add(name)
        return dict(found)

    def read(self, rel: str) -> bytes | None:
        try:
            with _missing_as_not_found(), self.fs.open_input_stream(f"{self.root}/{rel}") as fh:
                return bytes(fh.read())
        except FileNotFoundError:
            return None

    def ids(self, rels: list[str]) -> list[int]:
        import pyarrow.parquet as pq

        if not rels:
            return []
        paths = [f"{self.root}/{r}" for r in rels]
        return pq.read_table(paths, filesystem=self.fs, columns=["id"]).column("id").to_pylist()


@contextlib.contextmanager
def _missing_as_not_found() -> Iterator[None]:
    """pyarrow's S3 says a key deleted between its HEAD and its GET with a plain OSError."""
    try:
        yield
    except FileNotFoundError:
        raise
    except OSError as exc:
        if "NO_SUCH_KEY" in str(exc) or "NOT_FOUND" in str(exc):
            raise FileNotFoundError(str(exc)) from exc
        raise


def local_store(root: Path) -> Store:
    from pyarrow import fs as pafs

    return Store(pafs.LocalFileSystem(), str(root))


class S3Store(Store):
    """S3 through pyarrow, but small objects in one GET.

    pyarrow reads an object with a HEAD (its size) and then ranged GETs: an object
    replaced in between (``_metadata.json``, the state) comes back as the first bytes
    of the new version. One plain GET returns one version whole.
    """

    def __init__(self, fs: Any, root: str, client: Any, prefix: str) -> None:
        super().__init__(fs, root)
        self.client = client
        self.prefix = prefix

    def read(self, rel: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=BUCKET, Key=f"{self.prefix}/{rel}")
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(answer["Body"].read())


def s3_store(endpoint: str, prefix: str) -> Store:
    import boto3
    from pyarrow import fs as pafs

    s3 = pafs.S3FileSystem(
        access_key=S3_KEY, secret_key=S3_SECRET, region="us-east-1", scheme="http",
        endpoint_override=endpoint.removeprefix("http://"),
    )
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )
    return S3Store(s3, f"{BUCKET}/{prefix}", client, prefix)


def _span(ids: list[int]) -> str:
    if not ids:
        return "none"
    dupes = len(ids) - len(set(ids))
    return f"{len(ids)} ids {ids[0]}..{ids[-1]}" + (f", {dupes} duplicated" if dupes else "")


@dataclass
class Snapshot:
    """The committed table, read through each partition's ``_metadata.json``."""

    ids: list[int] = field(default_factory=list)  # the union, sorted
    windows: dict[str, tuple[int, int]] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)
    stray: list[str] = field(default_factory=list)  # present, listed by no commit
    problems: list[str] = field(default_factory=list)
    state: dict[str, Any] | None = None

    @property
    def high(self) -> int:
        return max((end for _, end in self.windows.values()), default=0)


def snapshot(store: Store) -> Snapshot:
    snap = Snapshot()
    for part, names in sorted(store.table().items()):
        raw = store.read(f"{TABLE}/{part}/_metadata.json")
        if raw is None:
            snap.stray += [f"{part}/{n}" for n in sorted(names)]
            continue
        meta = json.loads(raw)
        listed = {f["name"] for f in meta["files"]}
        present = names - {"_metadata.json"}
        if listed - present:
            snap.problems.append(
                f"{part}: _metadata.json lists {sorted(listed - present)}, which are not there"
            )
        snap.stray += [f"{part}/{n}" for n in sorted(present - listed)]
        if not listed - present:
            key = (part, raw)
            if key not in store.read_ids:
                store.read_ids[key] = sorted(store.ids([f"{TABLE}/{part}/{n}" for n in sorted(listed)]))
            ids = store.read_ids[key]
        else:
            ids = sorted(store.ids([f"{TABLE}/{part}/{n}" for n in sorted(listed & present)]))
        window = meta.get("window") or {}
        start = int(window.get("start") or 0)
        end = int(window["end"]) if window.get("end") is not None else start
        if ids != list(range(start + 1, end + 1)):
            snap.problems.append(f"{part}: holds {_span(ids)}, but its window is ({start}, {end}]")
        snap.windows[part] = (start, end)
        snap.run_ids[part] = str(meta.get("run_id"))
        snap.ids += ids
    snap.ids.sort()
    raw_state = store.read(f"_state/{TABLE}.json")
    snap.state = json.loads(raw_state) if raw_state is not None else None
    return snap


# --- readers that run while foundry writes ----------------------------------------------


class Expect:
    """What a reader may count: the table's rows in the committed states a run moves between.

    The test adds a generation before each change it makes possible; a read accepts the
    states of every generation from its start to its end (a slow read may span several).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: list[tuple[frozenset[int], str]] = [(frozenset(), "idle")]

    def set(self, allowed: set[int], label: str) -> None:
        with self._lock:
            self._history.append((frozenset(allowed), label))

    def now(self) -> int:
        with self._lock:
            return len(self._history) - 1

    def since(self, generation: int) -> tuple[frozenset[int], str]:
        """Every count allowed from ``generation`` until now, and the label it started with."""
        with self._lock:
            spanned = self._history[generation:]
        return frozenset().union(*(a for a, _ in spanned)), spanned[0][1]


class Stale(Exception):
    """The reader's file listing was replaced by a commit before it opened the files."""


class Reader(threading.Thread):
    """Counts the table over and over; every failure and every miscount is recorded."""

    #: seconds between reads; the readers share two cores with the runs (and moto)
    pause = 0.01

    def __init__(self, expect: Expect) -> None:
        super().__init__(daemon=True)
        self.expect = expect
        self.stop = threading.Event()
        self.reads = 0
        self.failures: list[str] = []
        self.miscounts: list[str] = []
        self.stale = 0  # listings a commit replaced before the files were opened: read again

    def count(self) -> int:
        """One read of the table: its row count (each reader kind reads its own way)."""
        raise TypeError(f"{type(self).__name__} must say how it counts")

    def run(self) -> None:
        while not self.stop.is_set():
            generation = self.expect.now()
            try:
                counted = self.count()
            except Stale:
                self.stale += 1
            except Exception as exc:  # recorded, then the test fails: never skipped
                allowed, label = self.expect.since(generation)
                self.failures.append(f"{label}: {type(exc).__name__}: {exc}")
            else:
                allowed, label = self.expect.since(generation)
                self.reads += 1
                if counted not in allowed:
                    self.miscounts.append(f"{label}: counted {counted}, allowed {sorted(allowed)}")
            self.stop.wait(self.pause)

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=TIMEOUT)


class GlobReader(Reader):
    """The README's query over the whole table, on local disk (plus a distinct count).

    docs/commit-protocol.md promises a local glob reader the previous commit or the new
    one, never a mix: file names are new per commit, so a listing that a commit replaced
    before the files were opened names files that are gone, and the read fails (and is
    read again) instead of mixing two commits. Only that one failure is retried.
    """

    def __init__(self, expect: Expect, root: Path) -> None:
        super().__init__(expect)
        self.sql = (
            f"SELECT count(*), count(DISTINCT id) FROM read_parquet("
            f"'{root}/{TABLE}/**/*.parquet', hive_partitioning=true)"
        )

    def run(self) -> None:
        import duckdb

        self.con = duckdb.connect()
        super().run()

    def count(self) -> int:
        import duckdb

        try:
            row = self.con.execute(self.sql).fetchone()
        except duckdb.IOException as exc:
            if "Cannot open file" in str(exc) or "No such file" in str(exc):
                raise Stale() from exc
            raise
        assert row is not None
        total, distinct = row
        if distinct != total:
            raise AssertionError(f"{total} rows but {distinct} distinct ids")
        return int(total)


def _footer_rows(store: Store, rel: str) -> int:
    """The rows of one parquet file, from its footer (one ranged read)."""
    import pyarrow.parquet as pq

    with _missing_as_not_found(), store.fs.open_input_file(f"{store.root}/{rel}") as fh:
        return int(pq.ParquetFile(fh).metadata.num_rows)


class MetadataReader(Reader):
    """S3's documented consistent read: ``_metadata.json``, then exactly the files it lists.

    The table is read again only when some partition's ``_metadata.json`` changed (or
    a partition appeared) between before and after the read; a listed file missing
    under unchanged metadata is a failure.
    """

    pause = 0.25

    def __init__(self, expect: Expect, endpoint: str, prefix: str) -> None:
        super().__init__(expect)
        self.store = s3_store(endpoint, prefix)
        self.rereads = 0

    def _markers(self) -> dict[str, bytes | None]:
        return {
            part: self.store.read(f"{TABLE}/{part}/_metadata.json")
            for part, names in sorted(self.store.table().items())
            if "_metadata.json" in names
        }

    def count(self) -> int:
        for _ in range(50):
            before = self._markers()
            missing: Exception | None = None
            rows = 0
            try:
                for part, raw in before.items():
                    for f in json.loads(raw or b"null")["files"]:
                        rows += _footer_rows(self.store, f"{TABLE}/{part}/{f['name']}")
            except FileNotFoundError as exc:
                missing = exc
            # every partition's marker was the same from the last read before the data to
            # the first read after it: the rows are one committed state of the whole table
            if self._markers() == before:
                if missing is not None:
                    raise missing
                return rows
            self.rereads += 1
        raise RuntimeError(f"{TABLE}: the commits changed during 50 reads in a row")


class S3GlobObserver(threading.Thread):
    """A glob reader on S3, only observed: what it counted, by the moment it read."""

    pause = 0.25

    def __init__(self, expect: Expect, endpoint: str, prefix: str) -> None:
        super().__init__(daemon=True)
        self.expect = expect
        self.store = s3_store(endpoint, prefix)
        self.stop = threading.Event()
        self.seen: collections.Counter[tuple[str, str]] = collections.Counter()
        self.samples: dict[str, list[str]] = collections.defaultdict(list)

    def run(self) -> None:
        while not self.stop.is_set():
            generation = self.expect.now()
            try:
                paths = [p for p in self.store.files_under(TABLE) if p.endswith(".parquet")]
                counted = sum(_footer_rows(self.store, p) for p in paths)
            except FileNotFoundError:
                _allowed, label = self.expect.since(generation)
                kind = "a globbed file was gone when read"
            except Exception as exc:  # counted and shown like every other outcome
                _allowed, label = self.expect.since(generation)
                kind = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
            else:
                allowed, label = self.expect.since(generation)
                if counted in allowed:
                    kind = "a committed state"
                elif counted > max(allowed):
                    kind = "more rows than any committed state"
                else:
                    kind = "no committed state"
                if counted not in allowed and len(self.samples[kind]) < 3:
                    self.samples[kind].append(f"{label}: counted {counted}, allowed {sorted(allowed)}")
            self.seen[label.split(": ", 1)[-1], kind] += 1
            self.stop.wait(self.pause)

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=TIMEOUT)


# --- the project and its runs ------------------------------------------------------------


def _s3_block(prefix: str) -> str:
    return (f'storage s3 {{\n    bucket = "{BUCKET}"\n    prefix = "{prefix}"\n'
            f'    endpoint = env("{ENV_S3_ENDPOINT}")\n    access_key = env("{ENV_S3_KEY}")\n'
            f'    secret_key = env("{ENV_S3_SECRET}")\n    region = "us-east-1"\n  }}')


class ForkServer:
    """The test side of ZYGOTE: starts runs as forked processes, kills them, reaps them."""

    def __init__(self, folder: Path) -> None:
        (folder / "killtest_harness.py").write_text(HARNESS)
        (folder / "killtest_zygote.py").write_text(ZYGOTE)
        self.err = open(folder / "zygote.err", "wb")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [sys.executable, "killtest_zygote.py"], cwd=folder,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
        )
        self.folder = folder
        self.cond = threading.Condition()
        self.pids: dict[int, int] = {}
        self.status: dict[int, int] = {}
        self.tags = 0
        self.dead = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self.cond:
                if "pid" in msg:
                    self.pids[msg["tag"]] = msg["pid"]
                else:
                    self.status[msg["tag"]] = msg["status"]
                self.cond.notify_all()
        with self.cond:
            self.dead = True
            self.cond.notify_all()

    def check_alive(self) -> None:
        """Raise at once if the fork server died (rather than wait for a timeout)."""
        if self.dead:
            raise RuntimeError(
                f"the fork server exited: {(self.folder / 'zygote.err').read_text()[-2000:]}"
            )

    def _send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def spawn(self, argv: list[str], cwd: Path, env: dict[str, str], out: Path, err: Path) -> Child:
        with self.cond:
            self.tags += 1
            tag = self.tags
            self._send({"op": "run", "tag": tag, "argv": argv, "cwd": str(cwd), "env": env,
                        "out": str(out), "err": str(err)})
            self.cond.wait_for(lambda: tag in self.pids or self.dead, timeout=TIMEOUT)
            self.check_alive()
            if tag not in self.pids:
                raise RuntimeError(f"the fork server did not start a run in {TIMEOUT}s")
            return Child(self, tag, self.pids[tag])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=TIMEOUT)
        self.err.close()


class Child:
    """A run forked by the fork server, with the part of Popen's interface the tests use."""

    def __init__(self, server: ForkServer, tag: int, pid: int) -> None:
        self.server, self.tag, self.pid = server, tag, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        with self.server.cond:
            self.returncode = self.server.status.get(self.tag)
            if self.returncode is None:
                self.server.check_alive()
        return self.returncode

    def wait(self, timeout: float) -> int:
        server = self.server
        with server.cond:
            server.cond.wait_for(lambda: self.tag in server.status or server.dead, timeout)
            if self.tag not in server.status:
                server.check_alive()
                raise subprocess.TimeoutExpired(f"run {self.tag}", timeout)
            self.returncode = server.status[self.tag]
        return self.returncode

    def send_signal(self, sig: int) -> None:
        assert sig == signal.SIGKILL
        with self.server.cond:
            self.server._send({"op": "kill", "tag": self.tag})


@dataclass
class Run:
    proc: subprocess.Popen[bytes] | Child
    t0: float
    log: Path
    err: Path
    out: Path
    day: date

    def events(self) -> list[tuple[float, str]]:
        """(seconds since the start, event) of this run, in order."""
        found = []
        text = self.log.read_text() if self.log.exists() else ""
        for line in text.splitlines():
            _pid, t, name, _n = line.split()
            found.append((float(t) - self.t0, name))
        return found

    def wait_for(self, name: str) -> float | None:
        """When this run logged ``name`` (seconds since its start); None if it exited first."""
        while True:
            for t, seen in self.events():
                if seen == name:
                    return t
            if self.proc.poll() is not None:
                return None
            time.sleep(0.003)  # polls the run's event log: the event decides, not the time

    def last_event(self) -> str:
        events = self.events()
        return events[-1][1] if events else "start"

    def output(self) -> str:
        return " ".join((self.out.read_text() + "\n" + self.err.read_text()).split())


class Project:
    def __init__(
        self,
        folder: Path,
        backend: str,
        service: Service | None = None,
        launcher: ForkServer | None = None,
    ) -> None:
        self.folder = folder
        self.backend = backend
        self.launcher = launcher
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ids.py").write_text(SOURCE)
        (folder / "killtest_harness.py").write_text(HARNESS)
        (folder / "wrap.py").write_text(WRAP)
        self.logs = folder / "logs"
        self.logs.mkdir()
        self.runs = 0
        self.n = 0
        # S3 requests go through moto, in this process: fewer, larger files there
        rows_per_file = 50
        if backend == "local":
            storage = 'storage local {\n    path = "out"\n  }'
            self.store = local_store(folder / "out")
        else:
            assert service is not None
            self.prefix = f"kill-{uuid.uuid4().hex[:12]}"
            self.endpoint = service.endpoint
            storage = _s3_block(self.prefix)
            self.store = s3_store(service.endpoint, self.prefix)
            rows_per_file = 100
        (folder / "pipeline.bronze").write_text(f"""platform lake {{
  {storage}
  partition = date
  formats = [parquet]
}}

pipeline s.ev {{
  platform = lake
  source custom {{
    module = "ids"
    class_name = "Ids"
  }}
  run {{
    max_rows_per_file = {rows_per_file}
    workers = 2
  }}
}}
""")

    def source(self, n: int) -> None:
        tmp = self.folder / "count.tmp"
        tmp.write_text(str(n))
        os.replace(tmp, self.folder / "count.txt")
        self.n = n

    def start(self, day: date, *, die: str = "", wrapped: bool = True, ttl: float | None = None) -> Run:
        self.runs += 1
        out, err = self.logs / f"{self.runs}.out", self.logs / f"{self.runs}.err"
        log = self.logs / f"{self.runs}.events"
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "200",
               "KILLTEST_LOG": str(log), "KILLTEST_DIE": die}
        env.pop("KILLTEST_LEASE_TTL", None)
        if ttl is not None:
            env["KILLTEST_LEASE_TTL"] = str(ttl)
        argv = ["apply", "pipeline.bronze", "--date", day.isoformat()]
        proc: subprocess.Popen[bytes] | Child
        if wrapped and self.launcher is not None:
            t0 = time.monotonic()
            proc = self.launcher.spawn(argv, self.folder, env, out, err)
            return Run(proc, t0, log, err, out, day)
        entry = ["wrap.py"] if wrapped else ["-m", "foundry_dsl"]
        with open(out, "wb") as fo, open(err, "wb") as fe:
            t0 = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, *entry, *argv], cwd=self.folder, env=env, stdout=fo, stderr=fe
            )
        return Run(proc, t0, log, err, out, day)

    def complete(self, day: date, **kw: Any) -> Run:
        # with the short S3 lease, a run starved of CPU on a loaded machine may miss a
        # renewal: it then refuses to commit (as it must) and says so; run it again
        for _ in range(3):
            run = self.start(day, **kw)
            code = run.proc.wait(timeout=TIMEOUT)
            if code == 0 or "lost the lease" not in run.output():
                break
        assert code == 0, f"seed {SEED}: the run of {day} failed ({code}): {run.output()}"
        return run

    def wait_for_dead_lease(self) -> None:
        """S3: a killed run's lease lasts until it expires (nobody can tell it is dead)."""
        if self.backend == "local":
            return  # the kernel dropped the flock with the process
        raw = self.store.read(f"_foundry/leases/{TABLE}.json")
        if raw is None:
            return
        from datetime import datetime

        expires = datetime.fromisoformat(json.loads(raw)["expires_at"]).timestamp()
        # a lease ends at a time by design: wait until the expiry it states has passed
        time.sleep(max(0.0, expires - time.time()) + 0.05)

    def scratch(self) -> list[str]:
        """Files in the local scratch of runs (``local_output_dir``/_staging)."""
        staging = self.folder / "output" / "_staging"
        return sorted(str(p) for p in staging.rglob("*") if p.is_file()) if staging.is_dir() else []


def check_after_rerun(project: Project, expected: int, where: str) -> Snapshot:
    snap = snapshot(project.store)
    assert snap.problems == [], f"{where}: {snap.problems}"
    assert snap.stray == [], f"{where}: files that no _metadata.json lists: {snap.stray}"
    assert snap.ids == list(range(1, expected + 1)), (
        f"{where}: the partitions hold {_span(snap.ids)}; the source has 1..{expected}"
    )
    state = snap.state or {}
    assert "pending" not in state, f"{where}: the state keeps a pending entry: {state}"
    assert int(state.get("cursor") or 0) == snap.high == expected, f"{where}: state {state}"
    staged = project.store.files_under("_foundry/staging")
    assert staged == [], f"{where}: staging left behind: {staged}"
    assert project.scratch() == [], f"{where}: local scratch left behind: {project.scratch()}"
    if project.backend == "local":  # not even empty folders
        for folder in (project.folder / "out" / "_foundry" / "staging", project.folder / "output"):
            left = sorted(str(p) for p in folder.rglob("*")) if folder.is_dir() else []
            assert left == [], f"{where}: left behind: {left}"
    return snap


def check_after_kill(project: Project, before: int, after: int, where: str) -> Snapshot:
    snap = snapshot(project.store)
    assert snap.problems == [], f"{where}: {snap.problems}"
    if project.backend == "local":
        assert snap.stray == [], f"{where}: files that no _metadata.json lists: {snap.stray}"
    assert snap.ids in (list(range(1, before + 1)), list(range(1, after + 1))), (
        f"{where}: the partitions hold {_span(snap.ids)}; "
        f"a committed state holds 1..{before} or 1..{after}"
    )
    # the cursor is never ahead of the commits, and behind them only with a pending entry
    # naming the commit, which the next run settles from
    state = snap.state or {}
    cursor = int(state.get("cursor") or 0)
    pending = state.get("pending")
    settles = (
        isinstance(pending, dict)
        and snap.run_ids.get(str(pending.get("partition")).strip("/").rsplit("/", 1)[-1])
        == pending.get("run_id")
        and int(pending.get("cursor") or 0) == snap.high
    )
    assert cursor == snap.high or (cursor < snap.high and settles), (
        f"{where}: cursor {cursor} but the commits reach {snap.high}; state {state}"
    )
    return snap


def _day(i: int) -> date:
    return FIRST_DAY + timedelta(days=i)


def _reference(run: Run) -> dict[str, float]:
    """When the phases of a completed run began, in seconds since its start."""
    first: dict[str, float] = {}
    for t, name in run.events():
        first.setdefault(name, t)
    return first


#: where a random kill aims: (the event it waits for, the event whose time bounds the
#: delay after it in the last full run)
TARGETS = {
    "anywhere after the lease": ("leased", "exit"),
    "extract and write": ("extract", "pending"),
    "the commit": ("pending", "committed"),
    "after the commit": ("committed", "exit"),
}


def _pick_moment(rng: random.Random, ref: dict[str, float]) -> tuple[str, float]:
    """A random moment: an event to wait for, then a random delay within that phase.

    The phase is drawn (the writing ones weighted up) and the delay uniformly within
    how long that phase lasted in the last full run. Waiting for the event rather than
    a time since the start keeps a slower or faster run from moving the kill out of
    the phase; startup (before the lease) does nothing worth a kill.
    """
    target = rng.choice(["anywhere after the lease", "extract and write", "extract and write",
                         "the commit", "the commit", "after the commit"])
    anchor, bound = TARGETS[target]
    return anchor, rng.uniform(0.0, max(0.0, ref[bound] - ref[anchor]))


def _readers(project: Project, expect: Expect) -> tuple[list[Reader], S3GlobObserver | None]:
    if project.backend == "local":
        readers: list[Reader] = [GlobReader(expect, project.folder / "out")]
        observer = None
    else:
        readers = [MetadataReader(expect, project.endpoint, project.prefix)]
        observer = S3GlobObserver(expect, project.endpoint, project.prefix)
        observer.start()
    for r in readers:
        r.start()
    return readers, observer


def _stop_readers(readers: list[Reader], observer: S3GlobObserver | None) -> None:
    for r in readers:
        r.finish()
    if observer is not None:
        observer.finish()


def _check_readers(readers: list[Reader], where: str) -> None:
    for r in readers:
        assert r.failures == [], f"{where}: a reader failed {len(r.failures)} times: {r.failures[:5]}"
        assert r.miscounts == [], (
            f"{where}: a reader miscounted {len(r.miscounts)} times: {r.miscounts[:5]}"
        )
        assert r.reads > 0, f"{where}: the reader never read"


def _report(backend: str, readers: list[Reader], observer: S3GlobObserver | None,
            stray_after_kill: int) -> None:
    for r in readers:
        extra = f", {r.rereads} read again" if isinstance(r, MetadataReader) else ""
        extra += f", {r.stale} listings replaced before the files were opened" if r.stale else ""
        print(f"[{backend}] {type(r).__name__}: {r.reads} reads{extra}, "
              f"{len(r.failures)} failed, {len(r.miscounts)} miscounted")
    if observer is not None:
        print(f"[{backend}] kills that left files no commit lists, until the rerun: "
              f"{stray_after_kill}")
        print(f"[{backend}] a glob reader saw: {dict(observer.seen)}; e.g. {dict(observer.samples)}")


# --- the SIGKILL matrix -------------------------------------------------------------------


def _service(request: pytest.FixtureRequest, backend: str) -> Service | None:
    return request.getfixturevalue("moto_s3") if backend == "s3" else None


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer | None]:
    """The fork server for killed runs; FOUNDRY_KILL_FORK_SERVER=0 runs each as `python wrap.py`."""
    if os.environ.get("FOUNDRY_KILL_FORK_SERVER", "1") == "0":
        yield None
        return
    server = ForkServer(tmp_path_factory.mktemp("fork-server"))
    try:
        yield server
    finally:
        server.close()


#: kills at fixed events, after the random ones: the commit's inner steps, which a
#: random moment hits only now and then (a local commit takes milliseconds)
KILL_POINTS = {
    "local": ["pending", "commit", "swapped"],
    "s3": ["pending", "copy:1", "marker", "delete:1"],
}


@dataclass
class Table:
    """What the test knows the table holds: the dates committed and the rows in them."""

    project: Project
    rng: random.Random
    days: list[date] = field(default_factory=list)
    total: int = 0

    def next_run(self, grow: tuple[int, int], weights: list[int], *, action: str = "") -> tuple[str, date, int]:
        """New rows in the source, then a run: (what it does, its date, rows after it)."""
        self.project.source(self.project.n + self.rng.randint(*grow))
        action = action or self.rng.choices(["extend", "new", "replay"], weights)[0]
        if action == "replay" and len(self.days) < 2:
            action = "new"
        if action == "new":
            self.days.append(_day(len(self.days)))
            day = self.days[-1]
        else:
            day = self.days[-1] if action == "extend" else self.rng.choice(self.days[:-1])
        return action, day, self.total if action == "replay" else self.project.n


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", "s3"])
def test_sigkill_at_random_moments_never_loses_or_doubles_a_row(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, launcher: ForkServer | None
) -> None:
    seed = SEED + (1 if backend == "s3" else 0)
    rng = random.Random(seed)
    project = Project(tmp_path / "project", backend, _service(request, backend), launcher)
    ttl = S3_LEASE_TTL if backend == "s3" else None
    table = Table(project, rng)
    for n, i in ((400, 0), (700, 1)):
        project.source(n)
        ref = _reference(project.complete(_day(i), ttl=ttl))
        table.days.append(_day(i))
    table.total = 700
    check_after_rerun(project, table.total, f"{backend}, seed {seed}, the first runs")

    expect = Expect()
    expect.set({table.total}, "idle")
    readers, observer = _readers(project, expect)
    landed: collections.Counter[str] = collections.Counter()
    actions: collections.Counter[str] = collections.Counter()
    stray_after_kill = kills = trial = 0
    points = list(KILL_POINTS[backend])
    try:
        while kills < KILLS or points:
            trial += 1
            assert trial <= 2 * KILLS + len(KILL_POINTS[backend]), (
                f"seed {seed}: only {kills} of {trial} kills hit a live run"
            )
            die = points.pop(0) if kills >= KILLS else ""
            # a swap happens only when the date has a commit to replace
            action, day, after = table.next_run(
                (30, 120), [5, 3, 2], action="extend" if die == "swapped" else ""
            )
            actions[action] += 1
            moment = f"at {die}" if die else "at random"
            where = f"{backend}, seed {seed}, trial {trial} ({action} {day}, killed {moment})"

            expect.set({table.total, after}, f"{where}: during a run")
            run = project.start(day, ttl=ttl, die=die)
            if not die:
                anchor, delay = _pick_moment(rng, ref)
                where += f" {delay:.3f}s after {anchor}"
                seen = run.wait_for(anchor)
                if seen is not None:
                    until = run.t0 + seen + delay
                    while run.proc.poll() is None and time.monotonic() < until:
                        time.sleep(0.001)  # picks the kill moment; any moment must hold
                run.proc.send_signal(signal.SIGKILL)
            code = run.proc.wait(timeout=TIMEOUT)
            if die:
                assert code == -signal.SIGKILL, f"{where}: not killed ({code}): {run.output()}"
                assert run.last_event() == die.split(":")[0], f"{where}: {run.events()}"
                landed[f"at {die}"] += 1
            elif code == -signal.SIGKILL:
                kills += 1
                landed[PHASES[run.last_event()]] += 1
            else:
                assert code == 0, f"{where}: the run failed ({code}): {run.output()}"
                landed["(exited before the kill)"] += 1
            expect.set({table.total, after}, f"{where}: after the kill")
            snap = check_after_kill(project, table.total, after, f"{where}, after the kill")
            stray_after_kill += bool(snap.stray)

            project.wait_for_dead_lease()
            expect.set({table.total, after}, f"{where}: during a run")
            rerun = project.complete(day, ttl=ttl)
            ref = _reference(rerun)
            check_after_rerun(project, after, f"{where}, after the rerun")
            table.total = after
            expect.set({table.total}, f"{where}: idle")

        # replays leave the newest rows to a later run: one more run of the newest date
        # lands them, and the table is the source exactly
        _action, day, after = table.next_run((1, 30), [1, 0, 0], action="extend")
        expect.set({table.total, after}, f"{backend}, seed {seed}, the last run: during a run")
        project.complete(day, ttl=ttl)
        check_after_rerun(project, project.n, f"{backend}, seed {seed}, after the last run")
        expect.set({project.n}, "idle")
    finally:
        _stop_readers(readers, observer)

    print(f"\n[{backend}, seed {seed}] {kills} kills at random moments and "
          f"{len(KILL_POINTS[backend])} at fixed events, in {trial} trials {dict(actions)}; "
          f"where they landed: {dict(landed)}")
    _report(backend, readers, observer, stray_after_kill)
    _check_readers(readers, f"{backend}, seed {seed}")
    assert landed.keys() - {"recover/settle", "(exited before the kill)"} - {
        f"at {p}" for p in KILL_POINTS[backend]
    }, landed


# --- a kill between the commit and the cursor save -----------------------------------------


#: where a run dies after its commit is visible and before its cursor is saved: after
#: the commit returned, or as the cursor save begins; a local replace also right after
#: the swap (before the old folder is removed); on S3 right after the marker, or after
#: the first delete of an old or staged file
AFTER_COMMIT = {
    "local": ["committed", "state"],
    "s3": ["marker", "delete:1", "committed", "state"],
}
KILLS_AT_STATE_BY_BACKEND = {"local": KILLS_AT_STATE, "s3": KILLS_AT_STATE // 2}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", "s3"])
def test_a_kill_between_the_commit_and_the_cursor_save_is_settled_from_the_commit(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, launcher: ForkServer | None
) -> None:
    seed = SEED + (3 if backend == "s3" else 2)
    rng = random.Random(seed)
    project = Project(tmp_path / "project", backend, _service(request, backend), launcher)
    ttl = S3_LEASE_TTL if backend == "s3" else None
    table = Table(project, rng, days=[_day(0)], total=300)
    project.source(300)
    project.complete(_day(0), ttl=ttl)
    expect = Expect()
    expect.set({table.total}, "idle")
    readers, observer = _readers(project, expect)
    points: collections.Counter[str] = collections.Counter()
    kills = KILLS_AT_STATE_BY_BACKEND[backend]
    stray_after_kill = 0
    try:
        for trial in range(1, kills + 1):
            action, day, after = table.next_run((20, 90), [3, 5, 2])
            swap = ["swapped"] if backend == "local" and action != "new" else []
            die = rng.choice(AFTER_COMMIT[backend] + swap)
            where = f"{backend}, seed {seed}, trial {trial} ({action} {day}, killed at {die})"
            expect.set({table.total, after}, f"{where}: during a run")
            run = project.start(day, die=die, ttl=ttl)
            code = run.proc.wait(timeout=TIMEOUT)
            assert code == -signal.SIGKILL, f"{where}: the run was not killed ({code}): {run.output()}"
            events = [name for _, name in run.events()]
            assert events[-1] == die.split(":")[0], f"{where}: killed after {events[-1]}"
            if trial > 1:
                # the previous run left a pending entry; this one settled it first
                assert "settle" in events and events.index("settle") < events.index("extract"), (
                    f"{where}: no settle of the previous kill: {events}"
                )
            points[die] += 1
            expect.set({table.total, after}, f"{where}: after the kill")
            snap = check_after_kill(project, table.total, after, f"{where}, after the kill")
            stray_after_kill += bool(snap.stray)
            assert snap.ids == list(range(1, after + 1)), f"{where}: the commit is not visible"
            pending = (snap.state or {}).get("pending")
            assert isinstance(pending, dict) and pending.get("run_id") == snap.run_ids[
                f"dt={day.isoformat()}"
            ], f"{where}: the state does not name the commit as pending: {snap.state}"
            table.total = after
            expect.set({table.total}, f"{where}: after the kill")
            project.wait_for_dead_lease()

        # a clean run of a new date takes the cursor from the last commit, not the stale state
        project.source(project.n + 37)
        final = _day(len(table.days))
        expect.set({table.total, project.n}, f"{backend}, seed {seed}, the final run: during a run")
        run = project.complete(final, ttl=ttl)
        assert "settle" in [name for _, name in run.events()]
        snap = check_after_rerun(project, project.n, f"{backend}, seed {seed}, after the final run")
        assert snap.windows[f"dt={final.isoformat()}"] == (table.total, project.n)
        expect.set({project.n}, "idle")
    finally:
        _stop_readers(readers, observer)
    print(f"\n[{backend} state, seed {seed}] {kills} kills between the commit and the cursor "
          f"save, at {dict(points)}")
    _report(backend, readers, observer, stray_after_kill)
    _check_readers(readers, f"{backend}, seed {seed}")


# --- overlapping runs --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", "s3"])
def test_of_two_runs_started_together_exactly_one_commits(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, launcher: ForkServer | None
) -> None:
    project = Project(tmp_path / "project", backend, _service(request, backend), launcher)
    gate = project.folder / "gate"
    host = socket.gethostname()
    days = [_day(0)]
    for trial in range(1, OVERLAP_TRIALS + 1):
        project.source(project.n + 50 + 10 * trial)
        if trial % 2 == 0:
            days.append(_day(len(days)))  # a new date; odd trials replace the newest
        day = days[-1]
        where = f"{backend}, trial {trial} ({day})"
        gate.touch()
        for old in project.folder.glob("inside-*"):
            old.unlink()
        # started together: the first trial as two plain `python -m foundry_dsl apply`,
        # the others forked (the same processes, started ten times faster)
        a = project.start(day, wrapped=trial > 1)
        b = project.start(day, wrapped=trial > 1)
        try:
            # the events that make the overlap certain: one run is inside the source (it
            # holds the lease) and the other has exited; only then does the gate open
            deadline = time.monotonic() + TIMEOUT
            while not (list(project.folder.glob("inside-*"))
                       and (a.proc.poll() is not None or b.proc.poll() is not None)):
                assert time.monotonic() < deadline, f"{where}: no run got in, or none out"
                assert a.proc.poll() is None or b.proc.poll() is None, (
                    f"{where}: both runs exited: {a.output()} / {b.output()}"
                )
                time.sleep(0.01)  # polls for the two events above
            loser = a if a.proc.poll() is not None else b
            winner = b if loser is a else a
        finally:
            gate.unlink(missing_ok=True)
        assert winner.proc.wait(timeout=TIMEOUT) == 0, f"{where}: {winner.output()}"
        assert loser.proc.returncode == 1, f"{where}: {loser.output()}"
        inside = sorted(p.name for p in project.folder.glob("inside-*"))
        assert inside == [f"inside-{winner.proc.pid}"], f"{where}: in the source: {inside}"
        said = loser.output()
        snap = check_after_rerun(project, project.n, where)
        committed_by = snap.run_ids[f"dt={day.isoformat()}"]
        for part in ("is being written by run", f"run {committed_by} ", f"on host {host}",
                     f"pid {winner.proc.pid},", "started at"):
            assert part in said, f"{where}: the second run does not say '{part}': {said}"
