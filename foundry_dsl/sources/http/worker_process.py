"""Source layer, API: the page worker processes' side of :mod:`page_workers`.

The helper (started as ``python -c`` running :func:`helper`, or forked ahead of
the run and running :func:`forked_helper`) imports what a page needs once, then
forks a worker per socket; each worker (:func:`serve`) takes its
:class:`Setup`, then fetches, parses and lands every page it is sent, sending
back the page as the paginator reads it, what lands of it, and its log lines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, NoReturn

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.http.client import HttpClient
from foundry_dsl.sources.http.collector import fewer_collections
from foundry_dsl.sources.http.fetch import fetch_page, page_url, where_for
from foundry_dsl.sources.http.landing import PageRecords, land, page_to_arrow
from foundry_dsl.sources.http.pagination import paginator_for

#: what converting a page imports on first use, imported by the helper before it forks
PRELOAD = ("pyarrow", "pyarrow.compute", "foundry_dsl.write.temporal", "foundry_dsl.write.convert")


@dataclass(frozen=True)
class Setup:
    """What a worker needs to fetch and land pages as the extractor would (the
    environment, for env() values, proxies and CA bundles, is inherited)."""

    source: ir.ApiSource
    pipeline: str
    until: str | None  # a replayed window's end: records past it do not land
    level: int  # the extractor's log level: lines below it are not sent


def forked_helper(errors: int, fds: list[int]) -> NoReturn:  # pragma: no cover
    """The helper forked ahead: its own session, only its sockets open, then as
    :func:`helper` (the workers wait for their setup until the extraction asks)."""
    code = 1
    try:
        os.setsid()
        # the handlers of the program that forked it are not the helper's: ended by
        # SIGTERM until it ignores it, and reaping its own workers
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(errors, 1)
        os.dup2(errors, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        # nothing of this process's but the workers' sockets: a lease file or a log
        # kept open here would outlive the run, and the extractor's ends of the
        # sockets kept open here would hide its end from the workers
        keep = sorted({0, 1, 2, *fds})
        for low, high in zip(keep, [*keep[1:], os.sysconf("SC_OPEN_MAX")], strict=True):
            os.closerange(low + 1, high)
        _fork_workers(fds)
        code = 0
    except BaseException as exc:
        with contextlib.suppress(Exception):
            os.write(2, f"{type(exc).__name__}: {exc}\n".encode())
    finally:
        os._exit(code)


class _Out:
    """The worker's end of its pipe, shared by its log handler and its page loop."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        with self.lock:
            self.conn.send(message)


class _Forward(logging.Handler):
    def __init__(self, out: _Out) -> None:
        super().__init__()
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # the extractor is gone: its logs are too
            self.out.send(("log", record.name, record.levelno, record.getMessage()))


def helper() -> None:
    """The helper process: fork a worker per socket its argv names, then wait for them."""
    _fork_workers([int(a) for a in sys.argv[1:]])


def _fork_workers(fds: list[int]) -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    children = []
    # the extractor ends the group with SIGTERM: the workers die of it, the helper stays
    # to reap them, so that when the extractor has reaped the helper no worker is left
    # (ignored before the first fork: a SIGTERM between two forks must not orphan one)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for fd in fds:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                for other in fds:
                    if other != fd:
                        os.close(other)
                serve(Connection(fd))
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    for fd in fds:
        os.close(fd)
    for pid in children:
        os.waitpid(pid, 0)


def serve(conn: Connection) -> None:
    """A worker's life: answer each ``(index, request)`` until the pipe closes."""
    root = logging.getLogger()
    root.handlers[:] = [logging.NullHandler()]  # the extractor has warned of what follows
    try:
        setup: Setup = conn.recv()
    except (EOFError, OSError):
        return
    src = setup.source
    out = _Out(conn)
    client = HttpClient(src, setup.pipeline)
    where = where_for(client, setup.pipeline, src.method)
    pager = paginator_for(src.paginate, page_url(src), {}, where)
    root.handlers[:] = [_Forward(out)]
    root.setLevel(setup.level)
    out.send(("ready",))
    with fewer_collections():
        _answer(conn, out, setup, client, where, pager)


def _answer(conn: Connection, out: _Out, setup: Setup, client: Any, where: Any, pager: Any) -> None:
    src = setup.source
    field = src.incremental.field if src.incremental else None
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        index, request = task
        try:
            page = fetch_page(src, client, where, index, request)
            every = page_to_arrow(page.records, parse_dates=src.parse_dates) \
                if page.records else None
            landed = land(page.records, parse_dates=src.parse_dates, field=field,
                          until=setup.until, converted=every)
            records = PageRecords(page.records, every, src.parse_dates)
            answer: tuple[Any, ...] = ("page", pager.portable(page, records), landed)
        except Exception as exc:
            answer = ("error", exc)
        try:
            out.send(answer)
        except (EOFError, OSError):
            return
        except Exception as exc:  # an answer that does not pickle: the error's words do
            problem = answer[1] if answer[0] == "error" else exc
            out.send(("error", ExtractError(
                f"pipeline {setup.pipeline}: page {index + 1}: {type(problem).__name__}: "
                f"{problem}")))
