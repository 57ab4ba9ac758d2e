"""API source: methods, rate limit, retries, Retry-After, timeouts, TLS warning, error messages."""

from __future__ import annotations

import itertools
import json
import logging
import re

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from tests.fixtures.api_server import (
    ApiServer,
    rows,
    source,
    typed_record,
)


def scrub(message: str, api: ApiServer) -> str:
    """The message with the server's random port fixed, for snapshots."""
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", message.replace(api.url, "http://127.0.0.1:PORT"))


def gaps(api: ApiServer) -> list[float]:
    times = [r.at for r in api.log]
    return [b - a for a, b in itertools.pairwise(times)]


def test_post_sends_the_json_body(api: ApiServer) -> None:
    src = source(api.url, "search", method="POST", body={"ids": [5, 3, 9]}, records="data")
    assert rows(src) == [typed_record(5), typed_record(3), typed_record(9)]
    (req,) = api.log
    assert req.method == "POST" and json.loads(req.body) == {"ids": [5, 3, 9]}
    assert req.headers["content-type"] == "application/json"


def test_static_params_and_headers_are_sent_on_every_page(api: ApiServer) -> None:
    src = source(api.url, "github", params={"per_page": 100, "state": "all"},
                 headers={"X-Client": "foundry"}, paginate=ir.LinkPagination())
    assert len(rows(src)) == 250
    assert [(r.query["state"], r.headers["x-client"]) for r in api.log] == [("all", "foundry")] * 3


def test_rate_limit_spaces_requests_as_seen_by_the_server(api: ApiServer) -> None:
    src = source(api.url, "github", params={"per_page": 25}, paginate=ir.LinkPagination(),
                 rate_limit=20)
    rows(src)
    start = api.log[0].at
    # a token bucket without burst: request k never arrives before k intervals have passed
    lateness = [(r.at - start) - k * 0.05 for k, r in enumerate(api.log)]
    assert len(api.log) == 10 and min(lateness) > -0.01


def test_rate_limit_holds_across_look_ahead_threads(api: ApiServer) -> None:
    src = source(api.url, "offset", records="data", rate_limit=25,
                 paginate=ir.OffsetPagination(limit=25, total_path="total"))
    assert len(rows(src)) == 250
    times = sorted(r.at for r in api.log)
    assert all(t - times[0] >= k * 0.04 - 0.01 for k, t in enumerate(times))


def test_retry_after_in_seconds_is_honoured(api: ApiServer) -> None:
    api.inject(0, first=1, kinds=("429",), retry_after="1")
    assert len(rows(source(api.url, "single", records="data"))) == 250
    assert [r.status for r in api.log] == [429, 200]
    assert gaps(api)[0] >= 1.0


def test_retry_after_as_an_http_date_is_honoured(api: ApiServer) -> None:
    api.inject(0, first=1, kinds=("429",), retry_after="date")
    assert len(rows(source(api.url, "single", records="data"))) == 250
    assert [r.status for r in api.log] == [429, 200]
    assert gaps(api)[0] >= 1.0  # the date is 2s ahead, at one-second resolution


@pytest.mark.parametrize("kind", ["500", "502", "503", "504", "drop", "cut"])
def test_a_transient_failure_is_retried(api: ApiServer, kind: str) -> None:
    api.inject(0, first=2, kinds=(kind,))
    assert len(rows(source(api.url, "single", records="data"))) == 250
    assert len(api.log) == 3


def test_a_read_timeout_is_retried(api: ApiServer) -> None:
    api.inject(0, first=1, kinds=("slow",), slow=0.5)
    assert len(rows(source(api.url, "single", records="data", timeout=0.2))) == 250
    assert len(api.log) == 2


def test_backoff_grows_between_attempts(api: ApiServer) -> None:
    api.inject(0, first=3, kinds=("503",))
    retry = ir.RetryPolicy(max_attempts=4, backoff=0.1, max_backoff=10)
    rows(source(api.url, "single", records="data", retry=retry))
    # equal jitter: waits within [0.05, 0.1], [0.1, 0.2], [0.2, 0.4]
    first, second, third = gaps(api)
    assert first >= 0.05 and second >= 0.1 and 0.2 <= third < 0.6


def test_a_failure_past_the_retry_budget_names_url_status_and_attempts(
        api: ApiServer, snapshot) -> None:  # type: ignore[no-untyped-def]
    api.inject(1.0, kinds=("503",))
    src = source(api.url, "single", records="data", params={"n": 5},
                 retry=ir.RetryPolicy(max_attempts=3, backoff=0.01, max_backoff=0.01))
    with pytest.raises(ExtractError) as e:
        rows(src)
    assert e.value.transient is True
    assert len(api.log) == 3
    assert scrub(str(e.value), api) == snapshot


def test_a_client_error_is_not_retried_and_shows_the_body(api: ApiServer, snapshot) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExtractError) as e:
        rows(source(api.url, "teapot", records="data"))
    assert e.value.transient is False
    assert len(api.log) == 1
    assert scrub(str(e.value), api) == snapshot


def test_verify_false_logs_a_warning(api: ApiServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="foundry.api")
    rows(source(api.url, "single", records="data", verify=False))
    assert [r.getMessage() for r in caplog.records] == [
        "fake.things: TLS certificate verification is off (verify = false); "
        "responses could be forged by anyone on the network path"
    ]


def test_an_unreachable_host_fails_after_the_budget() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    src = source(f"http://127.0.0.1:{port}", "v1/items", records="data",
                 retry=ir.RetryPolicy(max_attempts=2, backoff=0.01, max_backoff=0.01))
    with pytest.raises(ExtractError, match=r"GET http://127\.0\.0\.1:\d+/v1/items failed "
                       r"\(could not connect: \[Errno 111\] Connection refused\) after 2 attempts") as e:
        rows(src)
    assert e.value.transient is True


@pytest.mark.parametrize(("host", "kept"), [("127.0.0.1", True), ("localhost", False)])
def test_a_redirect_keeps_credentials_only_on_the_same_host(
        api: ApiServer, monkeypatch: pytest.MonkeyPatch, host: str, kept: bool) -> None:
    monkeypatch.setenv("TRACE_SECRET", "trace-s3cr3t")
    port = api.url.rsplit(":", 1)[1]
    src = source(api.url, "redirect", records="data",
                 params={"to": f"http://{host}:{port}/single?n=2"},
                 headers={"X-Trace": ir.EnvRef(name="TRACE_SECRET")})
    assert rows(src) == [typed_record(0), typed_record(1)]
    first, second = api.log
    assert (first.status, second.path) == (302, "/single")
    assert ("x-trace" in second.headers) is kept
