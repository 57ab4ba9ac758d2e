"""Pagination stop rules, page by page, without a server: each paginator is handed the
pages a server would send and must ask for exactly the next one, stop, or fail with the
exact message (scripts/mutate pagination). The same rules against a real server are in
test_api_pagination.py and test_hostile_servers.py."""

from __future__ import annotations

from typing import Any

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.http.pagination import (
    CursorPaginator,
    LinkPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    Page,
    PagePaginator,
    PageRequest,
    Paginator,
    known_ahead,
    paginator_for,
)

URL = "http://api.test/items"
BASE = {"q": "x"}


def where(url: str) -> str:
    return f"GET {url}"


def page(index: int, records: int | list[dict[str, Any]], doc: Any = None, *,
         url: str = URL, headers: dict[str, str] | None = None, first_id: int = 0) -> Page:
    rows = records if isinstance(records, list) else [
        {"id": first_id + i} for i in range(records)]
    return Page(index, PageRequest(url), url, doc if doc is not None else {}, rows, headers or {})


def fails(pager: Paginator, p: Page) -> str:
    with pytest.raises(ExtractError) as info:
        pager.next(p)
    return info.value.message


# --- none ------------------------------------------------------------------------------


def test_no_pagination_asks_once_with_the_base_params_and_stops() -> None:
    pager = paginator_for(ir.NoPagination(), URL, BASE, where)
    assert type(pager) is Paginator
    assert pager.first() == PageRequest(URL, BASE)
    assert pager.next(page(0, 10)) is None
    assert pager.pages_needed() is None


def test_the_base_paginator_names_the_paging_parameter_in_a_page_loop() -> None:
    pager = paginator_for(ir.NoPagination(), URL, BASE, where)
    pager.next(page(0, 2))
    assert fails(pager, page(1, 2)) == (
        f"GET {URL}: page loop: page 2 holds the same 2 records as page 1: the server "
        "ignores the paging parameter. Stopping rather than reading the same page again"
    )


def test_an_unindexed_paginator_cannot_say_a_request_ahead() -> None:
    with pytest.raises(TypeError, match=r"^CursorPaginator learns each next request from the page$"):
        CursorPaginator(ir.CursorPagination(cursor_path="c"), URL, {}, where).request_at(1)


# --- offset ----------------------------------------------------------------------------


def offset(**kw: Any) -> OffsetPaginator:
    return OffsetPaginator(ir.OffsetPagination(limit=50, **kw), URL, BASE, where)


def test_offset_requests_are_start_plus_index_times_limit() -> None:
    pager = offset(start=10, offset_param="skip", limit_param="take")
    assert pager.first() == PageRequest(URL, {"q": "x", "skip": 10, "take": 50})
    assert pager.request_at(3) == PageRequest(URL, {"q": "x", "skip": 160, "take": 50})


def test_offset_without_total_goes_on_after_a_full_page() -> None:
    assert offset().next(page(0, 50)) == PageRequest(URL, {"q": "x", "offset": 50, "limit": 50})


def test_offset_without_total_stops_on_a_short_or_empty_page() -> None:
    assert offset().next(page(0, 49)) is None
    assert offset().next(page(0, 0)) is None


def test_offset_with_total_goes_on_until_the_total_is_reached() -> None:
    pager = offset(total_path="meta.total")
    assert pager.next(page(0, 50, {"meta": {"total": 120}})) == pager.request_at(1)
    assert pager.next(page(1, 50, {"meta": {"total": 120}}, first_id=50)) == pager.request_at(2)
    assert pager.next(page(2, 20, {"meta": {"total": 120}}, first_id=100)) is None


def test_offset_with_total_stops_on_a_full_page_that_reaches_it() -> None:
    assert offset(total_path="total").next(page(1, 50, {"total": 100})) is None


def test_offset_pages_needed_counts_from_the_start() -> None:
    pager = offset(start=50, total_path="total")
    assert pager.pages_needed() is None
    pager.next(page(0, 50, {"total": 120}))
    assert pager.pages_needed() == 2  # 70 records after the start, 50 a page


def test_offset_pages_of_one_record_go_on_to_the_total() -> None:
    pager = OffsetPaginator(ir.OffsetPagination(limit=1, total_path="total"), URL, {}, where)
    assert pager.next(page(0, 1, {"total": 3})) == pager.request_at(1)


def test_offset_pages_needed_is_at_least_one() -> None:
    pager = offset(start=20, total_path="total")
    pager.next(page(0, 0, {"total": 20}))
    assert pager.pages_needed() == 1


