"""Pages fetched by worker processes land exactly what this process would land.

The ``workers`` fixture asks for workers after the first page and waits for them,
so every page after the first goes to a worker (a short extraction would otherwise
end before they are up). What a worker did is read from the extraction's summary
line, which counts the pages workers fetched.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.api import ApiExtractor
from foundry_dsl.sources.base import NewCursor
from foundry_dsl.sources.http import page_workers, worker_process
from foundry_dsl.sources.http.page_workers import PageWorkers
from foundry_dsl.sources.http.pagination import PageRequest
from tests.fixtures.api_server import API_KEY, ApiServer, context, run, source

ALL = list(range(250))
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> list[PageWorkers]:
    """Workers asked for after the first page, and waited for: the workers started."""
    monkeypatch.setattr("foundry_dsl.sources.api.WORKER_PAGES", 0)
    started: list[PageWorkers] = []
    real = PageWorkers.start.__func__  # type: ignore[attr-defined]

    def start(cls: type[PageWorkers], setup: Any, cancelled: threading.Event) -> Any:
        found = real(cls, setup, cancelled)
        if found is not None:
            assert found.ready.wait(60), "the page workers did not start"
            started.append(found)
        return found

    monkeypatch.setattr(PageWorkers, "start", classmethod(start))
    return started


def in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("foundry_dsl.sources.api.WORKER_PAGES", 10**9)


def offset_source(api: ApiServer, endpoint: str = "offset", **fields: Any) -> ir.ApiSource:
    fields.setdefault("paginate", ir.OffsetPagination(limit=25, total_path="total"))
    return source(api.url, endpoint, records="data", **fields)


def ids(tables: list[pa.Table]) -> list[int]:
    return [r["id"] for t in tables for r in t.to_pylist()]


def error_of(src: ir.ApiSource) -> str:
    with pytest.raises(ExtractError) as caught:
        run(src)
    return str(caught.value)


def same_error_here(src: ir.ApiSource, monkeypatch: pytest.MonkeyPatch) -> str:
    """The extraction's error with workers, checked word for word against this process's."""
    by_workers = error_of(src)
    in_this_process(monkeypatch)
    assert by_workers == error_of(src)
    return by_workers


def members(group: int) -> list[str]:
    """The states (R, S, Z, ...) of the processes in process group ``group``."""
    states = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            states.append(fields[0])
    return states


def gone(group: int) -> bool:
    """Whether no process of ``group`` is left, not even one dead and not yet reaped: the
    helper reaps its workers before it exits, and the extractor reaps the helper."""
    return members(group) == []


def ends_with_at_most_zombies(group: int) -> bool:
    """Whether every process of ``group`` ends, within a minute, or is left a zombie (an
    orphaned helper is reaped by whoever adopts it)."""
    for _ in range(600):  # a poller's pace; the bound only stops a hang
        if set(members(group)) <= {"Z"}:
            return True
        time.sleep(0.1)
    return False


# --- the same data --------------------------------------------------------------------


def test_pages_after_the_first_come_from_worker_processes_in_page_order(
        api: ApiServer, workers: list[PageWorkers], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="foundry.api"):
        tables, cursor = run(offset_source(api))
    assert ids(tables) == ALL
    assert [t.num_rows for t in tables] == [25] * 10
    assert cursor is None
    assert "250 records in 10 pages (9 of them by 2 worker processes)" in caplog.text
    assert len(workers) == 1


def test_worker_pages_land_the_same_table_as_this_process(
        api: ApiServer, workers: list[PageWorkers], monkeypatch: pytest.MonkeyPatch) -> None:
    by_workers, _ = run(offset_source(api))
    in_this_process(monkeypatch)
    here, _ = run(offset_source(api))
    assert workers
    assert pa.concat_tables(by_workers).equals(pa.concat_tables(here))


def test_page_numbers_with_a_page_count_go_to_workers_too(
        api: ApiServer, workers: list[PageWorkers], caplog: pytest.LogCaptureFixture) -> None:
    src = source(api.url, "page", records="results", paginate=ir.PagePagination(
        page_size=40, size_param="page_size", total_pages_path="total_pages"))
    with caplog.at_level(logging.INFO, logger="foundry.api"):
        tables, _ = run(src)
    assert ids(tables) == ALL
    assert "(6 of them by 2 worker processes)" in caplog.text


def test_credentials_from_the_environment_reach_the_workers(
        api: ApiServer, workers: list[PageWorkers], auth_env: dict[str, str]) -> None:
    src = offset_source(api, "bearer/offset", auth=ir.BearerAuth(token=ir.EnvRef(name="API_TOKEN")))
    tables, _ = run(src)
    assert ids(tables) == ALL
    assert workers
    assert {r.headers.get("authorization") for r in api.log} == {f"Bearer {auth_env['API_TOKEN']}"}


def test_a_replayed_window_lands_and_tracks_the_cursor_as_here(
        api: ApiServer, workers: list[PageWorkers], monkeypatch: pytest.MonkeyPatch) -> None:
    api.changes = [{"id": i, "updated_at": f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z"}
                   for i in range(120)]
    src = source(api.url, "changes", records="data",
                 paginate=ir.OffsetPagination(limit=10, total_path="total"),
                 incremental=ir.ApiIncremental(field="updated_at", param="since"))
    until = "2024-01-01T00:01:29Z"  # the API takes no upper bound: records past it are cut here
    by_workers = run(src, cursor="2024-01-01T00:00:09Z", until=until)
    in_this_process(monkeypatch)
    here = run(src, cursor="2024-01-01T00:00:09Z", until=until)
    assert workers
    assert ids(by_workers[0]) == list(range(10, 90))
    assert by_workers[1] == here[1] == NewCursor("2024-01-01T00:01:29Z")
    assert pa.concat_tables(by_workers[0]).equals(pa.concat_tables(here[0]))


# --- the stop rules and errors, as this process words them -----------------------------


def test_a_failing_page_fails_the_extraction_in_the_words_of_this_process(
        api: ApiServer, workers: list[PageWorkers], monkeypatch: pytest.MonkeyPatch) -> None:
    src = offset_source(api, params={"fail_at": 100},
                        retry=ir.RetryPolicy(max_attempts=2, backoff=0.01, max_backoff=0.01))
    by_workers = same_error_here(src, monkeypatch)
    assert "HTTP 500" in by_workers and "after 2 attempts" in by_workers
    assert workers


def test_a_workers_retry_is_logged_here_with_the_key_masked(
        api: ApiServer, workers: list[PageWorkers], auth_env: dict[str, str],
        caplog: pytest.LogCaptureFixture) -> None:
    src = offset_source(api, "api_key_query/offset", params={"fail_at": 100, "fail_times": 1},
                        auth=ir.ApiKeyAuth(name="api_key", value=ir.EnvRef(name="API_KEY"),
                                           location="query"))
    with caplog.at_level(logging.INFO, logger="foundry.api"):
        tables, _ = run(src)
    assert ids(tables) == ALL
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 1
    assert "offset=100" in retries[0].getMessage()
    assert "api_key=***" in retries[0].getMessage()
    assert API_KEY not in caplog.text
    assert "(9 of them by 2 worker processes)" in caplog.text


def test_a_short_page_read_by_a_worker_breaks_the_stop_rule_as_here(
        api: ApiServer, workers: list[PageWorkers], monkeypatch: pytest.MonkeyPatch) -> None:
    src = offset_source(api, "offset_total_short")
    by_workers = same_error_here(src, monkeypatch)
    assert "the server caps the page size" in by_workers
    assert workers


def test_a_page_loop_is_caught_between_this_process_page_and_a_workers(
        api: ApiServer, workers: list[PageWorkers], monkeypatch: pytest.MonkeyPatch) -> None:
    src = source(api.url, "ignores_page", records="results", params={"total_pages": 50},
                 paginate=ir.PagePagination(page_size=10, size_param="size",
                                            total_pages_path="total_pages"))
    by_workers = same_error_here(src, monkeypatch)
    assert "page loop: page 2 holds the same 10 records as page 1" in by_workers
    assert workers


def test_max_pages_reached_by_worker_pages_is_the_same_error(
        api: ApiServer, workers: list[PageWorkers], monkeypatch: pytest.MonkeyPatch) -> None:
    src = offset_source(api, paginate=ir.OffsetPagination(limit=25, total_path="total",
                                                          max_pages=4))
    by_workers = same_error_here(src, monkeypatch)
    assert "max_pages = 4 reached" in by_workers and "set max_pages = 10 or more" in by_workers


# --- the processes ---------------------------------------------------------------------


def test_no_worker_is_left_when_the_extraction_ends(
        api: ApiServer, workers: list[PageWorkers]) -> None:
    run(offset_source(api))
    (started,) = workers
    assert started.pid is not None
    assert gone(started.pid)


def test_a_consumer_that_stops_early_ends_the_workers(
        api: ApiServer, workers: list[PageWorkers]) -> None:
    src = offset_source(api)
    batches = ApiExtractor(src).extract(context(src))
    taken = [next(batches) for _ in range(3)]
    assert workers and workers[0].pid is not None
    batches.close()
    assert [b.num_rows for b in taken] == [25, 25, 25]
    assert gone(workers[0].pid)


def test_a_worker_that_dies_fails_the_extraction_naming_its_page(
        api: ApiServer, workers: list[PageWorkers]) -> None:
    src = offset_source(api, params={"hold_at": 25})  # page 2, the first a worker fetches
    failure: list[BaseException] = []

    def extract() -> None:
        try:
            run(src)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=extract)
    thread.start()
    try:
        assert api.wait_until(lambda: any("held" in r.events for r in api.log), 60)
        assert workers and workers[0].pid is not None
        os.killpg(workers[0].pid, signal.SIGKILL)
    finally:
        api.release.set()
        thread.join(60)
    assert len(failure) == 1 and isinstance(failure[0], ExtractError)
    assert str(failure[0]) == (
        "pipeline fake.things: the worker process fetching page 2 stopped before answering; "
        "nothing of this run was committed and the cursor did not move: run it again")


def test_a_page_sent_to_a_dead_worker_fails_when_the_stop_rules_reach_it(
        api: ApiServer, free_slots: None) -> None:
    src = offset_source(api)
    cancelled = threading.Event()
    started = PageWorkers.start(page_workers.Setup(src, "fake.things", None, logging.INFO),
                                cancelled)
    assert started is not None and started.ready.wait(60) and started.pid is not None
    try:
        os.killpg(started.pid, signal.SIGKILL)
        for _ in range(600):  # a poller's pace: until the kernel has the workers gone
            if set(members(started.pid)) <= {"Z"}:
                break
            time.sleep(0.1)
        sent = started.submit(3, PageRequest(f"{api.url}/offset", {"offset": 75}))
        with pytest.raises(ExtractError) as caught:
            sent.result()
    finally:
        started.close()
    assert "the worker process fetching page 4 stopped before answering" in str(caught.value)


def test_a_script_without_a_main_guard_runs_once(api: ApiServer, tmp_path: Path) -> None:
    # multiprocessing would import the script again in each worker, and run it again
    script = tmp_path / "land.py"
    script.write_text(textwrap.dedent(f"""
        import logging, sys
        sys.path.insert(0, {str(ROOT)!r})
        import foundry_dsl.sources.api as api
        from foundry_dsl import ir
        from tests.fixtures.api_server import run, source
        api.WORKER_PAGES = 0
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        print("script body ran", flush=True)
        src = source({api.url!r}, "offset", records="data", params={{"n": 20000}},
                     paginate=ir.OffsetPagination(limit=10, total_path="total"))
        tables, _ = run(src)
        print("landed", sum(t.num_rows for t in tables), flush=True)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, check=True)
    assert done.stdout.splitlines() == ["script body ran", "landed 20000"]
    assert "of them by 2 worker processes" in done.stderr


