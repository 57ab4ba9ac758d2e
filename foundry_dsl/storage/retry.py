"""Storage layer: which backend failures a retry may cure, and the retry loop.

Object stores fail in ways a second attempt fixes: throttling (S3 ``SlowDown``,
HTTP 429/503), server errors (5xx), dropped connections and timeouts. Anything
else (missing file, access denied, a bad request) fails the same way every
time. :func:`is_transient` decides by exception type and HTTP status found
anywhere in the exception's cause chain, never by message text, and without
importing the optional cloud libraries: it matches their class names.
:func:`call_with_retry` runs one storage call with exponential backoff and full
jitter and hands the caller either the result or the last exception.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger("foundry.storage")

#: S3 error codes that mean "too fast" or "server trouble, try again"
TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "ServerBusy",
        "OperationTimedOut",
    }
)

#: class names (in any library's hierarchy) of connection-level failures
TRANSIENT_CLASS_NAMES = frozenset(
    {
        # aiohttp (s3fs, gcsfs, adlfs all use it)
        "ClientConnectionError",
        "ClientOSError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "ClientPayloadError",
        # botocore
        "HTTPClientError",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "ResponseParserError",
        "IncompleteReadError",
        # azure-core
        "ServiceRequestError",
        "ServiceResponseError",
        # fsspec, http.client
        "FSTimeoutError",
        "IncompleteRead",
        "RemoteDisconnected",
    }
)

TERMINAL_TYPES: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries, whatever library raised it."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(code, int):
            return code
    for attr in ("status_code", "status", "code"):  # azure-core, aiohttp, gcsfs HttpError
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    code = getattr(exc, "error_code", None)  # azure-core
    return str(code) if code else None


def is_transient(exc: BaseException) -> bool:
    """True when a retry may cure ``exc``: throttling, 5xx, connection trouble."""
    for e in _chain(exc):
        if isinstance(e, TERMINAL_TYPES):
            return False
        if _error_code(e) in TRANSIENT_CODES:
            return True
        status = _status(e)
        if status is not None:
            return status in (408, 429) or status >= 500
        if isinstance(e, (ConnectionError, TimeoutError, socket.timeout)):
            return True
        if any(c.__name__ in TRANSIENT_CLASS_NAMES for c in type(e).__mro__):
            return True
    return False


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits U(0, min(cap, base * 2**n))."""

    attempts: int = 6
    base: float = 0.2
    cap: float = 10.0

    def delay(self, attempt: int) -> float:
        from foundry_dsl.backoff import wait

        return wait(attempt + 1, self.base, self.cap, "full")


def call_with_retry(
    fn: Callable[[], T],
    backoff: Backoff,
    describe: Callable[[], str],
    on_retry: Callable[[], Any] | None = None,
    sleep: Callable[[float], Any] = time.sleep,
) -> T:
    """``fn()``, retried on transient failures; the last exception propagates."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            attempt += 1
            if attempt >= backoff.attempts or not is_transient(exc):
                raise
            wait = backoff.delay(attempt - 1)
            log.info("retrying %s after a transient failure (attempt %d of %d, waiting %.2fs)",
                     describe(), attempt + 1, backoff.attempts, wait)
            if on_retry is not None:
                on_retry()
            sleep(wait)
