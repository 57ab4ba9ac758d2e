"""Source layer, API: one HTTP exchange on pooled connections, nothing more.

Hands :mod:`~foundry_dsl.sources.http.client` a :class:`Response` or a
:class:`TransportError` that says whether a retry may cure it. Built on
urllib3 directly (the library under ``requests``): on a page-per-request
workload ``requests``' own layers cost about as much Python time as parsing
the page, and that time competes with conversion for the GIL. What
``requests`` would add is kept: the system's proxy settings (``HTTPS_PROXY``,
``NO_PROXY``), certifi's CA bundle, redirects that drop credentials when they
leave the host, and gzip/deflate decoding.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    HTTPError,
    LocationValueError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

POOL_SIZE = 8  # connections kept per host: more than the fetching threads


@dataclass(frozen=True)
class Response:
    url: str  # as sent, with params; never log it unredacted
    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class TransportError(Exception):
    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class Transport:
    """Thread-safe: urllib3's pool managers may be shared by every fetching thread."""

    def __init__(self, verify: bool, sensitive_headers: frozenset[str] = frozenset()) -> None:
        self.verify = verify
        self.retries = urllib3.Retry(
            total=None, connect=0, read=0, other=0, status=0, redirect=10,
            raise_on_redirect=True,
            remove_headers_on_redirect=urllib3.Retry.DEFAULT_REMOVE_HEADERS_ON_REDIRECT
            | {h.lower() for h in sensitive_headers},
        )
        self._managers: dict[str | None, urllib3.PoolManager] = {}
        self._lock = threading.Lock()
        if not verify:
            # the user opted out and foundry warned once; not once per request
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
             timeout: float) -> Response:
        try:
            resp = self._manager(url).request(
                method,
                url,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                retries=self.retries,
                preload_content=True,
            )
        except MaxRetryError as exc:
            raise _classify(exc.reason or exc) from None
        except HTTPError as exc:
            raise _classify(exc) from None
        return Response(url, resp.status, resp.reason or "", resp.headers, resp.data)

    def close(self) -> None:
        with self._lock:
            for m in self._managers.values():
                m.clear()
            self._managers.clear()

    def _manager(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
            proxy = None
        with self._lock:
            manager = self._managers.get(proxy)
            if manager is None:
                options: dict[str, Any] = {"maxsize": POOL_SIZE, "block": False}
                if self.verify:
                    options.update(cert_reqs="CERT_REQUIRED", ca_certs=_ca_bundle())
                else:
                    options.update(cert_reqs="CERT_NONE")
                manager = (urllib3.ProxyManager(proxy, **options) if proxy
                           else urllib3.PoolManager(**options))
                self._managers[proxy] = manager
            return manager


def _ca_bundle() -> str | None:
    try:
        import certifi
    except ImportError:  # the system's store, as urllib3 does by default
        return None
    return str(certifi.where())


def _classify(exc: BaseException) -> TransportError:
    """Connection, timeout and protocol failures are transient; TLS and bad URLs are not."""
    text = str(exc)
    if isinstance(exc, SSLError):
        return TransportError(f"TLS error: {text}", transient=False)
    if isinstance(exc, LocationValueError):
        return TransportError(f"invalid URL: {text}", transient=False)
    if isinstance(exc, ProxyError):
        return TransportError(f"proxy error: {text}", transient=False)
    if isinstance(exc, MaxRetryError):
        return TransportError("too many redirects", transient=False)
    if isinstance(exc, NewConnectionError):
        return TransportError(f"could not connect: {text.rsplit(': ', 1)[-1]}", transient=True)
    if isinstance(exc, ReadTimeoutError | TimeoutError):
        return TransportError("no response within the timeout", transient=True)
    if isinstance(exc, ProtocolError):
        return TransportError(f"connection dropped: {text}", transient=True)
    return TransportError(f"{type(exc).__name__}: {text}", transient=True)
