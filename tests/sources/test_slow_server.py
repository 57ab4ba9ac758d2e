"""A server that trickles its answer (slow loris) cannot hold a request past ``timeout``.

``timeout`` is a deadline for the whole exchange, connect + headers + body, not a limit
per socket read: the fixture's /slow_loris route sends a valid page one byte every
0.5 s, so every read gets a byte long before a 1 s per-read timeout, and only a
deadline ends the request. What the tests check is what the server saw (the bytes that
got out before the client hung up, the attempts) and the error; the thread join bounds
are safety nets that turn a hung request into a failure, not measurements.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.http.transport import Transport, TransportError
from tests.e2e.helpers import foundry
from tests.fixtures.api_server import SLOW_LORIS_BODY, ApiServer, Logged, rows, source

TWO_TRIES = ir.RetryPolicy(max_attempts=2, backoff=0.01, max_backoff=0.02)
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(
    SLOW_LORIS_BODY)
SAFETY_NET = 30.0  # seconds; a request the deadline does not end runs ~10 s (body) or ~45 s


def bounded(fn: Callable[[], Any]) -> Any:
    """``fn()`` in a thread: its result or exception, or a failure if it is still running
    after SAFETY_NET seconds (the timeout was not enforced)."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:
            out["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(SAFETY_NET)
    if t.is_alive():
        pytest.fail(f"the request was still running after {SAFETY_NET:g}s: timeout not enforced")
    if "error" in out:
        raise out["error"]
    return out.get("value")


def hung_up(api: ApiServer, route: str = "slow_loris") -> list[Logged]:
    """The route's requests, once the server has seen each client leave or get its whole
    answer: waited for by the server's events, not a clock (the bound is a safety net)."""

    def settled() -> bool:
        seen = api.requests_to(route)
        return bool(seen) and all(
            r.events and r.events[-1] in ("hung up", "complete") for r in seen)

    if not api.wait_until(settled, SAFETY_NET):
        pytest.fail(f"the server never saw the clients of /{route} leave: "
                    f"{[r.events for r in api.requests_to(route)]}")
    return api.requests_to(route)


@pytest.mark.parametrize("phase", ["body", "headers"])
def test_a_trickling_server_fails_the_request_at_the_deadline_and_it_is_retried(
        api: ApiServer, phase: str) -> None:
    src = source(api.url, f"slow_loris?phase={phase}&delay=0.5", records="data", timeout=1,
                 retry=TWO_TRIES)
    with pytest.raises(ExtractError) as info:
        bounded(lambda: rows(src))
    error = info.value
    assert error.transient is True
    assert f"GET {api.url}/slow_loris?phase={phase}&delay=0.5 failed" in error.message
    assert "timeout = 1s passed before the response was complete) after 2 attempts" in (
        error.message)
    assert "raise timeout" in error.message
    requests = hung_up(api)
    assert len(requests) == 2  # a timeout is transient: retried per the retry policy
    trickled = len(SLOW_LORIS_BODY) + (len(HEAD) if phase == "headers" else 0)
    for r in requests:
        assert r.events[-1] == "hung up", r.events  # the client left; the server did not finish
        # at one byte per 0.5 s, a 1 s deadline lets a handful out, far from all of them
        # (the deadline is the feature: the margin is five times the deadline)
        assert r.events.count("byte") < trickled // 2, r.events
        assert ("headers" in r.events) == (phase == "body")


def test_a_slow_answer_within_the_deadline_lands(api: ApiServer) -> None:
    src = source(api.url, "slow_loris?delay=0.01", records="data", timeout=10, retry=TWO_TRIES)
    assert bounded(lambda: rows(src)) == [{"id": 0}]
    [r] = hung_up(api)
    assert r.events[-1] == "complete"


def test_after_a_deadline_the_pool_serves_the_next_request_on_a_sound_connection(
        api: ApiServer) -> None:
    transport = Transport(verify=True)
    try:
        with pytest.raises(TransportError) as info:
            bounded(lambda: transport.send("GET", f"{api.url}/slow_loris?delay=0.5", {}, None, 1))
        assert info.value.transient and info.value.timed_out
        for _ in range(3):
            resp = bounded(lambda: transport.send("GET", f"{api.url}/single?n=2", {}, None, 5))
            assert resp.status == 200 and b'"id":1' in resp.body
    finally:
        transport.close()
    assert [r.status for r in api.requests_to("single")] == [200, 200, 200]


def test_foundry_apply_on_a_trickling_server_commits_nothing(tmp_path: Path, api: ApiServer) -> None:
    (tmp_path / "pipeline.bronze").write_text(f"""platform lake {{
  storage local {{
    path = "out"
  }}
  partition = date
  formats = [parquet]
}}

pipeline fake.slow {{
  platform = lake
  source api {{
    base_url = "{api.url}"
    endpoint = "/slow_loris"
    params {{
      delay = 0.5
    }}
    records = "data"
    timeout = 1
    retry {{
      max_attempts = 2
      backoff = 0.01
      max_backoff = 0.02
    }}
  }}
}}
""")
    out = foundry(tmp_path, "apply", "pipeline.bronze", "--date", "2024-01-02",
                  timeout=SAFETY_NET * 2)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "/slow_loris?delay=0.5 failed (timeout = 1s passed before the response was " \
           "complete) after 2 attempts" in text
    assert len(hung_up(api)) == 2
    landed = [p for p in (tmp_path / "out").rglob("*") if p.is_file()] \
        if (tmp_path / "out").exists() else []
    assert not [p for p in landed if p.suffix == ".parquet" or p.name == "_metadata.json"]
