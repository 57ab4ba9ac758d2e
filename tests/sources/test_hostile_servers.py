"""Hostile API servers: every one ends the run within its limits with a clear error.

`foundry apply` runs as a subprocess against the loopback API server
(tests/fixtures/api_server.py). A server that ignores the paging parameter,
loses pages in the middle, sends short pages before its stated total or says
``has_more`` without a cursor must fail the run with exit code 1, an error that
names the pipeline, the URL, the page and what to do, and nothing committed: no
``_metadata.json``, or the previous commit as it was. The server's request log
shows where each run stopped.

Each case also runs in process (no subprocess), to pin the stop by its page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.api import LOOKAHEAD
from tests.e2e.helpers import foundry
from tests.fixtures.api_server import ApiServer, rows, source

DATE = "2024-01-02"
PARTITION = f"out/system=fake/table=items/dt={DATE}"
MAX_PAGES = 100  # far more than any case needs: the runs must stop long before it
RUN_TIMEOUT = 60  # seconds: a run that loops is killed (and the test fails) here


@dataclass(frozen=True)
class Case:
    endpoint: str
    paginate: str  # the body of the paginate block, max_pages excluded
    error: str  # a regex the run's output must match
    records: str = "results"
    params: str = ""
    sequential: bool = False  # one request at a time: the count is exact
    stop_at: int = 2  # the run must stop at this request (page) of the run


IGNORES_PAGE = {
    "page": Case(
        "/ignores_page", "page {\n      page_size = 50",
        r"ignores_page\?page=2&page_size=50: page loop: page 2 holds the same 50 records as "
        r"page 1: the server ignores page=2; check page_param",
    ),
    "offset": Case(
        "/ignores_page", "offset {\n      limit = 50",
        r"ignores_page\?offset=50&limit=50: page loop: page 2 holds the same 50 records as "
        r"page 1: the server ignores offset=50; check offset_param",
    ),
    "cursor": Case(
        "/ignores_page", 'cursor {\n      cursor_path = "next_cursor"',
        r"ignores_page\?cursor=c100: page loop: page 2 holds the same 100 records as page 1: "
        r"the server ignores cursor; check cursor_param",
        sequential=True,
    ),
    "link": Case(
        "/ignores_page", "link {",
        r"ignores_page\?from=100: page loop: page 2 holds the same 100 records as page 1: "
        r"the server ignores the paging query of the next URL",
        sequential=True,
    ),
    "next_url": Case(
        "/ignores_page", 'next_url {\n      next_url_path = "next"',
        r"ignores_page\?from=100: page loop: page 2 holds the same 100 records as page 1",
        sequential=True,
    ),
}

LOST_PAGES = {
    "empty_middle": Case(
        "/empty_middle", 'page {\n      page_size = 50\n      total_pages_path = "total_pages"',
        r"empty_middle\?page=2&page_size=50: page 2 is empty but total_pages says 4 pages: "
        r"stopping here would lose pages 2 to 4",
    ),
    "null_middle": Case(
        "/empty_middle", 'page {\n      page_size = 50\n      total_pages_path = "total_pages"',
        r"empty_middle\?null=1&page=2&page_size=50: page 2 is empty but total_pages says 4",
        params="null = 1",
    ),
    "short_middle": Case(
        "/short_middle", 'page {\n      page_size = 50\n      total_pages_path = "total_pages"',
        r"short_middle\?page=2&page_size=50: page 2 holds 25 records for page_size=50 but "
        r"total_pages says 4 pages: the server caps the page size; set page_size to 25",
    ),
    "offset_total_short": Case(
        "/offset_total_short", 'offset {\n      limit = 50\n      total_path = "total"',
        r"offset_total_short\?offset=50&limit=50: the page holds 25 records for limit=50 but "
        r"total says 250 and only 75 are read",
        records="data",
    ),
    "offset_total_empty": Case(
        "/offset_total_short", 'offset {\n      limit = 50\n      total_path = "total"',
        r"offset_total_short\?empty=1&offset=50&limit=50: the page at offset=50 is empty but "
        r"total says 250 records and only 50 are read",
        records="data", params="empty = 1",
    ),
    "has_more_no_cursor": Case(
        "/has_more_no_cursor",
        'cursor {\n      cursor_path = "next_cursor"\n      has_more_path = "has_more"',
        r"has_more_no_cursor\?cursor=p2: page 2: has_more is true but there is no next cursor "
        r"\(cursor_path next_cursor\)",
        records="data", sequential=True,
    ),
}

CASES = {**{f"ignores_page_{k}": v for k, v in IGNORES_PAGE.items()}, **LOST_PAGES}


def write_pipeline(folder: Path, api: ApiServer, case: Case, *, endpoint: str | None = None,
                   paginate: str | None = None, records: str | None = None,
                   params: str | None = None) -> None:
    (folder / "pipeline.bronze").write_text(f"""platform lake {{
  storage local {{
    path = "out"
  }}
  partition = date
  formats = [parquet]
}}