def test_offset_total_is_the_largest_any_page_stated() -> None:
    pager = offset(total_path="total")
    pager.next(page(0, 50, {"total": 300}))
    pager.next(page(1, 50, {"total": 200}, first_id=50))
    assert pager.total == 300
    assert pager.pages_needed() == 6


def test_offset_empty_page_before_the_total_is_an_error() -> None:
    pager = offset(start=10, total_path="total")
    assert fails(pager, page(2, 0, {"total": 500})) == (
        f"GET {URL}: the page at offset=110 is empty but total says 500 records and only "
        "100 are read: stopping here would lose the rest. Run again (the API may have "
        "changed during the extraction), or drop total_path if the API's total is unreliable"
    )


def test_offset_empty_page_at_the_total_is_the_end() -> None:
    assert offset(total_path="total").next(page(2, 0, {"total": 100})) is None


def test_offset_empty_first_page_without_a_total_is_the_end() -> None:
    assert offset(total_path="total").next(page(0, 0, {"total": None})) is None


def test_offset_empty_page_after_a_stated_total_keeps_that_total() -> None:
    pager = offset(total_path="total")
    pager.next(page(0, 50, {"total": 150}))
    assert "is empty but total says 150 records" in fails(pager, page(1, 0, {}))


def test_offset_short_page_before_the_total_is_an_error() -> None:
    pager = offset(total_path="total", limit_param="size")
    assert fails(pager, page(1, 30, {"total": 200}, first_id=50)) == (
        f"GET {URL}: the page holds 30 records for size=50 but total says 200 and only "
        "80 are read: the server caps the page size; set limit to 30 or less"
    )


def test_offset_ignoring_the_offset_is_named_in_the_page_loop_error() -> None:
    pager = offset(start=5)
    pager.next(page(0, 50))
    assert fails(pager, page(1, 50)) == (
        f"GET {URL}: page loop: page 2 holds the same 50 records as page 1: the server "
        "ignores offset=55; check offset_param and limit_param against the API's "
        "documentation. Stopping rather than reading the same page again"
    )


@pytest.mark.parametrize("total", [True, [3], {"n": 3}])
def test_a_total_that_is_no_number_is_an_error(total: object) -> None:
    assert fails(offset(total_path="total"), page(0, 50, {"total": total})) == (
        f"GET {URL}: total is {total!r}, not a number; fix the pagination path"
    )


def test_a_total_that_is_text_of_no_number_is_an_error() -> None:
    assert fails(offset(total_path="total"), page(0, 50, {"total": "many"})) == (
        f"GET {URL}: total is 'many', not a number"
    )


@pytest.mark.parametrize("total", ["120", 120.0])
def test_a_total_as_text_or_float_counts(total: object) -> None:
    pager = offset(total_path="total")
    assert pager.next(page(0, 50, {"total": total})) == pager.request_at(1)
    assert pager.total == 120


def test_a_missing_total_on_a_full_page_is_an_error() -> None:
    assert fails(offset(total_path="total"), page(0, 50, {})) == (
        f"GET {URL}: total is None, not a number; fix the pagination path"
    )


# --- page ------------------------------------------------------------------------------


def numbered(**kw: Any) -> PagePaginator:
    return PagePaginator(ir.PagePagination(page_size=50, **kw), URL, BASE, where)


def test_page_requests_count_from_the_start_page_and_send_the_size() -> None:
    pager = numbered(start_page=0, page_param="p", size_param="per")
    assert pager.first() == PageRequest(URL, {"q": "x", "p": 0, "per": 50})
    assert pager.request_at(2) == PageRequest(URL, {"q": "x", "p": 2, "per": 50})


def test_page_without_a_size_param_sends_no_size() -> None:
    assert numbered(size_param=None).request_at(1) == PageRequest(URL, {"q": "x", "page": 2})


def test_page_without_a_size_param_goes_on_after_a_page_of_any_length() -> None:
    pager = numbered(size_param=None)
    assert pager.next(page(0, 7)) == pager.request_at(1)
    assert pager.next(page(1, 0)) is None


def test_page_without_total_stops_on_a_short_or_empty_page() -> None:
    assert numbered().next(page(0, 49)) is None
    assert numbered().next(page(0, 0)) is None
    assert numbered().next(page(0, 50)) == numbered().request_at(1)


