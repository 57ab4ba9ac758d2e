"""API source: every pagination kind lands every record exactly once, and stops by its rule."""

from __future__ import annotations

import re

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.http.pagination import CursorPaginator, Page, PageRequest
from tests.fixtures.api_server import (
    ApiServer,
    rows,
    run,
    source,
)

ALL = list(range(250))


def ids(src: ir.ApiSource) -> list[int]:
    return [r["id"] for r in rows(src)]


def test_no_pagination_makes_one_request(api: ApiServer) -> None:
    assert ids(source(api.url, "single", records="data")) == ALL
    assert len(api.log) == 1


def test_offset_stops_when_total_is_reached(api: ApiServer) -> None:
    src = source(api.url, "offset", records="data",
                 paginate=ir.OffsetPagination(limit=50, total_path="total"))
    assert ids(src) == ALL
    # the stop rule fires on the page reaching 250; look-ahead requests past it are dropped
    offsets = sorted(int(r.query["offset"]) for r in api.requests_to("offset"))
    assert offsets[:5] == [0, 50, 100, 150, 200]


def test_offset_without_total_stops_on_a_short_page(api: ApiServer) -> None:
    src = source(api.url, "offset", records="data", paginate=ir.OffsetPagination(limit=60))
    assert ids(src) == ALL


def test_offset_without_total_stops_on_an_empty_page(api: ApiServer) -> None:
    src = source(api.url, "offset", records="data", paginate=ir.OffsetPagination(limit=50))
    assert ids(src) == ALL
    assert 250 in {int(r.query["offset"]) for r in api.requests_to("offset")}


def test_offset_start_skips_the_first_records(api: ApiServer) -> None:
    src = source(api.url, "offset", records="data",
                 paginate=ir.OffsetPagination(limit=100, start=200, total_path="total"))
    assert ids(src) == list(range(200, 250))


def test_offset_page_capped_by_the_server_is_an_error_not_a_silent_stop(api: ApiServer) -> None:
    src = source(api.url, "offset", records="data", params={"cap": 40},
                 paginate=ir.OffsetPagination(limit=100, total_path="total"))
    with pytest.raises(ExtractError, match=r"caps the page size; set limit to 40 or less"):
        rows(src)


def test_page_numbers_stop_at_total_pages(api: ApiServer) -> None:
    src = source(api.url, "page", records="results",
                 paginate=ir.PagePagination(page_size=30, total_pages_path="total_pages"))
    assert ids(src) == ALL
    assert sorted(int(r.query["page"]) for r in api.requests_to("page"))[:9] == list(range(1, 10))


def test_page_numbers_without_total_stop_on_a_short_page(api: ApiServer) -> None:
    src = source(api.url, "page", records="results", paginate=ir.PagePagination(page_size=30))
    assert ids(src) == ALL


def test_github_link_header_is_followed_to_the_last_page(api: ApiServer) -> None:
    src = source(api.url, "github", params={"per_page": 30}, paginate=ir.LinkPagination())
    assert ids(src) == ALL
    assert [r.query.get("page") for r in api.requests_to("github")] == [
        None, "2", "3", "4", "5", "6", "7", "8", "9"]


def test_stripe_starting_after_follows_the_last_id_until_has_more_is_false(
        api: ApiServer) -> None:
    src = source(api.url, "stripe", records="$.data[*]", params={"limit": 100},
                 paginate=ir.CursorPagination(cursor_param="starting_after", cursor_field="id",
                                              has_more_path="has_more"))
    assert ids(src) == ALL
    assert [r.query.get("starting_after") for r in api.requests_to("stripe")] == [
        None, "99", "199"]


def test_cursor_token_from_the_body_is_sent_back_until_it_is_empty(api: ApiServer) -> None:
    src = source(api.url, "cursor", records="data", params={"size": 100},
                 paginate=ir.CursorPagination(cursor_path="next_cursor"))
    assert ids(src) == ALL
    sent = [r.query.get("cursor") for r in api.requests_to("cursor")]
    assert len(sent) == 3 and sent[0] is None and all(sent[1:])


def cursor_page(doc: dict[str, object]) -> tuple[CursorPaginator, Page]:
    """A cursor paginator with ``has_more_path = "more"`` and its first page, ``doc``."""
    p = ir.CursorPagination(cursor_path="next_cursor", has_more_path="more")
    pager = CursorPaginator(p, "http://api.test/x", {}, lambda url: f"GET {url}")
    return pager, Page(0, PageRequest("http://api.test/x"), "http://api.test/x", doc,
                       [{"id": 1}], {})


@pytest.mark.parametrize("value", [False, "false", "False", 0])
def test_has_more_false_as_a_boolean_text_or_number_stops(value: object) -> None:
    pager, page = cursor_page({"next_cursor": "x", "more": value})
    assert pager.next(page) is None


@pytest.mark.parametrize("value", [True, "true", 1])
def test_has_more_true_as_a_boolean_text_or_number_goes_on(value: object) -> None:
    pager, page = cursor_page({"next_cursor": "x", "more": value})
    assert pager.next(page) == PageRequest("http://api.test/x", {"cursor": "x"})


@pytest.mark.parametrize("value", ["maybe", None, 2])
def test_has_more_that_is_no_boolean_is_an_error_while_there_is_a_cursor(value: object) -> None:
    pager, page = cursor_page({"next_cursor": "x", "more": value})
    with pytest.raises(ExtractError, match=rf"GET http://api.test/x: page 1: more is "
                       rf"{re.escape(repr(value))}, not true or false; fix has_more_path"):
        pager.next(page)


