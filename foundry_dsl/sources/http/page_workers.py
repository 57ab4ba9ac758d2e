"""Source layer, API: pages fetched, parsed and converted in worker processes.

A process holds the GIL for all of its Python: sending a request and reading
the response's headers, parsing the JSON and converting the records to Arrow
each cost about a third of a page, so against a fast, nearby API one process
is held to one core however many threads it runs. ``offset`` and ``page``
pagination know every request ahead, so once an extraction shows it is long
and its pages fast (see ``sources/api.py``), the extractor hands its next
pages to worker processes. Each worker fetches, parses and lands its pages
(:func:`foundry_dsl.sources.http.landing.land`) and sends back, per page:

* the Arrow batch, its record count and the top of the incremental field;
* the page as the paginator reads it (:meth:`Paginator.portable`: the stated
  total, and the records in Arrow for the page-loop check);
* its log lines, as they happen, which the extractor logs as its own (so the
  run's redaction applies to them);
* or the page's error, raised by the extractor when the stop rules reach it.

Page ``k`` goes to worker ``k mod n``: each worker answers its pages in order,
so the extractor reads them back in page order.

The workers are forked by one helper process (``python -c`` running
:func:`~foundry_dsl.sources.http.worker_process.helper`) that imports what a page needs once, then forks: a worker
costs a fork, not an interpreter's start-up, and nothing is forked from the
extractor's own process, whose threads (the executor's, DuckDB's) a fork
would copy mid-step. Not ``multiprocessing``: it would import the program's
``__main__`` in each worker, running a script without a main guard again. The
helper leads its own process group, so ending the extraction ends every
worker, whatever it is doing (pages fetched past the end are dropped unread);
a worker that dies is an error naming its page. Workers are used only where
their requests are the same as the extractor's own (:func:`usable`).

Starting a helper costs an interpreter and its imports, about half a second
during which the extractor fetches alone. So when a run is about to start and
its process is still single-threaded, :func:`fork_ahead` forks the helper and
its workers from it at once, if one of the run's sources may use them: the
fork copies the imports already done, and the workers wait, ready, for the
first extraction that asks for them. A process with a second thread is never
forked (the copy would hold whatever lock that thread held); its extractions
start their helper as above. :func:`discard_spare` ends an unused one.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.http import worker_process
from foundry_dsl.sources.http.client import Cancelled
from foundry_dsl.sources.http.pagination import known_ahead
from foundry_dsl.sources.http.worker_process import Setup, forked_helper

log = logging.getLogger("foundry.api")

WORKERS = 2  # worker processes per extraction, at most...
DEPTH = 2  # ...each sent this many pages ahead
#: auth kinds whose credentials every process sends alike (OAuth2 renews one token)
SHARED_AUTH = frozenset({"none", "bearer", "api_key", "basic"})


_slots_lock = threading.Lock()
_slots_used = 0  # worker processes running in this process, for every extraction


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def usable(src: ir.ApiSource) -> bool:
    """Whether this extraction's pages may be fetched by worker processes: no OAuth2 token
    to share, no rate limit to split, more than one CPU, not inside a daemon process
    (a Dask worker: a cluster's parallelism is its workers), and a ``fork``."""
    return (src.auth.kind in SHARED_AUTH and src.rate_limit is None and _cpus() > 1
            and hasattr(os, "fork") and not multiprocessing.current_process().daemon)


def _pages_ahead(src: ir.Source) -> bool:
    """Whether ``src`` may hand pages to workers: requests known ahead, and usable."""
    return isinstance(src, ir.ApiSource) and known_ahead(src.paginate) and usable(src)


def _take_slots(wanted: int) -> int:
    """Up to ``wanted`` worker slots: one worker per CPU across every extraction of the
    process, so two API pipelines running at once do not start four workers on two CPUs."""
    global _slots_used
    with _slots_lock:
        granted = max(0, min(wanted, _cpus() - _slots_used))
        _slots_used += granted
        return granted


def _give_slots(count: int) -> None:
    global _slots_used
    with _slots_lock:
        _slots_used -= count


class _Forked:
    """A helper forked from this process, waited for like a ``subprocess.Popen``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped already
                self.returncode = 0
                break
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.01)
        return self.returncode


@dataclass
class _Spare:
    """A helper forked ahead, its workers waiting for their setup."""

    helper: _Forked
    conns: list[Connection]
    errors: IO[bytes]  # the helper's output, read only when it fails


_spare: _Spare | None = None


def fork_ahead(sources: Iterable[ir.Source]) -> None:
    """Fork a helper and its workers now, for the first extraction of ``sources`` that
    asks for workers, when one of them may and this process has no other thread."""
    global _spare
    if _spare is not None or not any(_pages_ahead(s) for s in sources) or not _one_thread():
        return
    pairs = [socket.socketpair() for _ in range(min(WORKERS, _cpus()))]
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - the spare owns it until it ends
    try:
        pid = os.fork()
    except OSError:  # no process to spare (a limit): extractions start their own, as before
        for a, b in pairs:
            a.close()
            b.close()
        errors.close()
        return
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        forked_helper(errors.fileno(), [b.fileno() for _, b in pairs])
    for _, b in pairs:
        b.close()
    _spare = _Spare(_Forked(pid), [Connection(a.detach()) for a, _ in pairs], errors)
    log.debug("page worker processes forked ahead of the run (process group %d)", pid)


def discard_spare() -> None:
    """End the helper forked ahead if no extraction took it."""
    global _spare
    with _slots_lock:
        spare, _spare = _spare, None
    if spare is not None:
        for conn in spare.conns:
            conn.close()
        _end(spare.helper)
        spare.errors.close()


def _take_spare(count: int) -> _Spare | None:
    global _spare
    with _slots_lock:
        if _spare is None or len(_spare.conns) != count:
            return None
        spare, _spare = _spare, None
        return spare


def _one_thread() -> bool:
    """Whether this process runs one thread, native ones (DuckDB's, Arrow's) counted."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc: not Linux, where fork is the platform's own risk
        return False


class PageWorkers:
    """Worker processes of one extraction, started in the background."""

    def __init__(self, setup: Setup, count: int, cancelled: threading.Event) -> None:
        self.setup = setup
        self.count = count
        self.cancelled = cancelled
        self.ready = threading.Event()  # every worker is up
        self.settled = threading.Event()  # up, or failed to start, or ended before
        self._outstanding = [0] * count  # pages sent to each worker and not yet read back
        self._conns: list[Connection] = []
        self._helper: subprocess.Popen[bytes] | _Forked | None = None
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._start, name="foundry-api-workers", daemon=True).start()

    @classmethod
    def start(cls, setup: Setup, cancelled: threading.Event) -> PageWorkers | None:
        """Workers for this extraction, or ``None`` when it may not have any."""
        if not usable(setup.source):
            return None
        count = _take_slots(WORKERS)
        return cls(setup, count, cancelled) if count else None

    @property
    def pid(self) -> int | None:
        """The helper's process id, which is its workers' process group; ``None`` until
        it has started."""
        helper = self._helper
        return helper.pid if helper is not None else None

    @property
    def window(self) -> int:
        """How many pages to keep in flight."""
        return self.count * DEPTH

    def submit(self, index: int, request: Any) -> RemotePage:
        """Send page ``index`` to the worker with the fewest pages outstanding; read its
        answer with ``result()``."""
        worker = self._outstanding.index(min(self._outstanding))
        self._outstanding[worker] += 1
        page = RemotePage(self, worker, index)
        try:
            self._conns[worker].send((index, request))
        except OSError:  # the worker is gone: an error once the stop rules reach this page
            page.error = self._died(index)
        return page

    def receive(self, worker: int, index: int) -> tuple[Any, Any]:
        """Worker ``worker``'s answer for page ``index``: the portable page and what lands
        of it. Its log lines are logged on the way."""
        conn = self._conns[worker]
        while True:
            while not conn.poll(0.1):
                if self.cancelled.is_set():
                    raise Cancelled
            try:
                message = conn.recv()
            except (EOFError, OSError):
                raise self._died(index) from None
            kind = message[0]
            if kind == "log":
                _, name, level, text = message
                logging.getLogger(name).log(level, "%s", text)
                continue
            self._outstanding[worker] -= 1
            if kind == "page":
                return message[1], message[2]
            raise message[1]

    def close(self) -> None:
        """Stop every worker, whatever it is doing (its pages are no longer wanted)."""
        with self._lock:
            self._closed = True
            helper = self._helper
        if helper is not None:
            _end(helper)
        for conn in self._conns:
            conn.close()
        _give_slots(self.count)

    # --- internals ----------------------------------------------------------------

    def _start(self) -> None:
        spare = _take_spare(self.count)
        with spare.errors if spare is not None else tempfile.TemporaryFile() as errors:
            ours: list[Connection] = []
            try:
                ours = spare.conns if spare is not None else self._launch(errors)
                if spare is not None:
                    with self._lock:
                        closed = self._closed
                        if not closed:
                            self._helper = spare.helper
                    if closed:  # close() has been and gone: the helper is ours to end
                        _end(spare.helper)
                        raise _Ended
                for conn in ours:
                    conn.send(self.setup)
                for conn in ours:  # each worker says so once it can fetch
                    if conn.recv() != ("ready",):
                        raise RuntimeError("a worker did not start")
                with self._lock:
                    if self._closed:
                        raise _Ended
                    self._conns = ours
                    self.ready.set()
                log.debug("pipeline %s: %d page worker processes up%s", self.setup.pipeline,
                          self.count, " (forked ahead)" if spare is not None else "")
            except Exception as exc:
                for conn in ours:
                    conn.close()
                if not isinstance(exc, _Ended) and not self._closed:  # ending them is no failure
                    errors.seek(0)
                    said = errors.read()[-2000:].decode(errors="replace").strip()
                    # what the helper said last is its error (not a traceback); without it,
                    # what this side saw of the helper's end
                    why = said.splitlines()[-1] if said else f"{type(exc).__name__}: {exc}"
                    log.info("pipeline %s: the page worker processes did not start (%s); "
                             "every page is fetched by this process", self.setup.pipeline, why)
            finally:
                self.settled.set()

    def _launch(self, errors: IO[bytes]) -> list[Connection]:
        """Start a helper (``python -c``) and its workers; this side's ends of their pipes."""
        pairs = [socket.socketpair() for _ in range(self.count)]
        ours = [Connection(a.detach()) for a, _ in pairs]
        theirs = [b.detach() for _, b in pairs]
        root = str(Path(__file__).resolve().parents[3])  # where foundry_dsl is imported from
        code = (f"import sys; sys.path.insert(0, {root!r}); "
                f"from {worker_process.__name__} import helper; helper()")
        try:
            with self._lock:
                if self._closed:
                    raise _Ended
                # its own session: a signal to its group reaches every worker it forks; its
                # output (an interpreter that cannot start says why there) goes to a file
                # read only when it fails, never onto the user's terminal
                self._helper = subprocess.Popen(
                    [sys.executable, "-c", code, *map(str, theirs)], pass_fds=theirs,
                    stdin=subprocess.DEVNULL, stdout=errors, stderr=errors,
                    start_new_session=True)
        except BaseException:
            for conn in ours:
                conn.close()
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        return ours

    def _died(self, index: int) -> ExtractError:
        return ExtractError(
            f"pipeline {self.setup.pipeline}: the worker process fetching page {index + 1} "
            "stopped before answering; nothing of this run was committed and the cursor did "
            "not move: run it again"
        )


class _Ended(Exception):
    """The extraction ended before its workers started."""


def _end(helper: subprocess.Popen[bytes] | _Forked) -> None:
    """End the helper's process group: the helper and every worker it forked."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(helper.pid, sig)
        try:
            helper.wait(5)
            return
        except subprocess.TimeoutExpired:
            continue


class RemotePage:
    """A page sent to a worker, read like a thread pool's future; ``landed`` is what
    lands of it once ``result()`` has returned."""

    def __init__(self, workers: PageWorkers, worker: int, index: int) -> None:
        self.workers = workers
        self.worker = worker
        self.index = index
        self.landed: Any = None
        self.error: ExtractError | None = None  # the page could not be sent

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        page, self.landed = self.workers.receive(self.worker, self.index)
        return page