def test_page_with_total_pages_stops_on_the_last_page_only() -> None:
    pager = numbered(total_pages_path="pages")
    assert pager.next(page(0, 50, {"pages": 2})) == pager.request_at(1)
    assert pager.next(page(1, 50, {"pages": 2}, first_id=50)) is None
    assert pager.pages_needed() == 2


def test_page_count_is_the_largest_any_page_stated() -> None:
    pager = numbered(total_pages_path="pages")
    pager.next(page(0, 50, {"pages": 4}))
    pager.next(page(1, 50, {"pages": 3}, first_id=50))
    assert pager.pages_needed() == 4


def test_page_number_in_messages_counts_from_the_start_page() -> None:
    pager = numbered(start_page=0)
    assert pager.number(page(3, 1)) == 3
    assert numbered().number(page(3, 1)) == 4


def test_page_empty_before_the_last_page_is_an_error() -> None:
    pager = numbered(total_pages_path="pages")
    assert fails(pager, page(1, 0, {"pages": 4})) == (
        f"GET {URL}: page 2 is empty but pages says 4 pages: stopping here would lose pages "
        "2 to 4. Run again (the API may have changed during the extraction), or drop "
        "total_pages_path if the API's page count is unreliable"
    )


def test_page_empty_next_to_last_page_is_an_error() -> None:
    pager = numbered(total_pages_path="pages")
    assert "page 3 is empty but pages says 4 pages: stopping here would lose pages 3 to 4" in (
        fails(pager, page(2, 0, {"pages": 4})))


def test_page_empty_page_after_a_stated_count_keeps_that_count() -> None:
    pager = numbered(total_pages_path="pages")
    pager.next(page(0, 50, {"pages": 4}))
    assert "page 2 is empty but pages says 4 pages" in fails(pager, page(1, 0, {}))


def test_page_of_one_record_goes_on_when_no_size_is_sent() -> None:
    pager = numbered(total_pages_path="pages", size_param=None)
    assert pager.next(page(0, 1, {"pages": 4})) == pager.request_at(1)


def test_page_of_one_record_before_the_last_page_is_short() -> None:
    message = fails(numbered(total_pages_path="pages"), page(0, 1, {"pages": 4}))
    assert "page 1 holds 1 records for page_size=50 but pages says 4 pages" in message


def test_a_page_count_that_is_no_number_is_an_error() -> None:
    assert fails(numbered(total_pages_path="meta.pages"), page(0, 50, {"meta": {"pages": "x"}})) == (
        f"GET {URL}: meta.pages is 'x', not a number"
    )


def test_page_without_a_page_size_sends_no_size() -> None:
    pager = PagePaginator(ir.PagePagination(page_size=None), URL, BASE, where)
    assert pager.request_at(0) == PageRequest(URL, {"q": "x", "page": 1})


def test_page_empty_first_page_stating_no_count_is_the_end() -> None:
    assert numbered(total_pages_path="pages").next(page(0, 0, {})) is None


def test_page_empty_last_page_is_the_end() -> None:
    assert numbered(total_pages_path="pages").next(page(3, 0, {"pages": 4})) is None


def test_page_short_before_the_last_page_is_an_error() -> None:
    pager = numbered(total_pages_path="pages", size_param="per")
    assert fails(pager, page(1, 25, {"pages": 4}, first_id=50)) == (
        f"GET {URL}: page 2 holds 25 records for per=50 but pages says 4 pages: the server "
        "caps the page size; set page_size to 25 or less"
    )


def test_page_short_last_page_is_the_end() -> None:
    assert numbered(total_pages_path="pages").next(page(3, 25, {"pages": 4})) is None


def test_page_ignoring_the_page_number_is_named_in_the_page_loop_error() -> None:
    pager = numbered()
    pager.next(page(0, 50))
    assert fails(pager, page(1, 50)) == (
        f"GET {URL}: page loop: page 2 holds the same 50 records as page 1: the server "
        "ignores page=2; check page_param (and size_param) against the API's documentation. "
        "Stopping rather than reading the same page again"
    )


# --- cursor ----------------------------------------------------------------------------


def cursor(**kw: Any) -> CursorPaginator:
    return CursorPaginator(ir.CursorPagination(**kw), URL, BASE, where)


def test_cursor_from_the_body_is_sent_back_with_the_base_params() -> None:
    pager = cursor(cursor_path="next", cursor_param="after")
    assert pager.first() == PageRequest(URL, BASE)
    assert pager.next(page(0, 3, {"next": "abc"})) == PageRequest(URL, {"q": "x", "after": "abc"})