def test_workers_of_a_killed_extractor_end_at_their_next_page(
        api: ApiServer, tmp_path: Path) -> None:
    script = tmp_path / "land.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import foundry_dsl.sources.api as api
        from foundry_dsl import ir
        from foundry_dsl.sources.http.page_workers import PageWorkers
        from tests.fixtures.api_server import run, source
        api.WORKER_PAGES = 0
        real = PageWorkers.start.__func__

        def start(cls, setup, cancelled):
            found = real(cls, setup, cancelled)
            assert found.ready.wait(60)
            print(found.pid, flush=True)
            return found

        PageWorkers.start = classmethod(start)
        src = source({api.url!r}, "offset", records="data", params={{"hold_at": 25}},
                     paginate=ir.OffsetPagination(limit=25, total_path="total"))
        run(src)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        group = int(proc.stdout.readline())
        assert api.wait_until(lambda: any("held" in r.events for r in api.log), 60)
        proc.kill()  # the extractor dies between two pages of its workers
        proc.wait(60)
        assert not gone(group)  # its workers are still there, one of them held
    finally:
        api.release.set()  # the held page answers: its worker finds no one to send it to
    # the helper, orphaned, is reaped by whoever adopts it: a zombie may stay
    assert ends_with_at_most_zombies(group)


