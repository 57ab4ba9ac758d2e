"""Source layer, API: which request comes next, and when to stop.

Each :class:`~foundry_dsl.ir.Pagination` kind has a paginator that hands the
fetch loop the first request and, given a fetched :class:`Page`, the next
request or ``None`` (stop). Stop rules are explicit, because silently
stopping early is how data gets lost:

``none``      one request.
``offset``    with ``total_path``, stop when offset + records reaches the total
              (an empty or short page before that is an error: the server lost
              pages, or caps ``limit``); without it, stop on an empty page or a
              page shorter than ``limit``.
``page``      with ``total_pages_path``, stop on the last page (an empty or
              short page before it is an error); without it, stop on an empty
              page or a page shorter than ``page_size`` (when the size is sent).
``cursor``    stop when the next cursor is absent or empty, or when
              ``has_more_path`` is false (has_more true without a cursor, or
              missing or not a boolean while there is a cursor, is an error);
              with ``cursor_field`` also on an empty page. The same cursor twice
              is a page loop: an error.
``link``      stop when the ``Link`` header has no ``rel="next"``; the same URL
              twice is an error.
``next_url``  stop when the body's next URL is absent, null or empty; the same
              URL twice is an error.

Every kind: a page holding the same records as the page before it is a page
loop (a server that ignores the page, offset or cursor parameter sends its
first page for ever): an error at the second copy, whatever the stop rules say.

``offset`` and ``page`` know every request ahead (:attr:`Paginator.indexed`),
so the fetch loop may fetch a bounded window of pages ahead. ``max_pages``
(default :data:`foundry_dsl.ir.MAX_PAGES`) is enforced by the fetch loop:
reaching it while pages remain is an error, which :meth:`Paginator.pages_needed`
helps word.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.http.records import Step, compile_path, get_path

_MISSING: Any = object()


@dataclass(frozen=True)
class PageRequest:
    url: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    index: int  # 0-based position in the extraction
    request: PageRequest
    url: str  # the full URL as sent (params merged); redact before showing
    doc: Any
    records: list[dict[str, Any]]  # a stand-in that compares as they do, once portable
    headers: Mapping[str, str]
    seconds: float = 0.0  # how long the response took to arrive, retries included


class Paginator:
    """``none``: a single request."""

    indexed = False

    def __init__(self, url: str, params: Mapping[str, Any], where: Callable[[str], str]) -> None:
        self.url = url
        self.params = dict(params)
        self.where = where  # full URL -> "pipeline p: GET <redacted url>", for messages
        self._previous: list[dict[str, Any]] = []  # the records of the page before

    def first(self) -> PageRequest:
        return self.request_at(0) if self.indexed else PageRequest(self.url, self.params)

    def next(self, page: Page) -> PageRequest | None:
        """The request after ``page`` (pages come in order), or ``None`` to stop. A page
        that shows the extraction cannot be trusted raises :class:`ExtractError`: the
        kind's own errors first (they say more), then a repeated page, even a last one."""
        following = self._next(page)
        self._check_repeat(page)
        return following

    def request_at(self, index: int) -> PageRequest:
        """The request for page ``index``: only paginators that are ``indexed`` know it
        ahead (offset, page), which lets the extractor fetch a window of pages at once."""
        raise TypeError(f"{type(self).__name__} learns each next request from the page")

    def number(self, page: Page) -> int:
        """The page's number in messages: 1 for the first page of the run."""
        return page.index + 1

    def pages_needed(self) -> int | None:
        """How many pages the extraction takes, when the API has said (a total)."""
        return None

    def portable(self, page: Page, records: Any) -> Page:
        """``page`` cut down to what :meth:`next` reads of it, small enough to send from
        a page worker process (:mod:`foundry_dsl.sources.http.page_workers`), with
        ``records`` in place of its records: anything that has their length and compares
        equal to them and to itself as they do. Only ``indexed`` paginators, whose
        requests do not depend on the page, support it."""
        raise TypeError(f"{type(self).__name__} reads the whole page")

    def _next(self, page: Page) -> PageRequest | None:
        return None

    def _ignored(self, page: Page) -> str:
        """What a server sending the same page again ignores, and what to check."""
        return "the server ignores the paging parameter"

    def _check_repeat(self, page: Page) -> None:
        # Comparing with the page before costs next to nothing when they differ (the
        # first record does); the records, not the body, so that a body echoing the
        # page number or a fresh cursor does not hide a server sending one page for ever.
        previous, self._previous = self._previous, page.records
        if page.records and page.records == previous:
            n = self.number(page)
            raise self._error(
                page,
                f"page loop: page {n} holds the same {len(page.records)} records as page "
                f"{n - 1}: {self._ignored(page)}. Stopping rather than reading the same page "
                "again",
            )

    def _error(self, page: Page, problem: str) -> ExtractError:
        return ExtractError(f"{self.where(page.url)}: {problem}")