def test_a_number_cursor_is_sent_as_text() -> None:
    assert cursor(cursor_path="next").next(page(0, 3, {"next": 7})) == PageRequest(
        URL, {"q": "x", "cursor": "7"})


def test_cursor_from_a_header() -> None:
    pager = cursor(cursor_header="X-Next")
    assert pager.next(page(0, 3, headers={"X-Next": "h1"})) == PageRequest(
        URL, {"q": "x", "cursor": "h1"})
    assert cursor(cursor_header="X-Next").next(page(0, 3)) is None


def test_cursor_from_the_last_records_field() -> None:
    pager = cursor(cursor_field="id", cursor_param="starting_after")
    assert pager.next(page(0, 3, first_id=10)) == PageRequest(
        URL, {"q": "x", "starting_after": "12"})


def test_cursor_field_on_an_empty_page_stops() -> None:
    assert cursor(cursor_field="id").next(page(0, 0)) is None


@pytest.mark.parametrize("doc", [{}, {"next": None}, {"next": ""}])
def test_an_absent_or_empty_cursor_stops(doc: dict[str, Any]) -> None:
    assert cursor(cursor_path="next").next(page(0, 3, doc)) is None


def test_has_more_false_stops_even_with_a_cursor() -> None:
    assert cursor(cursor_path="next", has_more_path="more").next(
        page(0, 3, {"next": "c", "more": False})) is None


@pytest.mark.parametrize("value", [" TRUE ", "true"])
def test_has_more_as_text_is_trimmed_and_case_blind(value: str) -> None:
    pager = cursor(cursor_path="next", has_more_path="more")
    assert pager.next(page(0, 3, {"next": "c", "more": value})) == PageRequest(
        URL, {"q": "x", "cursor": "c"})


def test_has_more_text_false_stops() -> None:
    assert cursor(cursor_path="next", has_more_path="more").next(
        page(0, 3, {"next": "c", "more": " False"})) is None


def test_has_more_missing_without_a_cursor_stops() -> None:
    assert cursor(cursor_path="next", has_more_path="more").next(page(0, 3, {})) is None


@pytest.mark.parametrize("value", [2, -1, "yes", 1.0])
def test_has_more_not_a_boolean_without_a_cursor_is_still_an_error(value: object) -> None:
    message = fails(cursor(cursor_path="next", has_more_path="more"), page(0, 3, {"more": value}))
    assert message == (
        f"GET {URL}: page 1: more is {value!r}, not true or false; fix has_more_path "
        "(or remove it)"
    )


@pytest.mark.parametrize(
    ("kw", "source"),
    [
        ({"cursor_path": "next"}, "cursor_path next"),
        ({"cursor_header": "X-Next"}, "header X-Next"),
        ({"cursor_field": "id"}, "cursor_field id"),
    ],
)
def test_has_more_true_without_a_cursor_is_an_error_naming_the_source(
        kw: dict[str, str], source: str) -> None:
    pager = cursor(has_more_path="more", **kw)
    assert fails(pager, page(1, 0, {"more": True})) == (
        f"GET {URL}: page 2: more is true but there is no next cursor ({source}), so the "
        "rest cannot be read; check cursor_path, cursor_header or cursor_field against the "
        "API's documentation"
    )


def test_the_same_cursor_twice_is_a_page_loop() -> None:
    pager = cursor(cursor_path="next")
    pager.next(page(0, 3, {"next": "c1"}))
    pager.next(page(1, 3, {"next": "c2"}, first_id=3))
    assert fails(pager, page(2, 3, {"next": "c1"}, first_id=6)) == (
        f"GET {URL}: page loop: the server sent cursor 'c1' twice (cursor_path next); "
        "stopping rather than reading pages again"
    )


def test_cursor_ignoring_the_cursor_is_named_in_the_page_loop_error() -> None:
    pager = cursor(cursor_path="next", cursor_param="after")
    pager.next(page(0, 3, {"next": "c1"}))
    assert fails(pager, page(1, 3, {"next": "c2"})) == (
        f"GET {URL}: page loop: page 2 holds the same 3 records as page 1: the server "
        "ignores after; check cursor_param against the API's documentation. Stopping "
        "rather than reading the same page again"
    )


def test_pages_with_different_records_are_no_loop() -> None:
    pager = cursor(cursor_path="next")
    pager.next(page(0, 3, {"next": "c1"}))
    assert pager.next(page(1, 3, {"next": "c2"}, first_id=1)) is not None