def test_cursor_token_from_a_response_header(api: ApiServer) -> None:
    src = source(api.url, "cursor_header", params={"size": 100},
                 paginate=ir.CursorPagination(cursor_header="X-Next-Cursor"))
    assert ids(src) == ALL
    assert len(api.requests_to("cursor_header")) == 3


def test_next_url_in_the_body_absolute(api: ApiServer) -> None:
    src = source(api.url, "next", records="items", params={"size": 100},
                 paginate=ir.NextUrlPagination(next_url_path="next"))
    assert ids(src) == ALL
    assert [r.query.get("from") for r in api.requests_to("next")] == [None, "100", "200"]


def test_next_url_in_the_body_relative_is_resolved_against_the_page(api: ApiServer) -> None:
    src = source(api.url, "next", records="items", params={"size": 100, "relative": 1},
                 paginate=ir.NextUrlPagination(next_url_path="next"))
    assert ids(src) == ALL


def test_max_pages_reached_with_pages_left_is_an_error(api: ApiServer) -> None:
    src = source(api.url, "github", params={"per_page": 30},
                 paginate=ir.LinkPagination(max_pages=3))
    with pytest.raises(ExtractError, match=r"max_pages = 3 reached but the API has more pages; "
                       r"nothing of this run was committed: raise max_pages "
                       r"\(e\.g\. max_pages = 30\) and run again"):
        rows(src)


def test_max_pages_is_an_error_for_look_ahead_pagination_too(api: ApiServer) -> None:
    src = source(api.url, "offset", records="data",
                 paginate=ir.OffsetPagination(limit=50, total_path="total", max_pages=2))
    with pytest.raises(ExtractError, match=r"max_pages = 2 reached .*the API says it has 5 "
                       r"pages: set max_pages = 5 or more"):
        rows(src)
    assert {int(r.query["offset"]) for r in api.requests_to("offset")} == {0, 50}


def test_max_pages_by_total_pages_says_what_to_raise_it_to(api: ApiServer) -> None:
    src = source(api.url, "page", records="results",
                 paginate=ir.PagePagination(page_size=30, total_pages_path="total_pages",
                                            max_pages=4))
    with pytest.raises(ExtractError, match=r"it has 9 pages: set max_pages = 9 or more"):
        rows(src)


@pytest.mark.parametrize("model", [ir.OffsetPagination, ir.PagePagination, ir.LinkPagination])
def test_max_pages_has_a_default_high_enough_for_real_apis(
        model: type[ir.OffsetPagination | ir.PagePagination | ir.LinkPagination]) -> None:
    assert model().max_pages == ir.MAX_PAGES == 100_000


def test_max_pages_exactly_enough_is_fine(api: ApiServer) -> None:
    src = source(api.url, "github", params={"per_page": 50},
                 paginate=ir.LinkPagination(max_pages=5))
    assert ids(src) == ALL


def test_the_same_cursor_twice_is_a_page_loop(api: ApiServer) -> None:
    src = source(api.url, "loop_cursor", records="data",
                 paginate=ir.CursorPagination(cursor_path="next_cursor"))
    with pytest.raises(ExtractError, match=r"page loop: the server sent cursor 'same-every-time'"):
        rows(src)
    assert len(api.requests_to("loop_cursor")) == 2


def test_a_link_back_to_a_page_already_read_is_a_page_loop(api: ApiServer) -> None:
    src = source(api.url, "loop_link", paginate=ir.LinkPagination())
    with pytest.raises(ExtractError, match=r"page loop: the next page is a page already read"):
        rows(src)
    assert len(api.requests_to("loop_link")) == 3


def test_batches_arrive_one_per_page_in_page_order(api: ApiServer) -> None:
    src = source(api.url, "offset", records="data",
                 paginate=ir.OffsetPagination(limit=100, total_path="total"))
    tables, cursor = run(src)
    assert [t.num_rows for t in tables] == [100, 100, 50]
    assert cursor is None


def test_slow_pages_are_fetched_in_parallel(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # every page counts as slow, however fast this machine answers: the window opens on
    # the rule, not on a clock; the 100 ms answers keep the requests in flight together
    monkeypatch.setattr("foundry_dsl.sources.api.SLOW_PAGE", -1.0)
    api.inject(1.0, kinds=("slow",), slow=0.1)
    src = source(api.url, "offset", records="data",
                 paginate=ir.OffsetPagination(limit=25, total_path="total"))
    assert ids(src) == ALL
    # by the server's order of events, not a clock: one page at a time never sends a
    # request before the one before it is answered
    assert max(r.busy for r in api.log) >= 1


def test_one_page_at_a_time_shows_no_overlap_in_the_server_log(api: ApiServer) -> None:
    # the instrument of the test above: cursor pagination fetches strictly in turn
    api.inject(1.0, kinds=("slow",), slow=0.05)
    src = source(api.url, "cursor", records="data", params={"size": 50},
                 paginate=ir.CursorPagination(cursor_path="next_cursor"))
    assert ids(src) == ALL
    assert len(api.log) == 5
    assert [r.busy for r in api.log] == [0] * 5


def test_fast_pages_are_fetched_one_at_a_time(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # every page counts as fast, however slowly a loaded machine answers (a page over
    # SLOW_PAGE seconds would open the window and fetch past the end)
    monkeypatch.setattr("foundry_dsl.sources.api.SLOW_PAGE", float("inf"))
    src = source(api.url, "offset", records="data",
                 paginate=ir.OffsetPagination(limit=25, total_path="total"))
    assert ids(src) == ALL
    # no request past the end: nothing was fetched ahead of the stop rule
    assert [int(r.query["offset"]) for r in api.log] == list(range(0, 250, 25))
