"""Source layer: REST APIs → Arrow record batches, page by page, then the new cursor.

:class:`ApiExtractor` reads an :class:`~foundry_dsl.ir.ApiSource` and hands the
executor one Arrow record batch per non-empty page, in page order, followed by
a :class:`~foundry_dsl.sources.base.NewCursor` when the load is incremental.

Fetching overlaps converting: a producer thread fetches and parses pages into
a small bounded queue while the executor's extract thread converts the
previous page to Arrow (the executor joins the pages into larger batches
before writing them). ``offset`` and ``page`` pagination know every request
ahead, so the producer keeps a bounded window of pages in flight; the other
kinds learn the next request from the page itself, so they fetch one page at
a time, each as soon as the previous one is parsed. Memory stays bounded by
the queue and the window, whatever the size of the extraction. While pages
stream, young garbage collections are spaced out
(:mod:`foundry_dsl.sources.http.collector`).

The HTTP details live in :mod:`foundry_dsl.sources.http`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain
from operator import itemgetter
from typing import Any

from foundry_dsl import ir, urls
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.base import Batch, ExtractContext, Extractor, NewCursor

log = logging.getLogger("foundry.api")

LOOKAHEAD = 4  # at most this many pages in flight for offset/page pagination...
SLOW_PAGE = 0.02  # ...once pages take longer than this (seconds) to arrive
QUEUE_PAGES = 4  # parsed pages waiting for conversion
_DONE = object()


class ApiExtractor(Extractor):
    """Extracts one REST API endpoint; see ``docs/api.md`` for every option."""

    source: ir.ApiSource

    @classmethod
    def describe(cls, source: ir.ApiSource) -> str:
        url = urls.redact_url(f"{source.base_url}{source.endpoint}")
        extra = ""
        if source.auth.kind != "none":
            extra += f", auth {source.auth.kind}"
        if source.paginate.kind != "none":
            extra += f", {source.paginate.kind} pagination"
        if source.incremental:
            extra += f", incremental on {source.incremental.field}"
        return f"api {source.method} {url}{extra}"

    @classmethod
    def keeps_cursor(cls, source: ir.ApiSource) -> bool | None:
        return source.incremental is not None

    @classmethod
    def cursor_env(cls, source: ir.ApiSource) -> str | None:
        return source.incremental.cursor_env if source.incremental else None

    def __init__(self, source: ir.ApiSource) -> None:
        super().__init__(source)
        self._secrets: list[str] = []
        self._client: Any = None

    def secrets(self) -> list[str]:
        """Every secret value: those in the environment now (so the executor can redact
        before the first request) and OAuth2 access tokens as they are issued."""
        found = set(self._secrets) | set(_env_values(self.source)) | set(_url_values(self.source))
        if self._client is not None:
            found |= set(self._client.secrets())
        return sorted(found)

    def extract(self, ctx: ExtractContext, part: int = 0) -> Iterator[Batch | NewCursor]:
        from foundry_dsl.sources.http.client import HttpClient
        from foundry_dsl.sources.http.collector import fewer_collections

        src = self.source
        client = HttpClient(src, ctx.pipeline.name)
        self._client = client
        self._secrets = client.secrets()
        inc = src.incremental
        tracker = _MaxTracker(inc.field) if inc else None
        pages = records = 0
        try:
            with fewer_collections():
                for batch_records in self._pages(client, ctx):
                    pages += 1
                    if ctx.until is not None and inc is not None and batch_records:
                        batch_records = _within(batch_records, inc.field, ctx.until)
                    if not batch_records:
                        continue
                    records += len(batch_records)
                    if tracker is not None:
                        tracker.update(batch_records)
                    yield page_to_arrow(batch_records, parse_dates=src.parse_dates)
        finally:
            client.close()
            self._secrets = client.secrets()
        log.info("pipeline %s: %d records in %d pages from %s", ctx.pipeline.name, records, pages,
                 client.redact_url(_url(src)))
        if tracker is not None:
            yield NewCursor(tracker.value())

    # --- the producer ---------------------------------------------------------------

    def _pages(self, client: Any, ctx: ExtractContext) -> Iterator[list[dict[str, Any]]]:
        """Records of each page, in order, fetched by a producer thread."""
        from foundry_dsl.sources.http.pagination import paginator_for

        src = self.source
        params: dict[str, Any] = {}
        if src.incremental is not None:
            since = ctx.cursor if ctx.cursor is not None else src.incremental.initial
            if since is not None:
                params[src.incremental.param] = since
            if ctx.until is not None and src.incremental.until_param:
                params[src.incremental.until_param] = ctx.until
        method = src.method

        def where(url: str) -> str:
            return f"pipeline {ctx.pipeline.name}: {method} {client.redact_url(url)}"

        pager = paginator_for(src.paginate, _url(src), params, where)
        out: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_PAGES)
        stop = threading.Event()

        def put(item: Any) -> None:
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        runner = _indexed if pager.indexed else _sequential

        def produce() -> None:
            from foundry_dsl.sources.http.client import Cancelled

            try:
                for records in runner(self.source, client, pager, where, stop):
                    put(records)
                put(_DONE)
            except Cancelled:
                # only the consumer stops a running extraction; anything else must not
                # pass for a complete one
                put(_DONE if stop.is_set() else ExtractError(
                    f"pipeline {ctx.pipeline.name}: the API extraction was cancelled"))
            except BaseException as exc:
                put(exc)

        thread = threading.Thread(target=produce, name="foundry-api-fetch", daemon=True)
        thread.start()
        try:
            while True:
                item = out.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            client.cancelled.set()
            thread.join()


def page_to_arrow(records: list[dict[str, Any]], *, parse_dates: bool = True) -> Any:
    """One page as an Arrow record batch: a column per key seen on the page, ISO 8601
    dates and timestamps typed unless ``parse_dates`` is off (:mod:`foundry_dsl.write.temporal`).

    Column by column is about twice as fast as Arrow's struct inference over
    whole records. A column Arrow refuses (mixed types) sends the page to
    :func:`foundry_dsl.write.convert.to_table`, so widening follows one set of rules.
    """
    import pyarrow as pa

    from foundry_dsl.write.temporal import typed, typed_table

    try:
        arrays, names = _columns(records, pa)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        from foundry_dsl.write.convert import to_table

        table = to_table(records)
        return typed_table(table) if parse_dates else table
    if parse_dates:
        arrays = [typed(a) for a in arrays]
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _columns(records: list[dict[str, Any]], pa: Any) -> tuple[list[Any], list[str]]:
    first = list(records[0]) if records else []
    # The common page: every record has exactly the first one's keys. Then C-level
    # itemgetter + zip transpose the page a third faster than a get() per value.
    if len(first) > 1 and set(map(len, records)) == {len(first)}:
        try:
            rows = map(itemgetter(*first), records)
            return [pa.array(c) for c in zip(*rows, strict=True)], first
        except KeyError:
            pass  # same count, other keys: the general path below
    names = list(dict.fromkeys(chain.from_iterable(records)))
    return [pa.array([r.get(name) for r in records]) for name in names], names


def _env_values(src: ir.ApiSource) -> list[str]:
    """The values of every env("...") in the source that is set; a missing one is the
    extraction's error to report, not this listing's."""
    refs = [v for v in (*src.headers.values(), *src.params.values()) if isinstance(v, ir.EnvRef)]
    refs += [v for v in vars(src.auth).values() if isinstance(v, ir.EnvRef)]
    values = (ref.resolve(required=False) for ref in refs)
    return [v for v in values if v]


def _url_values(src: ir.ApiSource) -> list[str]:
    """The credentials the source's URL carries (``user:password@``, ``?access_token=``),
    when its base_url can be read."""
    base = src.base_url.resolve(required=False) if isinstance(src.base_url, ir.EnvRef) \
        else src.base_url
    if base is None:
        return []
    names = [src.auth.name] if isinstance(src.auth, ir.ApiKeyAuth) else []
    return urls.url_secrets(urls.join(base, src.endpoint), names)


def _url(src: ir.ApiSource) -> str:
    return urls.join(str(ir.resolve(src.base_url)), src.endpoint)


def _fetch(src: ir.ApiSource, client: Any, where: Callable[[str], str], index: int,
           request: Any) -> Any:
    """Fetch and parse one page (runs in a fetching thread)."""
    from foundry_dsl.sources.http.pagination import Page
    from foundry_dsl.sources.http.records import compile_path, parse_json, records_at

    started = time.monotonic()
    resp = client.get(request.url, request.params, src.body)
    seconds = time.monotonic() - started
    def here() -> str:
        return where(resp.url)

    doc = parse_json(resp.body, here)
    recs = records_at(doc, compile_path(src.records), src.records, here, resp.body)
    return Page(index, request, resp.url, doc, recs, resp.headers, seconds)


def _too_many_pages(src: ir.ApiSource, where: Callable[[str], str], url: str,
                    pager: Any) -> ExtractError:
    max_pages = getattr(src.paginate, "max_pages", None)
    needed = pager.pages_needed()
    if needed is not None and needed > (max_pages or 0):
        advice = f"the API says it has {needed} pages: set max_pages = {needed} or more"
    else:
        advice = f"raise max_pages (e.g. max_pages = {10 * (max_pages or 1)})"
    return ExtractError(
        f"{where(url)}: max_pages = {max_pages} reached but the API has more pages; "
        f"nothing of this run was committed: {advice} and run again"
    )


def _sequential(src: ir.ApiSource, client: Any, pager: Any, where: Callable[[str], str],
                stop: threading.Event) -> Iterator[list[dict[str, Any]]]:
    """link, next_url, cursor, none: each request is known only once the previous page is parsed."""
    max_pages = getattr(src.paginate, "max_pages", None)
    request = pager.first()
    index = 0
    while request is not None and not stop.is_set():
        page = _fetch(src, client, where, index, request)
        request = pager.next(page)
        if request is not None and max_pages is not None and index + 1 >= max_pages:
            raise _too_many_pages(src, where, page.url, pager)
        yield page.records
        index += 1


def _indexed(src: ir.ApiSource, client: Any, pager: Any, where: Callable[[str], str],
             stop: threading.Event) -> Iterator[list[dict[str, Any]]]:
    """offset and page: a window of pages in flight, consumed strictly in order.

    The window adapts: a page that arrives fast (a nearby server) gains nothing
    from parallel requests, whose threads would only contend with conversion for
    the GIL, so it stays at one page, fetched on this thread (a handoff between
    threads per page costs more than the fetch's own Python); slow pages (a
    distant API) open it up to LOOKAHEAD pages, fetched by a pool. Pages fetched
    past the end are dropped unread, and so are their errors: only a page the
    stop rules reach can fail the extraction.
    """
    max_pages = getattr(src.paginate, "max_pages", None)
    inflight: deque[Future[Any] | _Ready] = deque()
    next_index = 0
    pool = ThreadPoolExecutor(LOOKAHEAD, thread_name_prefix="foundry-api-page")
    page_seconds = 0.0  # moving average of how long a page takes to arrive
    window = 1

    def submit() -> None:
        nonlocal next_index
        if max_pages is not None and next_index >= max_pages:
            return
        i = next_index
        request = pager.request_at(i)
        next_index += 1
        if window == 1 and not inflight:
            inflight.append(_Ready(_fetch(src, client, where, i, request)))
        else:
            inflight.append(pool.submit(_fetch, src, client, where, i, request))

    try:
        submit()
        while inflight and not stop.is_set():
            page = inflight.popleft().result()
            page_seconds = 0.7 * page_seconds + 0.3 * page.seconds
            following = pager.next(page)
            if following is not None and max_pages is not None and page.index + 1 >= max_pages:
                raise _too_many_pages(src, where, page.url, pager)
            yield page.records
            if following is None:
                return
            window = LOOKAHEAD if page_seconds > SLOW_PAGE else 1
            while len(inflight) < window:
                before = next_index
                submit()
                if next_index == before:
                    break
    finally:
        # speculative requests past the end stop at their next attempt
        client.cancelled.set()
        pool.shutdown(wait=True, cancel_futures=True)


class _Ready:
    """A page fetched on the window's own thread, read like a pool's future."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def result(self) -> Any:
        return self.page