pipeline fake.items {{
  platform = lake
  source api {{
    base_url = "{api.url}"
    endpoint = "{endpoint or case.endpoint}"
    params {{
      {case.params if params is None else params}
    }}
    records = "{records or case.records}"
    paginate {paginate or case.paginate}
      max_pages = {MAX_PAGES}
    }}
    timeout = 5
    retry {{
      max_attempts = 2
      backoff = 0.01
      max_backoff = 0.05
    }}
  }}
}}
""")


def apply(folder: Path) -> Any:
    return foundry(folder, "apply", "pipeline.bronze", "--date", DATE, timeout=RUN_TIMEOUT)


def committed(folder: Path) -> tuple[dict[str, Any] | None, list[int]]:
    """The partition's commit marker and the ids of its landed rows."""
    import pyarrow.parquet as pq

    part = folder / PARTITION
    marker = part / "_metadata.json"
    meta = json.loads(marker.read_text()) if marker.exists() else None
    ids = [r["id"] for f in sorted(part.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    return meta, sorted(ids)


def requests_of(api: ApiServer, endpoint: str) -> list[dict[str, str]]:
    return [r.query for r in api.requests_to(endpoint.strip("/"))]


def assert_stopped_at(api: ApiServer, case: Case) -> None:
    """The run stopped at the page that gave it away: exactly there for kinds that fetch
    one page at a time; offset/page may have fetched a window of pages ahead (dropped
    unread), never more, and nowhere near max_pages."""
    sent = requests_of(api, case.endpoint)
    if case.sequential:
        assert len(sent) == case.stop_at, sent
    else:
        assert case.stop_at <= len(sent) <= case.stop_at - 1 + LOOKAHEAD, sent
    assert len(sent) < MAX_PAGES


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_server_fails_the_run_and_commits_nothing(
        tmp_path: Path, api: ApiServer, name: str) -> None:
    case = CASES[name]
    write_pipeline(tmp_path, api, case)
    out = apply(tmp_path)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "pipeline fake.items: task extract[0] failed: GET http://127.0.0.1:" in text
    assert re.search(case.error, text), text
    assert_stopped_at(api, case)
    assert committed(tmp_path) == (None, [])


@pytest.mark.parametrize("name", ["ignores_page_page", "empty_middle", "has_more_no_cursor"])
def test_a_hostile_server_leaves_the_previous_commit_as_it_was(
        tmp_path: Path, api: ApiServer, name: str) -> None:
    case = CASES[name]
    # the same pipeline and date, first against a well-behaved route
    write_pipeline(tmp_path, api, case, endpoint="/page", records="results", params="n = 120",
                   paginate='page {\n      page_size = 50\n      total_pages_path = "total_pages"')
    first = apply(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    before = committed(tmp_path)
    assert before[0] is not None and before[1] == list(range(120))

    api.reset()
    write_pipeline(tmp_path, api, case)
    out = apply(tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert re.search(case.error, out.stdout + out.stderr)
    assert_stopped_at(api, case)
    assert committed(tmp_path) == before


# --- in process: the same servers, the stop pinned to the page ---------------------------

# max_pages well above the 2 pages each case takes, well below the default: without the
# loop check, the run fails on max_pages within seconds instead of looping for an hour
PAGINATIONS: dict[str, ir.Pagination] = {
    "page": ir.PagePagination(page_size=50, max_pages=MAX_PAGES),
    "offset": ir.OffsetPagination(limit=50, max_pages=MAX_PAGES),
    "cursor": ir.CursorPagination(cursor_path="next_cursor", max_pages=MAX_PAGES),
    "link": ir.LinkPagination(max_pages=MAX_PAGES),
    "next_url": ir.NextUrlPagination(next_url_path="next", max_pages=MAX_PAGES),
}


@pytest.mark.parametrize("kind", PAGINATIONS)
def test_the_same_page_twice_is_a_page_loop_for_every_kind(api: ApiServer, kind: str) -> None:
    src = source(api.url, "ignores_page", records="results", paginate=PAGINATIONS[kind])
    with pytest.raises(ExtractError, match=r"pipeline fake\.things: GET http://127\.0\.0\.1:\d+/"
                       r"ignores_page\?\S+: page loop: page 2 holds the same \d+ records as "
                       r"page 1: the server ignores .*Stopping rather than reading the same page again"):
        rows(src)
    sent = requests_of(api, "ignores_page")
    assert 2 <= len(sent) <= 1 + LOOKAHEAD


def test_the_repeat_is_found_even_when_the_stop_rule_would_end_on_it(api: ApiServer) -> None:
    # total_pages 2 would end the run after page 2, which is page 1 again: landed twice
    src = source(api.url, "ignores_page", records="results", params={"total_pages": 2},
                 paginate=ir.PagePagination(page_size=50, total_pages_path="total_pages"))
    with pytest.raises(ExtractError, match=r"page loop: page 2 holds the same 50 records"):
        rows(src)


def test_empty_pages_in_a_row_are_no_page_loop_and_max_pages_ends_them(api: ApiServer) -> None:
    # an empty page with a fresh cursor each time: nothing repeats, max_pages is the limit
    src = source(api.url, "ignores_page", records="results", params={"n": 0},
                 paginate=ir.CursorPagination(cursor_path="next_cursor", max_pages=5))
    with pytest.raises(ExtractError, match=r"max_pages = 5 reached but the API has more pages; "
                       r"nothing of this run was committed: raise max_pages "
                       r"\(e\.g\. max_pages = 50\)"):
        rows(src)
    assert len(api.requests_to("ignores_page")) == 5


@pytest.mark.parametrize("null", [False, True])
def test_an_empty_page_before_total_pages_is_an_error(api: ApiServer, null: bool) -> None:
    src = source(api.url, "empty_middle", records="results", params={"null": 1} if null else {},
                 paginate=ir.PagePagination(page_size=50, total_pages_path="total_pages"))
    with pytest.raises(ExtractError, match=r"page 2 is empty but total_pages says 4 pages"):
        rows(src)


def test_an_empty_page_before_the_offset_total_is_an_error(api: ApiServer) -> None:
    src = source(api.url, "offset_total_short", records="data", params={"empty": 1},
                 paginate=ir.OffsetPagination(limit=50, total_path="total"))
    with pytest.raises(ExtractError, match=r"offset=50 is empty but total says 250 records"):
        rows(src)


def test_an_empty_page_at_the_offset_total_is_the_end(api: ApiServer) -> None:
    src = source(api.url, "offset", records="data",
                 paginate=ir.OffsetPagination(limit=50, start=250, total_path="total"))
    assert rows(src) == []
    assert len(api.requests_to("offset")) == 1


def test_has_more_true_without_a_cursor_is_an_error(api: ApiServer) -> None:
    src = source(api.url, "has_more_no_cursor", records="data",
                 paginate=ir.CursorPagination(cursor_path="next_cursor", has_more_path="has_more"))
    with pytest.raises(ExtractError, match=r"has_more is true but there is no next cursor"):
        rows(src)
    assert len(api.requests_to("has_more_no_cursor")) == 2


def test_a_has_more_path_that_finds_nothing_is_an_error_while_there_is_a_cursor(
        api: ApiServer) -> None:
    src = source(api.url, "cursor", records="data",
                 paginate=ir.CursorPagination(cursor_path="next_cursor",
                                              has_more_path="hasMore"))
    with pytest.raises(ExtractError, match=r"page 1: hasMore is None, not true or false"):
        rows(src)
