"""Which failures a retry may cure, and the retry loop (our own seam, no network)."""

from __future__ import annotations

import errno

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from foundry_dsl.storage.retry import Backoff, call_with_retry, is_transient


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (_client_error("SlowDown", 503), True),
        (_client_error("InternalError", 500), True),
        (_client_error("Whatever", 502), True),
        (_client_error("TooManyRequestsException", 429), True),
        (_client_error("NoSuchKey", 404), False),
        (_client_error("AccessDenied", 403), False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (ConnectionResetError(errno.ECONNRESET, "reset"), True),
        (TimeoutError("slow"), True),
        (FileNotFoundError("gone"), False),
        (PermissionError("no"), False),
        (ValueError("bad"), False),
    ],
)
def test_is_transient_classifies_by_type_and_status(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_is_transient_looks_through_the_cause_chain() -> None:
    wrapped = OSError(errno.EIO, "wrapped")
    wrapped.__cause__ = _client_error("SlowDown", 503)
    assert is_transient(wrapped) is True


def test_a_transient_failure_is_retried_until_it_succeeds() -> None:
    calls, waits = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("reset")
        return "ok"

    assert call_with_retry(flaky, Backoff(attempts=5, base=1, cap=8), str, sleep=waits.append) == "ok"
    assert len(calls) == 3
    assert len(waits) == 2
    assert 0 <= waits[0] <= 1 and 0 <= waits[1] <= 2


def test_a_terminal_failure_is_not_retried() -> None:
    calls = []

    def missing() -> None:
        calls.append(1)
        raise FileNotFoundError("gone")

    with pytest.raises(FileNotFoundError):
        call_with_retry(missing, Backoff(attempts=5), str, sleep=lambda s: None)
    assert len(calls) == 1


def test_retries_stop_after_the_last_attempt() -> None:
    calls = []

    def down() -> None:
        calls.append(1)
        raise TimeoutError("slow")

    with pytest.raises(TimeoutError):
        call_with_retry(down, Backoff(attempts=4), str, sleep=lambda s: None)
    assert len(calls) == 4


def test_backoff_never_waits_longer_than_the_cap() -> None:
    backoff = Backoff(attempts=10, base=1, cap=3)
    assert max(backoff.delay(9) for _ in range(200)) <= 3