def _within(records: list[dict[str, Any]], field: str, until: str) -> list[dict[str, Any]]:
    """The records whose incremental field is not past ``until``: a replayed window's
    rows only, whether or not the API took an upper bound (records without the
    field stay, as they would in any run)."""
    from foundry_dsl.cursors import past
    from foundry_dsl.sources.http.records import compile_path, get_path

    steps = compile_path(field)
    return [r for r in records
            if (v := get_path(r, steps)) is None or not past(str(v), until)]


class _MaxTracker:
    """The largest value of the incremental field over every landed record."""

    def __init__(self, field: str) -> None:
        from foundry_dsl.sources.http.records import compile_path

        self.steps = compile_path(field)
        self.simple = self.steps[0] if len(self.steps) == 1 else None
        self.best: Any = None

    def update(self, records: list[dict[str, Any]]) -> None:
        if self.simple is not None:
            key = self.simple
            values = [v for r in records if (v := r.get(key)) is not None]  # type: ignore[arg-type]
        else:
            from foundry_dsl.sources.http.records import get_path

            values = [v for r in records if (v := get_path(r, self.steps)) is not None]
        if not values:
            return
        try:
            top = max(values)
        except TypeError:  # mixed types on one page: compare as text
            top = max(map(str, values))
        self.best = top if self.best is None else _larger(self.best, top)

    def value(self) -> str | None:
        if self.best is None:
            return None
        return self.best if isinstance(self.best, str) else str(self.best)


def _larger(a: Any, b: Any) -> Any:
    try:
        return b if b > a else a
    except TypeError:
        return b if str(b) > str(a) else a
