"""Source layer, API: one page request → the fetched, parsed :class:`Page`.

The same steps whether the page is fetched on the extractor's own threads or
in a page worker process, so both read a page, and word its errors, alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from foundry_dsl import ir, urls
from foundry_dsl.sources.http.client import HttpClient
from foundry_dsl.sources.http.pagination import Page, PageRequest
from foundry_dsl.sources.http.records import compile_path, parse_json, records_at

#: a full URL -> "pipeline p: GET <redacted url>", the start of every message about it
Where = Callable[[str], str]


def where_for(client: HttpClient, pipeline: str, method: str) -> Where:
    def where(url: str) -> str:
        return f"pipeline {pipeline}: {method} {client.redact_url(url)}"

    return where


def fetch_page(src: ir.ApiSource, client: HttpClient, where: Where, index: int,
               request: PageRequest) -> Page:
    """Fetch and parse page ``index``."""
    started = time.monotonic()
    resp = client.get(request.url, request.params, src.body)
    seconds = time.monotonic() - started

    def here() -> str:
        return where(resp.url)

    doc = parse_json(resp.body, here)
    recs = records_at(doc, compile_path(src.records), src.records, here, resp.body)
    return Page(index, request, resp.url, doc, recs, resp.headers, seconds)


def page_url(src: ir.ApiSource) -> str:
    """The endpoint's URL, its base URL's env() resolved."""
    return urls.join(str(ir.resolve(src.base_url)), src.endpoint)
