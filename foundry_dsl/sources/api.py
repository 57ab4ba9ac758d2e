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
(:mod:`foundry_dsl.sources.http.collector`). A long offset/page extraction of
fast pages hands its pages to worker processes, which fetch, parse and convert
them (:mod:`foundry_dsl.sources.http.page_workers`): one process's GIL would
otherwise hold it to one core.

The HTTP details live in :mod:`foundry_dsl.sources.http`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from foundry_dsl import ir, urls
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.base import Batch, ExtractContext, Extractor, NewCursor

log = logging.getLogger("foundry.api")

LOOKAHEAD = 4  # at most this many pages in flight for offset/page pagination...
SLOW_PAGE = 0.02  # ...once pages take longer than this (seconds) to arrive
WORKER_PAGES = 200  # fast pages left (or read, without a total) before worker processes start
QUEUE_PAGES = 4  # parsed pages waiting for conversion
_DONE = object()


class ApiExtractor(Extractor):
    """Extracts one REST API endpoint; see ``docs/api.md`` for every option."""

    source: ir.ApiSource

    @classmethod
    def before_runs(cls, sources: Sequence[Any]) -> Callable[[], None] | None:
        from foundry_dsl.sources.http.page_workers import discard_spare, fork_ahead

        fork_ahead(sources)
        return discard_spare

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
        from foundry_dsl.sources.http.fetch import page_url
        from foundry_dsl.sources.http.landing import Landed, MaxTracker, land

        src = self.source
        client = HttpClient(src, ctx.pipeline.name)
        self._client = client
        self._secrets = client.secrets()
        inc = src.incremental
        field = inc.field if inc else None
        tracker = MaxTracker() if inc else None
        pages = records = 0
        run = _Run(ctx.pipeline.name, ctx.until)
        try:
            with fewer_collections():
                for item in self._pages(client, ctx, run):
                    pages += 1
                    landed = item if isinstance(item, Landed) else land(
                        item, parse_dates=src.parse_dates, field=field, until=ctx.until)
                    if not landed.count:
                        continue
                    records += landed.count
                    if tracker is not None:
                        tracker.merge(landed.top)
                    yield landed.batch
        finally:
            client.close()
            self._secrets = client.secrets()
        by_workers = (f" ({run.by_workers} of them by {run.workers} worker processes)"
                      if run.by_workers else "")
        log.info("pipeline %s: %d records in %d pages%s from %s", ctx.pipeline.name, records,
                 pages, by_workers, client.redact_url(page_url(src)))
        if tracker is not None:
            yield NewCursor(tracker.value())

    # --- the producer ---------------------------------------------------------------

    def _pages(self, client: Any, ctx: ExtractContext,
               run: _Run) -> Iterator[list[dict[str, Any]] | Any]:
        """Each page, in order, fetched by a producer thread: its records, or what lands
        of it (:class:`~foundry_dsl.sources.http.landing.Landed`) when a worker process
        fetched it."""
        from foundry_dsl.sources.http.fetch import page_url, where_for
        from foundry_dsl.sources.http.pagination import paginator_for

        src = self.source
        params: dict[str, Any] = {}
        if src.incremental is not None:
            since = ctx.cursor if ctx.cursor is not None else src.incremental.initial
            if since is not None:
                params[src.incremental.param] = since
            if ctx.until is not None and src.incremental.until_param:
                params[src.incremental.until_param] = ctx.until
        where = where_for(client, ctx.pipeline.name, src.method)
        pager = paginator_for(src.paginate, page_url(src), params, where)
        out: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_PAGES)
        stop = threading.Event()

        def put(item: Any) -> None:
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def produce() -> None:
            from foundry_dsl.sources.http.client import Cancelled

            try:
                pages = (_indexed(src, client, pager, where, stop, run)
                         if pager.indexed else _sequential(src, client, pager, where, stop))
                for page in pages:
                    put(page)
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
    from foundry_dsl.sources.http.fetch import fetch_page

    max_pages = getattr(src.paginate, "max_pages", None)
    request = pager.first()
    index = 0
    while request is not None and not stop.is_set():
        page = fetch_page(src, client, where, index, request)
        request = pager.next(page)
        if request is not None and max_pages is not None and index + 1 >= max_pages:
            raise _too_many_pages(src, where, page.url, pager)
        yield page.records
        index += 1