class OffsetPaginator(Paginator):
    indexed = True

    def __init__(self, p: ir.OffsetPagination, url: str, params: Mapping[str, Any],
                 where: Callable[[str], str]) -> None:
        super().__init__(url, params, where)
        self.p = p
        self.total_steps = compile_path(p.total_path) if p.total_path else None
        self.total: int | None = None  # the largest total a page has stated

    def request_at(self, index: int) -> PageRequest:
        offset = self.p.start + index * self.p.limit
        return PageRequest(
            self.url, {**self.params, self.p.offset_param: offset, self.p.limit_param: self.p.limit}
        )

    def pages_needed(self) -> int | None:
        if self.total is None:
            return None
        return max(1, -(-(self.total - self.p.start) // self.p.limit))

    def portable(self, page: Page, records: Any) -> Page:
        return _portable(page, self.total_steps, records)

    def _ignored(self, page: Page) -> str:
        offset = self.p.start + page.index * self.p.limit
        return (f"the server ignores {self.p.offset_param}={offset}; check offset_param and "
                "limit_param against the API's documentation")

    def _next(self, page: Page) -> PageRequest | None:
        n = len(page.records)
        if self.total_steps is not None:
            total = _stated(page, self.total_steps, self.p.total_path, self, self.total)
            if total is None:  # an empty first page that states no total
                return None
            self.total = total if self.total is None else max(self.total, total)
            offset = self.p.start + page.index * self.p.limit
            reached = offset + n
            if n == 0 and offset < self.total:
                raise self._error(
                    page,
                    f"the page at {self.p.offset_param}={offset} is empty but "
                    f"{self.p.total_path} says {self.total} records and only "
                    f"{offset - self.p.start} are read: stopping here would lose the rest. Run "
                    "again (the API may have changed during the extraction), or drop "
                    "total_path if the API's total is unreliable",
                )
            if n == 0 or reached >= total:
                return None
            if n < self.p.limit:
                raise self._error(
                    page,
                    f"the page holds {n} records for {self.p.limit_param}={self.p.limit} but "
                    f"{self.p.total_path} says {total} and only {reached} are read: the server "
                    f"caps the page size; set limit to {n} or less",
                )
        elif n < self.p.limit:  # empty included
            return None
        return self.request_at(page.index + 1)


class PagePaginator(Paginator):
    indexed = True

    def __init__(self, p: ir.PagePagination, url: str, params: Mapping[str, Any],
                 where: Callable[[str], str]) -> None:
        super().__init__(url, params, where)
        self.p = p
        self.pages_steps = compile_path(p.total_pages_path) if p.total_pages_path else None
        self.size = p.page_size if p.size_param and p.page_size else None
        self.pages: int | None = None  # the largest page count a page has stated

    def request_at(self, index: int) -> PageRequest:
        params = {**self.params, self.p.page_param: self.p.start_page + index}
        if self.size is not None and self.p.size_param:
            params[self.p.size_param] = self.size
        return PageRequest(self.url, params)

    def number(self, page: Page) -> int:
        return self.p.start_page + page.index

    def pages_needed(self) -> int | None:
        return self.pages

    def portable(self, page: Page, records: Any) -> Page:
        return _portable(page, self.pages_steps, records)

    def _ignored(self, page: Page) -> str:
        return (f"the server ignores {self.p.page_param}={self.number(page)}; check "
                "page_param (and size_param) against the API's documentation")

    def _next(self, page: Page) -> PageRequest | None:
        n = len(page.records)
        number = self.number(page)
        if self.pages_steps is not None:
            pages = _stated(page, self.pages_steps, self.p.total_pages_path, self, self.pages)
            if pages is None:  # an empty first page that states no page count
                return None
            self.pages = pages if self.pages is None else max(self.pages, pages)
            if n == 0 and page.index + 1 < self.pages:
                last = self.p.start_page + self.pages - 1
                raise self._error(
                    page,
                    f"page {number} is empty but {self.p.total_pages_path} says {self.pages} "
                    f"pages: stopping here would lose pages {number} to {last}. Run again (the "
                    "API may have changed during the extraction), or drop total_pages_path "
                    "if the API's page count is unreliable",
                )
            if n == 0 or page.index + 1 >= pages:
                return None
            if self.size is not None and n < self.size:
                raise self._error(
                    page,
                    f"page {number} holds {n} records for "
                    f"{self.p.size_param}={self.size} but {self.p.total_pages_path} says "
                    f"{pages} pages: the server caps the page size; set page_size to {n} or less",
                )
        elif n == 0 or (self.size is not None and n < self.size):
            return None
        return self.request_at(page.index + 1)


class CursorPaginator(Paginator):
    def __init__(self, p: ir.CursorPagination, url: str, params: Mapping[str, Any],
                 where: Callable[[str], str]) -> None:
        super().__init__(url, params, where)
        self.p = p
        self.cursor_steps = compile_path(p.cursor_path) if p.cursor_path else None
        self.field_steps = compile_path(p.cursor_field) if p.cursor_field else None
        self.has_more_steps = compile_path(p.has_more_path) if p.has_more_path else None
        self.seen: set[str] = set()

    def _ignored(self, page: Page) -> str:
        return (f"the server ignores {self.p.cursor_param}; check cursor_param against the "
                "API's documentation")

    def _next(self, page: Page) -> PageRequest | None:
        cursor: Any
        if self.cursor_steps is not None:
            cursor = get_path(page.doc, self.cursor_steps)
        elif self.p.cursor_header:
            cursor = page.headers.get(self.p.cursor_header)
        else:
            assert self.field_steps is not None
            cursor = get_path(page.records[-1], self.field_steps) if page.records else None
        absent = cursor is None or cursor == ""
        has_more = self._has_more(page, absent)
        if has_more is False:
            return None
        if absent:
            if has_more:
                raise self._error(
                    page, f"page {self.number(page)}: {self.p.has_more_path} is true but there "
                    f"is no next cursor ({self._source_name()}), so the rest cannot be read; "
                    "check cursor_path, cursor_header or cursor_field against the API's "
                    "documentation",
                )
            return None
        text = cursor if isinstance(cursor, str) else str(cursor)
        if text in self.seen:
            raise self._error(
                page, f"page loop: the server sent cursor {text!r} twice "
                f"({self._source_name()}); stopping rather than reading pages again",
            )
        self.seen.add(text)
        return PageRequest(self.url, {**self.params, self.p.cursor_param: text})

    def _has_more(self, page: Page, no_cursor: bool) -> bool | None:
        """``has_more_path`` as a boolean (``None`` without the setting). Missing, or
        not a boolean, is an error while there is a cursor: a wrong path must not
        pass for "no more pages"."""
        if self.has_more_steps is None:
            return None
        value = get_path(page.doc, self.has_more_steps)
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return value == 1
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if value is None and no_cursor:
            return False  # nothing to follow either way
        raise self._error(
            page, f"page {self.number(page)}: {self.p.has_more_path} is {value!r}, not true "
            "or false; fix has_more_path (or remove it)",
        )

    def _source_name(self) -> str:
        if self.p.cursor_path:
            return f"cursor_path {self.p.cursor_path}"
        if self.p.cursor_header:
            return f"header {self.p.cursor_header}"
        return f"cursor_field {self.p.cursor_field}"


class _UrlPaginator(Paginator):
    """Shared by ``link`` and ``next_url``: the next request is a whole URL."""

    def __init__(self, url: str, params: Mapping[str, Any], where: Callable[[str], str]) -> None:
        super().__init__(url, params, where)
        self.seen: set[str] = set()

    def _ignored(self, page: Page) -> str:
        return ("the server ignores the paging query of the next URL it sends; check the "
                "API's documentation for another way to page")

    def _follow(self, page: Page, target: Any) -> PageRequest | None:
        if not target or not isinstance(target, str):
            return None
        url = urljoin(page.url, target)
        if url in self.seen or url == page.url:
            raise self._error(page, "page loop: the next page is a page already read; "
                              "stopping rather than reading pages again")
        self.seen.add(page.url)
        self.seen.add(url)
        # the next URL carries its own query; only the auth and static params are added
        return PageRequest(url, {})


class LinkPaginator(_UrlPaginator):
    def __init__(self, p: ir.LinkPagination, url: str, params: Mapping[str, Any],
                 where: Callable[[str], str]) -> None:
        super().__init__(url, params, where)
        self.rel = p.rel

    def _next(self, page: Page) -> PageRequest | None:
        header = page.headers.get("Link")
        if not header:
            return None
        # imported here: importing requests costs the start-up of every other kind
        from requests.utils import parse_header_links

        for link in parse_header_links(header):
            if self.rel in str(link.get("rel", "")).split():
                return self._follow(page, link.get("url"))
        return None


class NextUrlPaginator(_UrlPaginator):
    def __init__(self, p: ir.NextUrlPagination, url: str, params: Mapping[str, Any],
                 where: Callable[[str], str]) -> None:
        super().__init__(url, params, where)
        self.steps = compile_path(p.next_url_path)

    def _next(self, page: Page) -> PageRequest | None:
        return self._follow(page, get_path(page.doc, self.steps))


def known_ahead(p: ir.Pagination) -> bool:
    """Whether ``p``'s paginator is ``indexed``: it knows every request ahead."""
    return bool(getattr(PAGINATORS.get(p.kind), "indexed", False))


def paginator_for(p: ir.Pagination, url: str, params: Mapping[str, Any],
                  where: Callable[[str], str]) -> Paginator:
    make = PAGINATORS.get(p.kind)
    return make(p, url, params, where) if make else Paginator(url, params, where)


#: one entry per pagination kind of the IR (``none``: a single request, no entry)
PAGINATORS: dict[str, Callable[..., Paginator]] = {
    "offset": OffsetPaginator,
    "page": PagePaginator,
    "cursor": CursorPaginator,
    "link": LinkPaginator,
    "next_url": NextUrlPaginator,
}


def _portable(page: Page, stated: tuple[Step, ...] | None, records: Any) -> Page:
    """The page with its document cut down to the value at ``stated`` (a total) and its
    records to ``records``: what offset and page pagination read."""
    doc = None
    if stated:
        value = get_path(page.doc, stated, _MISSING)
        if value is not _MISSING:
            doc = _skeleton(stated, value)
    return replace(page, doc=doc, records=records, headers={})


def _skeleton(steps: tuple[Step, ...], value: Any) -> Any:
    """The smallest document in which ``get_path(doc, steps)`` is ``value``."""
    node = value
    for step in reversed(steps):
        if isinstance(step, int):
            items: list[Any] = [None] * (step + 1 if step >= 0 else -step)
            items[step] = node
            node = items
        else:
            node = {step: node}
    return node


def _stated(page: Page, steps: Any, path: str | None, pager: Paginator,
            known: int | None) -> int | None:
    """The total (records or pages) ``page`` states. An empty page may state none
    (``{"results": null}``, an empty body): then the total an earlier page stated,
    or ``None`` when no page has."""
    value = get_path(page.doc, steps)
    if value is None and not page.records:
        return known
    return _number(value, path, page, pager)


def _number(value: Any, path: str | None, page: Page, pager: Paginator) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise pager._error(page, f"{path} is {value!r}, not a number; fix the pagination path")
    try:
        return int(value)
    except ValueError:
        raise pager._error(page, f"{path} is {value!r}, not a number") from None
