"""Source layer, API: one logical request → one successful response, through faults.

:class:`HttpClient` hands the extractor a :class:`Response` (status, headers,
body bytes) after applying credentials, the per-pipeline rate limit (a token
bucket shared by every fetching thread) and retries: connection errors, read
timeouts, 429 and 5xx are retried with exponential backoff and jitter,
honouring ``Retry-After``; a 401 lets OAuth2 renew its token once. Anything
else, or a failure that outlives the retry budget, is an
:class:`~foundry_dsl.errors.ExtractError` naming the redacted URL and status.

Credentials in a URL (``https://user:password@host``) never go on the wire in
the URL: they become an ``Authorization: Basic`` header, as with curl and
requests, sent to that URL's origin only, and an error when the source has an
``auth`` block as well. Every URL shown is passed through
:func:`foundry_dsl.urls.redact_url`.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from foundry_dsl import ir, urls
from foundry_dsl.backoff import wait
from foundry_dsl.errors import ExtractError, redact
from foundry_dsl.sources.http.auth import Authenticator, BasicAuthenticator, authenticator_for
from foundry_dsl.sources.http.transport import Response, Transport, TransportError

log = logging.getLogger("foundry.api")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 600.0
USER_AGENT = "foundry"  # a server asking for longer than this is treated as down


class Cancelled(Exception):
    """The extraction stopped (finished early or failed elsewhere); drop this request."""


class RateLimiter:
    """At most ``rate`` requests per second, with no burst: a request waits its turn."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


