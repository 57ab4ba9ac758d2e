"""A run forks its page workers before its first thread, and ends them however it ends.

Each test runs foundry in a process of its own: this one has threads (the API
server's), and a process with a second thread is never forked ahead. What the
run did is read from its debug log, its child processes (``/proc``) and what
landed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pyarrow.parquet as pq

from foundry_dsl import ir
from foundry_dsl.sources.http import page_workers
from tests.fixtures.api_server import ApiServer, source
from tests.sources.test_api_page_workers import ends_with_at_most_zombies, members

ROOT = Path(__file__).resolve().parents[2]

PIPELINE = """\
platform lake {{
  storage local {{
    path = "{lake}"
  }}
  partition = date
}}

pipeline shop.orders {{
  platform = lake
  source api {{
    base_url = "{url}"
    endpoint = "/offset"
    records = "data"
    params {{ n = "{n}"{extra} }}
    paginate {paginate}
  }}
}}
"""
OFFSET = "offset {\n      limit = 10\n      total_path = \"total\"\n    }"


def pipeline(tmp_path: Path, api: ApiServer, n: int, extra: str = "") -> Path:
    path = tmp_path / "orders.bronze"
    path.write_text(PIPELINE.format(lake=tmp_path / "lake", url=api.url, n=n, extra=extra,
                                    paginate=OFFSET))
    return path


HELD = ', hold_at = "20"'  # page 3 waits until the test lets it answer


def held_until_workers_are_up(api: ApiServer, cmd: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ``cmd``, whose pipeline holds page 3, and let that page answer once the log
    says the page workers are up: every later page is then theirs to fetch, however
    fast this machine. Its exit code, stdout and stderr."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd)
    assert proc.stderr is not None and proc.stdout is not None
    lines = []
    try:
        for line in proc.stderr:  # the held page gives up after 60 s: never a hang
            lines.append(line)
            if "page worker processes up" in line:
                break
    finally:
        api.release.set()
    lines.extend(proc.stderr)
    out = proc.stdout.read()
    return proc.wait(300), out, "".join(lines)


def apply_cli(api: ApiServer, path: Path) -> tuple[int, str, str]:
    return held_until_workers_are_up(
        api, [sys.executable, "-m", "foundry_dsl.cli.main", "--debug", "apply", str(path),
              "--date", "2024-01-02", "--log-format", "json"], path.parent)


def messages(log: str) -> list[str]:
    return [json.loads(line)["message"] for line in log.splitlines() if line.startswith("{")]


def landed_ids(tmp_path: Path) -> list[int]:
    files = sorted((tmp_path / "lake").rglob("*.parquet"))
    return sorted(i for f in files for i in pq.read_table(f, columns=["id"]).column("id").to_pylist())


def test_a_long_extraction_gets_the_workers_forked_before_the_run(
        api: ApiServer, tmp_path: Path) -> None:
    code, _, log = apply_cli(api, pipeline(tmp_path, api, n=4000, extra=HELD))
    assert code == 0, log
    said = messages(log)
    assert "pipeline shop.orders: 2 page worker processes up (forked ahead)" in said
    assert any("4000 records in 400 pages (" in m and "by 2 worker processes)" in m for m in said)
    assert landed_ids(tmp_path) == list(range(4000))


SCRIPT = """\
import os, sys
sys.path.insert(0, {root!r})
import foundry_dsl
from foundry_dsl import ir
from foundry_dsl.sources.http import page_workers

forked = []
real = page_workers.fork_ahead

def fork_ahead(sources):
    real(sources)
    forked.append(page_workers._spare.helper.pid if page_workers._spare else None)

page_workers.fork_ahead = fork_ahead
{before}
plan = foundry_dsl.load([{path!r}]).plan(date=__import__("datetime").date(2024, 1, 2))
result = foundry_dsl.apply(plan)
children = []
for entry in os.listdir("/proc"):
    try:
        stat = open(f"/proc/{{entry}}/stat").read() if entry.isdigit() else ""
    except OSError:
        continue  # ended since
    if stat and int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
        children.append(entry)
