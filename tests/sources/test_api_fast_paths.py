"""API source: the per-page shortcuts give what the general paths give."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from foundry_dsl import ir
from foundry_dsl.sources.api import ApiExtractor
from foundry_dsl.sources.http.client import with_params
from foundry_dsl.sources.http.collector import YOUNG, fewer_collections
from tests.fixtures.api_server import ApiServer, context, source

PARAMS = {"offset": 1000, "limit": 50, "flag": True, "q": "a&b c"}


def merged(url: str) -> str:
    """with_params' general path: the URL's own query merged with PARAMS."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in PARAMS]
    query += [(k, "true" if v is True else str(v)) for k, v in PARAMS.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/items", "https://api.example.com", "https://u:p@h.example/v1/",
    "http://h/a;b", "http://h/%7Eme", "HTTP://h/upper", "http:////h/p", "http://[::1]:80/p",
    "http://h/p?limit=1&keep=yes", "http://h/p#frag", "http://h/p\t", "http://h/ünï",
])
def test_params_are_merged_into_any_url_as_the_general_path_merges_them(url: str) -> None:
    assert with_params(url, PARAMS) == merged(url)


@pytest.fixture
def thresholds() -> Iterator[tuple[int, ...]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_young_collections_are_spaced_out_until_the_last_extraction_ends(
        thresholds: tuple[int, ...]) -> None:
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG, *thresholds[1:])
        with fewer_collections():  # a second extraction at the same time
            pass
        assert gc.get_threshold()[0] == YOUNG
    assert gc.get_threshold() == thresholds


def test_an_extraction_puts_the_collector_back_as_it_was(
        api: ApiServer, thresholds: tuple[int, ...]) -> None:
    src = source(api.url, "offset", records="data",
                 paginate=ir.OffsetPagination(limit=100, total_path="total"))
    batches = ApiExtractor(src).extract(context(src))
    next(batches)
    assert gc.get_threshold()[0] == YOUNG
    batches.close()  # the executor stopping early
    assert gc.get_threshold() == thresholds