def test_a_worker_whose_extractor_is_gone_stops_asking_for_pages(api: ApiServer) -> None:
    from multiprocessing.connection import Connection

    from foundry_dsl.sources.http.client import HttpClient
    from foundry_dsl.sources.http.fetch import where_for
    from foundry_dsl.sources.http.pagination import paginator_for

    src = offset_source(api)
    here, there = socket.socketpair()
    conn = Connection(there.detach())
    here.close()  # the extractor's end: gone
    client = HttpClient(src, "p")
    where = where_for(client, "p", "GET")
    setup = page_workers.Setup(src, "p", None, logging.INFO)
    loop = threading.Thread(target=worker_process._answer, daemon=True, args=(
        conn, worker_process._Out(conn), setup, client, where,
        paginator_for(src.paginate, f"{api.url}/offset", {}, where)))
    loop.start()
    loop.join(30)  # bound: a worker that waits for ever fails here instead of hanging
    assert not loop.is_alive()
    client.close()


# --- when workers are used --------------------------------------------------------------


def test_workers_that_cannot_start_leave_every_page_to_this_process(
        api: ApiServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'Traceback (most recent call last):' >&2\n"
                      "echo 'ImportError: no pyarrow here' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(broken))
    monkeypatch.setattr("foundry_dsl.sources.api.WORKER_PAGES", 0)
    settled: list[PageWorkers] = []
    real = PageWorkers.start.__func__  # type: ignore[attr-defined]

    def start(cls: type[PageWorkers], setup: Any, cancelled: threading.Event) -> Any:
        found = real(cls, setup, cancelled)
        assert found is not None and found.settled.wait(60)
        settled.append(found)
        return found

    monkeypatch.setattr(PageWorkers, "start", classmethod(start))
    with caplog.at_level(logging.INFO, logger="foundry.api"):
        tables, _ = run(offset_source(api))
    assert ids(tables) == ALL
    assert not settled[0].ready.is_set()
    assert "250 records in 10 pages from" in caplog.text
    assert ("the page worker processes did not start (ImportError: no pyarrow here); every "
            "page is fetched by this process") in caplog.text
    assert "Traceback" not in caplog.text


def test_a_short_extraction_starts_no_workers(
        api: ApiServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="foundry.api"):
        tables, _ = run(offset_source(api))
    assert ids(tables) == ALL
    assert "250 records in 10 pages from" in caplog.text


@pytest.mark.parametrize("fields", [
    {"rate_limit": 1000.0},  # one token bucket cannot be split between processes
    {"paginate": ir.CursorPagination(cursor_path="next_cursor"), "params": {"size": 25}},
], ids=["rate_limit", "cursor"])
def test_sources_workers_cannot_serve_stay_in_this_process(
        api: ApiServer, workers: list[PageWorkers], fields: dict[str, Any],
        caplog: pytest.LogCaptureFixture) -> None:
    endpoint = "cursor" if "params" in fields else "offset"
    with caplog.at_level(logging.INFO, logger="foundry.api"):
        tables, _ = run(offset_source(api, endpoint, **fields))
    assert ids(tables) == ALL
    assert workers == []
    assert "worker processes" not in caplog.text


def test_oauth2_pages_stay_in_this_process(
        api: ApiServer, workers: list[PageWorkers], auth_env: dict[str, str]) -> None:
    auth = ir.OAuth2Auth(token_url=f"{api.url}/oauth/token",
                         client_id=ir.EnvRef(name="OAUTH_CLIENT_ID"),
                         client_secret=ir.EnvRef(name="OAUTH_CLIENT_SECRET"))
    tables, _ = run(offset_source(api, "oauth2/offset", auth=auth))
    assert ids(tables) == ALL
    assert workers == []
    assert api.token_requests == 1


def _usable_in_a_daemon(src: ir.ApiSource, answer: Any) -> None:
    answer.put(page_workers.usable(src))


def test_a_daemon_process_such_as_a_dask_worker_starts_no_workers(api: ApiServer) -> None:
    src = offset_source(api)
    assert page_workers.usable(src)
    ctx = multiprocessing.get_context("spawn")
    answer = ctx.Queue()
    proc = ctx.Process(target=_usable_in_a_daemon, args=(src, answer), daemon=True)
    proc.start()
    try:
        assert answer.get(timeout=60) is False
    finally:
        proc.join(60)


@pytest.fixture
def free_slots() -> Iterator[None]:
    assert page_workers._slots_used == 0
    yield
    page_workers._slots_used = 0


def test_extractions_running_at_once_share_one_worker_per_cpu(
        free_slots: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page_workers, "_cpus", lambda: 3)
    assert page_workers._take_slots(2) == 2
    assert page_workers._take_slots(2) == 1
    assert page_workers._take_slots(2) == 0
    page_workers._give_slots(2)
    assert page_workers._take_slots(2) == 2