def with_params(url: str, params: Mapping[str, Any]) -> str:
    """``url`` with ``params`` merged into its query (params win over the URL's own)."""
    if not params:
        return url
    if _plain(url):  # nothing to merge: what the general path below gives, at a third the cost
        return f"{url}?{urlencode([(k, _param_text(v)) for k, v in params.items()])}"
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend((k, _param_text(v)) for k, v in params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _plain(url: str) -> bool:
    """An http(s) URL with a host and without query or fragment that ``urlsplit`` and
    ``urlunsplit`` would hand back unchanged (ASCII, printable, no IPv6 brackets)."""
    rest = url.partition("://")[2]
    return (url.startswith(("http://", "https://")) and url.isascii() and url.isprintable()
            and not any(c in url for c in "?#[") and not url.endswith(" ")
            and rest[:1] not in ("", "/"))


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _RedactingFilter(logging.Filter):
    """Masks secrets in urllib3's own debug lines, which print every URL with its query."""

    def __init__(self, client: HttpClient) -> None:
        super().__init__()
        self.client = client

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = self.client.redact_text(text)
        if clean != text:
            record.msg, record.args = clean, ()
        return True


#: urllib3's loggers that print URLs (with their query) at debug level
_URLLIB3_LOGS = ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry")


class HttpClient:
    """Sends the requests of one extraction; safe to share between fetching threads."""

    def __init__(self, source: ir.ApiSource, pipeline: str) -> None:
        self.source = source
        self.pipeline = pipeline
        self.policy = source.retry
        self.limiter = RateLimiter(source.rate_limit)
        # headers that carry credentials are dropped when a redirect leaves the host
        sensitive = {k for k, v in source.headers.items() if isinstance(v, ir.EnvRef)}
        if isinstance(source.auth, ir.ApiKeyAuth) and source.auth.location == "header":
            sensitive.add(source.auth.name)
        self.transport = Transport(source.verify, frozenset(sensitive))
        self.cancelled = threading.Event()
        self.headers = {k: str(ir.resolve(v)) for k, v in source.headers.items()}
        self.params = {
            k: v.resolve() if isinstance(v, ir.EnvRef) else v for k, v in source.params.items()
        }
        self._env_secrets = [
            str(ir.resolve(v))
            for v in (*source.headers.values(), *source.params.values())
            if isinstance(v, ir.EnvRef)
        ]
        self.auth: Authenticator = authenticator_for(source.auth, self._fetch_token)
        # credentials in the source's URL: basic auth for requests to that URL's origin
        self._lock = threading.Lock()
        base = urls.join(str(ir.resolve(source.base_url)), source.endpoint)
        self._url_secrets = urls.url_secrets(base, self.auth.secret_params)
        self._url_auth: BasicAuthenticator | None = None
        self._url_origin = urls.origin(base)
        credentials = urls.split_credentials(base)[1]
        if credentials is not None:
            if source.auth.kind != "none":
                raise self._credentials_clash(base)
            self._url_auth = BasicAuthenticator.from_credentials(*credentials)
        self._log_filter = _RedactingFilter(self)
        for name in _URLLIB3_LOGS:
            logging.getLogger(name).addFilter(self._log_filter)
        if not source.verify:
            log.warning(
                "%s: TLS certificate verification is off (verify = false); "
                "responses could be forged by anyone on the network path",
                pipeline,
            )

    # --- public -------------------------------------------------------------------

    def secrets(self) -> list[str]:
        with self._lock:
            found = list(self._url_secrets)
        return [*self._env_secrets, *self.auth.secrets(), *found]

    def redact_url(self, url: str) -> str:
        """The URL with its userinfo and secret query params masked, every known secret
        replaced."""
        return redact(urls.redact_url(url, self.auth.secret_params), self.secrets())

    def redact_text(self, text: str) -> str:
        """Every known secret, and the credentials of every URL in ``text``, masked."""
        return urls.redact_text(redact(text, self.secrets()), self.auth.secret_params)

    def get(
        self, url: str, params: Mapping[str, Any], body: Mapping[str, Any] | None = None
    ) -> Response:
        """The API's response to the pipeline's method at ``url`` with ``params``."""
        return self._send(self.source.method, url, dict(params), body, authenticate=True)

    def close(self) -> None:
        self.cancelled.set()
        for name in _URLLIB3_LOGS:
            logging.getLogger(name).removeFilter(self._log_filter)
        self.transport.close()

    # --- internals ----------------------------------------------------------------

    def _fetch_token(self, token_url: str, form: dict[str, str]) -> Response:
        return self._send("POST", token_url, {}, None, authenticate=False, form=form)

    def _send(
        self,
        method: str,
        url: str,
        params: dict[str, Any],
        body: Mapping[str, Any] | None,
        *,
        authenticate: bool,
        form: dict[str, str] | None = None,
    ) -> Response:
        url, url_auth = self._url_credentials(url, authenticate=authenticate)
        attempts = self.policy.max_attempts
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            if self.cancelled.is_set():
                raise Cancelled
            headers = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate",
                       "User-Agent": USER_AGENT, **self.headers}
            query = {**self.params, **params} if authenticate else dict(params)
            used = self.auth.prepare(headers, query) if authenticate else None
            if url_auth is not None:
                url_auth.prepare(headers, query)
            full_url = with_params(url, query)
            payload: bytes | None = None
            if form is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                payload = urlencode(form).encode()
            elif body is not None:
                headers["Content-Type"] = "application/json"
                payload = orjson.dumps(body)
            self.limiter.acquire()
            problem: str
            wait: float | None = None
            timed_out = False
            try:
                resp = self.transport.send(method, full_url, headers, payload, self.source.timeout)
            except TransportError as exc:
                problem = self.redact_text(str(exc))[:300]
                timed_out = exc.timed_out
                if not exc.transient:
                    raise self._error(method, full_url, problem, transient=False,
                                      attempt=attempt) from None
            else:
                status = resp.status
                reason = f" {resp.reason}" if resp.reason else ""
                if status < 400:
                    return resp
                if status == 401 and authenticate and not renewed and self.auth.refresh(used):
                    renewed = True  # a renewed token is not a retry of a fault
                    attempt -= 1
                    log.info("pipeline %s: HTTP 401 from %s, renewing the access token",
                             self.pipeline, self.redact_url(full_url))
                    continue
                if status not in RETRY_STATUSES:
                    raise self._error(method, full_url, f"HTTP {status}{reason}",
                                      transient=False, attempt=attempt, body=resp.body)
                problem = f"HTTP {status}{reason}"
                wait = retry_after(resp.headers.get("Retry-After"))
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise self._error(method, full_url, f"{problem}, Retry-After {wait:.0f}s",
                                      transient=True, attempt=attempt)
            if attempt >= attempts:
                raise self._error(method, full_url, problem, transient=True, attempt=attempt,
                                  timed_out=timed_out)
            if wait is None:
                wait = self._backoff(attempt)
            log.warning("pipeline %s: %s %s failed (%s), attempt %d of %d, retrying in %.2fs",
                        self.pipeline, method, self.redact_url(full_url), problem,
                        attempt, attempts, wait)
            if self.cancelled.wait(wait):
                raise Cancelled

    def _url_credentials(
        self, url: str, *, authenticate: bool
    ) -> tuple[str, BasicAuthenticator | None]:
        """``url`` without userinfo, and the basic auth this request sends for a URL's
        credentials: its own, or the source URL's when it goes to the same origin."""
        bare, credentials = urls.split_credentials(url)
        if credentials is not None:
            if authenticate and self.source.auth.kind != "none":
                raise self._credentials_clash(url)
            known = self._url_auth
            if known is not None and credentials == (known.username, known.password):
                return bare, known  # the source URL's, as every page of offset pagination
            with self._lock:
                self._url_secrets = list(dict.fromkeys(
                    [*self._url_secrets, *urls.url_secrets(url, self.auth.secret_params)]))
            return bare, BasicAuthenticator.from_credentials(*credentials)
        if authenticate and self._url_auth is not None and urls.origin(url) == self._url_origin:
            return url, self._url_auth
        return url, None

    def _credentials_clash(self, url: str) -> ExtractError:
        return ExtractError(
            f"pipeline {self.pipeline}: the URL {self.redact_url(url)} carries credentials "
            f"(user:password@) and the source has an auth {self.source.auth.kind} block as "
            "well; send one set: take them out of the URL, and for basic auth write "
            'auth basic { username = "...", password = env("...") }'
        )

    def _backoff(self, attempt: int) -> float:
        """Exponential with "equal jitter": half fixed, half random, capped."""
        return wait(attempt, self.policy.backoff, self.policy.max_backoff, "equal")

    def _error(
        self,
        method: str,
        url: str,
        problem: str,
        *,
        transient: bool,
        attempt: int,
        body: bytes | None = None,
        timed_out: bool = False,
    ) -> ExtractError:
        from foundry_dsl.sources.http.records import snippet

        tries = f" after {attempt} attempt{'s' if attempt != 1 else ''}"
        detail = f"; the body starts with {self.redact_text(snippet(body))}" if body else ""
        advice = (
            "check that the API is up, or raise timeout (the limit for a whole response) "
            "or retry.max_attempts"
            if timed_out
            else "check that the API is up, or raise retry.max_attempts"
            if transient
            else "check the URL, params and credentials"
        )
        return ExtractError(
            f"pipeline {self.pipeline}: {method} {self.redact_url(url)} failed "
            f"({problem}){tries}{detail}; nothing of this run was committed and the cursor "
            f"did not move: {advice}, then run it again",
            transient=transient,
        )