def _indexed(src: ir.ApiSource, client: Any, pager: Any, where: Callable[[str], str],
             stop: threading.Event, run: _Run) -> Iterator[list[dict[str, Any]] | Any]:
    """offset and page: a window of pages in flight, consumed strictly in order.

    The window adapts: a page that arrives fast (a nearby server) gains nothing
    from parallel requests, whose threads would only contend with conversion for
    the GIL, so it stays at one page, fetched on this thread (a handoff between
    threads per page costs more than the fetch's own Python); slow pages (a
    distant API) open it up to LOOKAHEAD pages, fetched by a pool. Fast pages of
    a long extraction (WORKER_PAGES pages left by the API's total, or read
    without one) start worker processes in the background; once they are up they
    fetch, parse and convert every next page, which this process only writes
    (:mod:`foundry_dsl.sources.http.page_workers`). Pages fetched past the end
    are dropped unread, and so are their errors: only a page the stop rules
    reach can fail the extraction.
    """
    from foundry_dsl.sources.http.fetch import fetch_page
    from foundry_dsl.sources.http.page_workers import PageWorkers, RemotePage, Setup

    max_pages = getattr(src.paginate, "max_pages", None)
    inflight: deque[Future[Any] | _Ready | RemotePage] = deque()
    next_index = 0
    pool = ThreadPoolExecutor(LOOKAHEAD, thread_name_prefix="foundry-api-page")
    page_seconds = 0.0  # moving average of how long a page takes to arrive
    window = 1
    workers: PageWorkers | None = None
    asked = False  # whether workers were asked for

    def submit() -> None:
        nonlocal next_index
        if max_pages is not None and next_index >= max_pages:
            return
        i = next_index
        request = pager.request_at(i)
        next_index += 1
        if workers is not None and workers.ready.is_set():
            inflight.append(workers.submit(i, request))
        elif window == 1 and not inflight:
            inflight.append(_Ready(fetch_page(src, client, where, i, request)))
        else:
            inflight.append(pool.submit(fetch_page, src, client, where, i, request))

    try:
        submit()
        while inflight and not stop.is_set():
            handle = inflight.popleft()
            page = handle.result()
            page_seconds = 0.7 * page_seconds + 0.3 * page.seconds
            following = pager.next(page)
            if following is not None and max_pages is not None and page.index + 1 >= max_pages:
                raise _too_many_pages(src, where, page.url, pager)
            if isinstance(handle, RemotePage):
                run.by_workers += 1
                yield handle.landed
            else:
                yield page.records
            if following is None:
                return
            if not asked and page_seconds <= SLOW_PAGE and _long(pager, page.index):
                asked = True
                workers = PageWorkers.start(
                    Setup(src, run.pipeline, run.until,
                          logging.getLogger("foundry").getEffectiveLevel()),
                    client.cancelled)
                run.workers = workers.count if workers is not None else 0
            if workers is not None and workers.ready.is_set():
                window = workers.window
            else:
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
        if workers is not None:
            workers.close()


def _long(pager: Any, index: int) -> bool:
    """Whether the extraction has at least WORKER_PAGES pages after page ``index``, by
    the API's total, or has read that many without one."""
    needed = pager.pages_needed()
    if needed is not None:
        return needed - (index + 1) >= WORKER_PAGES
    return index + 1 >= WORKER_PAGES


class _Run:
    """One extraction as the page runners see it, and how many of its pages worker
    processes fetched (for its summary)."""

    def __init__(self, pipeline: str, until: str | None) -> None:
        self.pipeline = pipeline
        self.until = until  # a replayed window's end
        self.workers = 0
        self.by_workers = 0


class _Ready:
    """A page fetched on the window's own thread, read like a pool's future."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def result(self) -> Any:
        return self.page