print(forked[0], result.exit_code, " ".join(children) or "-", flush=True)
"""


def library_run(path: Path, before: str = "") -> tuple[int | None, int, list[int]]:
    """``foundry_dsl.apply`` in a process that goes on after it: the helper forked ahead
    (None when none was), the run's exit code, and the process's children after it."""
    script = path.parent / "run.py"
    script.write_text(SCRIPT.format(root=str(ROOT), path=str(path), before=before))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=path.parent)
    assert done.returncode == 0, done.stderr
    return outcome(done.stdout)


def outcome(stdout: str) -> tuple[int | None, int, list[int]]:
    helper, code, children = stdout.split()
    return (None if helper == "None" else int(helper), int(code),
            [] if children == "-" else [int(c) for c in children.split()])


def held_library_run(api: ApiServer, path: Path, before: str = "") -> tuple[
        int | None, int, list[int], str]:
    """:func:`library_run` of a pipeline that holds page 3 until the workers are up
    (its log at DEBUG on stderr, which is returned too)."""
    script = path.parent / "run.py"
    script.write_text(SCRIPT.format(
        root=str(ROOT), path=str(path),
        before="import logging\nlogging.basicConfig(level=logging.DEBUG)\n" + before))
    code, out, log = held_until_workers_are_up(api, [sys.executable, str(script)], path.parent)
    assert code == 0, log
    return (*outcome(out), log)


def test_a_helper_no_extraction_took_is_ended_with_the_run(
        api: ApiServer, tmp_path: Path) -> None:
    # one page: the extraction never asks for workers, and the process lives on
    helper, code, children = library_run(pipeline(tmp_path, api, n=5))
    assert code == 0
    assert helper is not None
    assert children == []  # the helper is ended and reaped, not left waiting or a zombie
    assert members(helper) == []
    assert landed_ids(tmp_path) == list(range(5))


def test_a_helper_an_extraction_took_is_ended_with_it(api: ApiServer, tmp_path: Path) -> None:
    helper, code, children, log = held_library_run(api, pipeline(tmp_path, api, n=4000,
                                                                 extra=HELD))
    assert code == 0
    assert helper is not None
    assert "pipeline shop.orders: 2 page worker processes up (forked ahead)" in log
    assert children == []
    assert members(helper) == []
    assert landed_ids(tmp_path) == list(range(4000))


def test_sources_whose_pages_stay_in_this_process_fork_nothing(
        api: ApiServer, tmp_path: Path) -> None:
    # a rate limit is one token bucket: its pages are never handed to workers
    path = pipeline(tmp_path, api, n=30)
    path.write_text(path.read_text().replace('    records = "data"\n',
                                             '    records = "data"\n    rate_limit = 1000\n'))
    helper, code, _ = library_run(path)
    assert code == 0
    assert helper is None
    assert landed_ids(tmp_path) == list(range(30))


def test_a_helper_that_fails_to_start_leaves_every_page_to_this_process(
        api: ApiServer, tmp_path: Path) -> None:
    path = pipeline(tmp_path, api, n=4000)
    script = path.parent / "run.py"
    script.write_text(SCRIPT.format(
        root=str(ROOT), path=str(path),
        before="import logging\nlogging.basicConfig(level=logging.INFO)\n"
               "from foundry_dsl.sources.http import worker_process as w\n"
               "w.PRELOAD = (*w.PRELOAD, 'no_such_module')"))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=path.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1:] == ["0", "-"]
    assert ("pipeline shop.orders: the page worker processes did not start "
            "(ModuleNotFoundError: No module named 'no_such_module'); every page is fetched "
            "by this process") in done.stderr
    assert "Traceback" not in done.stderr
    assert landed_ids(tmp_path) == list(range(4000))


def test_the_helper_of_a_killed_run_ends_with_its_workers(api: ApiServer, tmp_path: Path) -> None:
    # the first page is held: the run is killed before any extraction took the helper
    path = pipeline(tmp_path, api, n=4000, extra=', hold_at = "0"')
    proc = subprocess.Popen(
        [sys.executable, "-m", "foundry_dsl.cli.main", "--debug", "apply", str(path),
         "--date", "2024-01-02", "--log-format", "json"],
        stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert proc.stderr is not None
        group = None
        for line in proc.stderr:  # the fork comes before the pipeline starts, if at all
            said = json.loads(line)["message"] if line.startswith("{") else ""
            if said.startswith("page worker processes forked ahead of the run"):
                group = int(said.split("process group ")[1].rstrip(")"))
            if "holding the lease" in said:
                break
        assert group is not None
        assert api.wait_until(lambda: any("held" in r.events for r in api.log), 60)
        assert members(group)  # the helper and its two workers, waiting
        proc.kill()
        proc.wait(60)
    finally:
        api.release.set()
    # the workers see the run's end of their pipes close, the helper reaps them and exits
    assert ends_with_at_most_zombies(group)


def test_a_process_with_a_second_thread_is_not_forked(api: ApiServer) -> None:
    assert threading.active_count() > 1  # the API server's thread, at least
    before = children_of_this_process()
    paged = source(api.url, "offset", records="data",
                   paginate=ir.OffsetPagination(limit=10, total_path="total"))
    try:
        page_workers.fork_ahead([paged])
        assert children_of_this_process() == before
    finally:
        page_workers.discard_spare()


def children_of_this_process() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue  # ended since
        if stat and int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
            found.add(int(entry.name))
    return found


def test_the_forked_helper_does_not_keep_the_programs_sigterm_handler(
        api: ApiServer, tmp_path: Path) -> None:
    # the program ignores SIGTERM; the helper, stopped in its imports (a module that
    # waits on a FIFO), must still die of the SIGTERM that ends its group
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    (tmp_path / "gated.py").write_text(f"open({str(fifo)!r}).read()\n")
    script = tmp_path / "fork.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        sys.path.insert(0, {str(tmp_path)!r})
        from foundry_dsl import ir
        from foundry_dsl.sources.http import page_workers, worker_process
        signal.signal(signal.SIGTERM, lambda *_: None)
        worker_process.PRELOAD = ("gated",)
        # (not the test fixtures: pyarrow's import starts a thread, and a process with
        # two is never forked ahead)
        page_workers.fork_ahead([ir.ApiSource(base_url={api.url!r}, endpoint="offset",
                                              paginate=ir.OffsetPagination(limit=10))])
        pid = page_workers._spare.helper.pid
        status = None
        try:
            for _ in range(3000):  # until the helper is in its imports, reading the FIFO
                try:
                    gate = os.open({str(fifo)!r}, os.O_WRONLY | os.O_NONBLOCK)
                    break
                except OSError:  # ENXIO: no reader yet
                    time.sleep(0.01)
            os.killpg(pid, signal.SIGTERM)
            for _ in range(1000):  # a poller's pace; the bound only stops a hang
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                status = None
                time.sleep(0.01)
        finally:  # never leave it blocked on the FIFO, whatever failed here
            if status is None:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        print("killed by SIGTERM" if status is not None and os.WIFSIGNALED(status)
              and os.WTERMSIG(status) == signal.SIGTERM else f"still running: {{status}}")
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "killed by SIGTERM"


def test_a_fork_that_fails_leaves_the_extractions_to_start_their_own(
        api: ApiServer, tmp_path: Path) -> None:
    # a process limit reached: the run goes on, its extraction starts its helper itself
    # (a subprocess: not os.fork in this process)
    helper, code, children, log = held_library_run(
        api, pipeline(tmp_path, api, n=4000, extra=HELD),
        "def no_fork():\n    raise BlockingIOError(11, 'Resource temporarily unavailable')\n"
        "os.fork = no_fork")
    assert (helper, code, children) == (None, 0, [])
    assert "pipeline shop.orders: 2 page worker processes up\n" in log
    assert "4000 records in 400 pages (" in log and "by 2 worker processes)" in log
    assert landed_ids(tmp_path) == list(range(4000))