def test_empty_pages_in_a_row_are_no_loop() -> None:
    pager = cursor(cursor_path="next")
    pager.next(page(0, 0, {"next": "c1"}))
    assert pager.next(page(1, 0, {"next": "c2"})) == PageRequest(URL, {"q": "x", "cursor": "c2"})


# --- link and next_url -----------------------------------------------------------------


def link(rel: str = "next") -> LinkPaginator:
    return LinkPaginator(ir.LinkPagination(rel=rel), URL, BASE, where)


def test_link_follows_the_next_rel_with_no_params_added() -> None:
    header = f'<{URL}?page=1>; rel="prev", <{URL}?page=3>; rel="next last"'
    assert link().next(page(1, 3, headers={"Link": header})) == PageRequest(f"{URL}?page=3", {})


def test_link_with_another_rel_name() -> None:
    header = f'<{URL}?page=3>; rel="next", <{URL}?page=9>; rel="forward"'
    assert link("forward").next(page(0, 3, headers={"Link": header})) == PageRequest(
        f"{URL}?page=9", {})


def test_link_without_the_rel_or_the_header_stops() -> None:
    assert link().next(page(0, 3, headers={"Link": f'<{URL}?page=1>; rel="prev"'})) is None
    assert link().next(page(0, 3, headers={"Link": ""})) is None
    assert link().next(page(0, 3)) is None


def test_a_relative_next_is_resolved_against_the_page_url() -> None:
    header = '<items?page=2>; rel="next"'
    assert link().next(page(0, 3, headers={"Link": header})) == PageRequest(
        "http://api.test/items?page=2", {})


def test_a_link_to_the_page_itself_is_a_page_loop() -> None:
    assert fails(link(), page(0, 3, headers={"Link": f'<{URL}>; rel="next"'})) == (
        f"GET {URL}: page loop: the next page is a page already read; stopping rather "
        "than reading pages again"
    )


def test_a_link_back_to_an_earlier_page_is_a_page_loop() -> None:
    pager = link()
    second = f"{URL}?page=2"
    pager.next(page(0, 3, headers={"Link": f'<{second}>; rel="next"'}))
    back = page(1, 3, headers={"Link": f'<{URL}>; rel="next"'}, url=second, first_id=3)
    assert "page loop: the next page is a page already read" in fails(pager, back)


def test_a_link_to_the_page_just_read_as_next_again_is_a_page_loop() -> None:
    pager = link()
    second, third = f"{URL}?page=2", f"{URL}?page=3"
    pager.next(page(0, 3, headers={"Link": f'<{second}>; rel="next"'}))
    pager.next(page(1, 3, headers={"Link": f'<{third}>; rel="next"'}, url=second, first_id=3))
    again = page(2, 3, headers={"Link": f'<{second}>; rel="next"'}, url=third, first_id=6)
    assert "page loop" in fails(pager, again)


def next_url() -> NextUrlPaginator:
    return NextUrlPaginator(ir.NextUrlPagination(next_url_path="links.next"), URL, BASE, where)


def test_next_url_from_the_body() -> None:
    assert next_url().next(page(0, 3, {"links": {"next": "/items?p=2"}})) == PageRequest(
        "http://api.test/items?p=2", {})


@pytest.mark.parametrize("value", [None, "", 5, ["/items?p=2"]])
def test_next_url_absent_empty_or_no_text_stops(value: object) -> None:
    assert next_url().next(page(0, 3, {"links": {"next": value}})) is None


def test_url_paginators_name_the_query_in_the_page_loop_error() -> None:
    pager = next_url()
    pager.next(page(0, 3, {"links": {"next": "/items?p=2"}}))
    repeat = page(1, 3, {"links": {"next": "/items?p=3"}}, url=f"{URL}?p=2")
    assert fails(pager, repeat) == (
        f"GET {URL}?p=2: page loop: page 2 holds the same 3 records as page 1: the server "
        "ignores the paging query of the next URL it sends; check the API's documentation "
        "for another way to page. Stopping rather than reading the same page again"
    )


@pytest.mark.parametrize(("pagination", "ahead"), [
    (ir.OffsetPagination(limit=10), True),
    (ir.PagePagination(), True),
    (ir.CursorPagination(cursor_path="next"), False),
    (ir.LinkPagination(), False),
    (ir.NextUrlPagination(next_url_path="next"), False),
    (ir.NoPagination(), False),
])
def test_only_offset_and_page_know_every_request_ahead(pagination: ir.Pagination,
                                                       ahead: bool) -> None:
    # what lets a run fork page workers before its first page (page_workers.fork_ahead)
    assert known_ahead(pagination) is ahead
