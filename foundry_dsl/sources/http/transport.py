"""Source layer, API: one HTTP exchange on pooled connections, nothing more.

Hands :mod:`~foundry_dsl.sources.http.client` a :class:`Response` or a
:class:`TransportError` that says whether a retry may cure it. Built on
urllib3 directly (the library under ``requests``): on a page-per-request
workload ``requests``' own layers cost about as much Python time as parsing
the page, and that time competes with conversion for the GIL. What
``requests`` would add is kept: the system's proxy settings (``HTTPS_PROXY``,
``NO_PROXY``), certifi's CA bundle, redirects that drop credentials when they
leave the host, and gzip/deflate decoding.

``timeout`` is a deadline for the whole exchange (connect, headers and body),
not a limit per socket read: a server trickling a byte a second never lets a
per-read timeout expire. urllib3's ``total`` timeout bounds connecting and each
wait; :class:`_Watchdog` shuts the socket down when the deadline passes, whatever
the request is waiting for, and the exchange fails as a timeout.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
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
    def __init__(self, message: str, *, transient: bool, timed_out: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.timed_out = timed_out


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
        self._proxies: dict[tuple[str, str | None], str | None] = {}
        self._lock = threading.Lock()
        if not verify:
            # the user opted out and foundry warned once; not once per request
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
             timeout: float) -> Response:
        """One exchange, complete within ``timeout`` seconds from connect to the body's end."""
        manager = self._manager(url)
        deadline = _Deadline(timeout)
        try:
            _current.deadline = deadline
            _WATCHDOG.watch(deadline)
            resp = manager.request(
                method,
                url,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(total=timeout, connect=timeout, read=timeout),
                retries=self.retries,
                preload_content=False,
            )
            try:
                data = resp.read()
            finally:
                resp.release_conn()
        except MaxRetryError as exc:
            raise deadline.error() or _classify(exc.reason or exc, timeout) from None
        except HTTPError as exc:
            raise deadline.error() or _classify(exc, timeout) from None
        finally:
            _current.deadline = None
            deadline.finish()
        # a body without Content-Length ends when the socket does: cut short by the
        # watchdog, it would pass for a complete one
        error = deadline.error()
        if error is not None:
            raise error
        return Response(url, resp.status, resp.reason or "", resp.headers, data)

    def close(self) -> None:
        with self._lock:
            for m in self._managers.values():
                m.clear()
            self._managers.clear()

    def _manager(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        # the proxy settings scan the whole environment: once per scheme and host
        # (offset pagination asks for the same host a thousand times)
        where = (parts.scheme, parts.hostname)
        if where in self._proxies:
            proxy = self._proxies[where]
        else:
            proxy = urllib.request.getproxies().get(parts.scheme)
            if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
                proxy = None
            self._proxies[where] = proxy
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
                manager.pool_classes_by_scheme = _GUARDED_POOLS
                self._managers[proxy] = manager
            return manager


def _ca_bundle() -> str | None:
    try:
        import certifi
    except ImportError:  # the system's store, as urllib3 does by default
        return None
    return str(certifi.where())


def _classify(exc: BaseException, timeout: float) -> TransportError:
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
    if isinstance(exc, ConnectTimeoutError):
        return TransportError(f"could not connect within timeout = {timeout:g}s", transient=True,
                              timed_out=True)
    if isinstance(exc, ReadTimeoutError | TimeoutError):
        return _timed_out(timeout)
    if isinstance(exc, ProtocolError):
        return TransportError(f"connection dropped: {text}", transient=True)
    return TransportError(f"{type(exc).__name__}: {text}", transient=True)


def _timed_out(timeout: float) -> TransportError:
    return TransportError(
        f"timeout = {timeout:g}s passed before the response was complete",
        transient=True,
        timed_out=True,
    )


# --- the deadline ---------------------------------------------------------------------


class _Deadline:
    """One exchange's deadline and the connections it is using.

    When it passes, :meth:`expire` shuts their sockets down: a read blocked on a
    server that trickles bytes returns at once and the exchange fails.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.at = time.monotonic() + timeout
        self.expired = False
        self.done = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()

    def attach(self, conn: Any) -> None:
        with self._lock:
            if not self.done:
                self._conns.append(conn)
                conn._foundry_deadline = self

    def detach(self, conn: Any) -> bool:
        """The connection goes back to the pool: True when its socket was shut down."""
        with self._lock:
            conn._foundry_deadline = None
            if conn in self._conns:
                self._conns.remove(conn)
                return self.expired
            return False

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            for conn in self._conns:
                sock = getattr(conn, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):  # closed already
                        sock.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            for conn in self._conns:
                conn._foundry_deadline = None
            self._conns.clear()

    def error(self) -> TransportError | None:
        return _timed_out(self.timeout) if self.expired else None


class _Watchdog:
    """One daemon thread that expires deadlines as they pass (a heap, not a timer each)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: _Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.at, next(self._seq), deadline))
            if self._thread is None or not self._thread.is_alive():  # none yet, or forked
                self._thread = threading.Thread(target=self._run, name="foundry-http-deadline",
                                                daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2].done:
                        heapq.heappop(self._heap)  # finished in time
                    if not self._heap:
                        self._cond.wait()
                        continue
                    left = self._heap[0][0] - time.monotonic()
                    if left <= 0:
                        due = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(left)
            due.expire()


_WATCHDOG = _Watchdog()
_current = threading.local()  # the deadline of the exchange this thread is making


class _GuardedPool(HTTPConnectionPool):
    """Hands each connection to the current exchange's deadline while it is in use."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        deadline: _Deadline | None = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.attach(conn)
        return conn

    def _put_conn(self, conn: Any) -> None:
        deadline: _Deadline | None = getattr(conn, "_foundry_deadline", None)
        if deadline is not None and deadline.detach(conn):
            conn.close()  # shut down mid-exchange: the next request opens a new one
        super()._put_conn(conn)


class _GuardedHTTPSPool(_GuardedPool, HTTPSConnectionPool):
    pass


_GUARDED_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": _GuardedPool,
    "https": _GuardedHTTPSPool,
}
