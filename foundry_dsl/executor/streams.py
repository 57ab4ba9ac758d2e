"""Runtime layer: the chunker's pieces → files written concurrently, each streamed.

:class:`FileWriters` opens a file when the first piece of it arrives and
hands each later piece to that file's writers as it comes: one thread per
format (the same slices feed the Parquet and the CSV file), each running a
DuckDB ``COPY`` that pulls the slices from a bounded :class:`Feed`. So a file
in flight costs a few slices and DuckDB's row group, never the whole file.

Backpressure: at most ``workers`` files are in flight (being written or
uploaded), and each feed holds at most ``FEED_DEPTH`` slices and
``FEED_BYTES`` bytes; when the writers are behind, :meth:`FileWriters.put`
blocks, the chunk stage stops reading the extract queue, and the extractors
wait.

A writer's failure surfaces at the next ``put`` (and at
:meth:`FileWriters.finish`); setting ``stop`` releases every writer blocked on
an empty feed.

Every buffer is bounded in bytes, not only in items, so wide rows cost no more
memory than narrow ones: :class:`ByteQueue` is a FIFO queue bounded in bytes
(the feeds use it, and :func:`extract_queue` builds the extract stage's), and
:func:`batch_slices` cuts an extractor's oversized batch into slices of
``SPLIT_BYTES`` before it is queued. A file in flight thus costs at most
``FEED_BYTES`` per format plus DuckDB's row group (``ROW_GROUP_BYTES`` of
:mod:`foundry_dsl.write.writers`, about five times that while DuckDB encodes it).

Hands on one :class:`Written` per file, with how the file ended: a file that
ended ``"full"`` is uploaded at once; one that ended ``"early"`` (the end of
the stream, a widened schema) is kept local, because the end of the batch may
repack it.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from foundry_dsl.executor.jobs import WriteJob, write_stream

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl.write.chunker import Piece
    from foundry_dsl.write.writers import FileInfo

#: slices waiting per format of a file in flight
FEED_DEPTH = 2
#: ... and at most this many bytes of them (two of the chunker's SLICE_BYTES)
FEED_BYTES = 16 * 2**20
#: bytes of batches waiting in the extract queue, whatever the number of parts
QUEUE_BYTES = 32 * 2**20
#: an extractor's batch is queued in slices of at most this many bytes (the chunker's SLICE_BYTES)
SPLIT_BYTES = 8 * 2**20
_POLL = 0.1  # seconds between checks of the stop flag while blocked
_END = object()

T = TypeVar("T")


class ByteQueue(Generic[T]):
    """A FIFO queue bounded in bytes, and in items when ``max_items`` is set.

    ``size(item)`` is what an item weighs. :meth:`put` waits while the items
    queued and the new one would weigh more than ``max_bytes``, but an item
    always goes into a queue that holds no bytes, so one item heavier than the
    budget passes alone instead of blocking for ever. Like :class:`queue.Queue`,
    ``put`` raises :class:`queue.Full` and ``get`` :class:`queue.Empty` when
    ``timeout`` runs out.
    """

    def __init__(
        self, max_bytes: int, *, max_items: int = 0, size: Callable[[T], int] | None = None
    ) -> None:
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._size: Callable[[Any], int] = size or _batch_bytes
        self._items: deque[tuple[T, int]] = deque()
        self._bytes = 0
        self._cond = threading.Condition()

    @property
    def bytes(self) -> int:
        """What the queued items weigh."""
        return self._bytes

    def qsize(self) -> int:
        return len(self._items)

    def _fits(self, n: int) -> bool:
        if self.max_items and len(self._items) >= self.max_items:
            return False
        return self._bytes == 0 or self._bytes + n <= self.max_bytes

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        n = self._size(item)
        with self._cond:
            if not self._cond.wait_for(lambda: self._fits(n), timeout if block else 0):
                raise queue.Full
            self._items.append((item, n))
            self._bytes += n
            self._cond.notify_all()

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._items), timeout if block else 0):
                raise queue.Empty
            item, n = self._items.popleft()
            self._bytes -= n
            self._cond.notify_all()
            return item


def _batch_bytes(batch: Any) -> int:
    from foundry_dsl.write.convert import batch_bytes

    return batch_bytes(batch)


def _item_bytes(item: tuple[str, Any, Any]) -> int:
    kind, _, value = item
    return _batch_bytes(value) if kind == "batch" else 0


def extract_queue(parts: int) -> ByteQueue[tuple[str, Any, Any]]:
    """The extract stage's queue of ``(kind, who, value)`` items.

    At most two items per part (as before) and ``QUEUE_BYTES`` of batches;
    cursors, ends and errors weigh nothing.
    """
    return ByteQueue(QUEUE_BYTES, max_items=max(2, 2 * parts), size=_item_bytes)


def batch_slices(batch: Any, max_bytes: int = SPLIT_BYTES) -> Iterator[Any]:
    """An extractor's batch as slices of at most ``max_bytes``, to queue one by one."""
    from foundry_dsl.write.convert import split_batch

    return split_batch(batch, max_bytes)


def _feed_bytes(item: Any) -> int:
    return 0 if item is _END else _batch_bytes(item)


class Cancelled(Exception):
    """The run stopped (another task failed): a writer gives up its file."""


class WriteFailed(Exception):
    """Which file failed to be written or uploaded, and why."""

    def __init__(self, task: str, cause: BaseException) -> None:
        super().__init__(task)
        self.task = task
        self.cause = cause


class Feed:
    """The slices of one format of one file: the chunk stage puts, a writer iterates."""

    def __init__(self, stop: threading.Event) -> None:
        self._q: ByteQueue[Any] = ByteQueue(FEED_BYTES, max_items=FEED_DEPTH, size=_feed_bytes)
        self._stop = stop
        self.error: BaseException | None = None  # set by the writer when it fails

    def put(self, item: Any, check: Callable[[], None]) -> None:
        while True:
            if self.error is not None:
                raise self.error
            if self._stop.is_set():
                raise Cancelled()
            check()
            try:
                self._q.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def end(self, check: Callable[[], None]) -> None:
        self.put(_END, check)

    def __iter__(self) -> Iterator[pa.Table]:
        while True:
            try:
                item = self._q.get(timeout=_POLL)
            except queue.Empty:
                if self._stop.is_set():
                    raise Cancelled() from None
                continue
            if item is _END:
                return
            yield item


@dataclass
class Written:
    job: WriteJob
    infos: list[FileInfo]
    end: str  # "full" or "early"
    uploaded: bool


@dataclass
class _Open:
    job: WriteJob
    schema: pa.Schema
    feeds: list[Feed]
    end: str | None = None
    future: Future[Written] | None = field(default=None)


class FileWriters:
    def __init__(
        self,
        workers: int,
        formats: tuple[tuple[str, str], ...],
        make_job: Callable[[int, pa.Schema], WriteJob],
        upload: Callable[[WriteJob, list[FileInfo]], None],
        observe: Callable[[int, int], None],
        stop: threading.Event,
        name: str,
    ) -> None:
        self.formats = formats
        self.make_job = make_job
        self.upload = upload
        self.observe = observe
        self.stop = stop
        self._slots = threading.Semaphore(workers)
        self._open: dict[int, _Open] = {}
        self._futures: list[Future[Written]] = []
        self._files = ThreadPoolExecutor(workers, thread_name_prefix=f"{name}:write")
        # the first format is written on the file's thread, the others beside it
        extra = workers * (len(formats) - 1)
        self._formats = ThreadPoolExecutor(extra, thread_name_prefix=f"{name}:format") if extra else None

    # --- the chunk stage's side --------------------------------------------------------

    def put(self, piece: Piece) -> None:
        f = self._open.get(piece.file)
        if f is None:
            assert piece.table is not None, "a file opens with rows"
            # backpressure: wait for a free writer, surfacing an earlier writer's failure
            while not self._slots.acquire(timeout=_POLL):
                self.check()
            self.check()
            schema = piece.table.schema
            f = _Open(self.make_job(piece.file, schema), schema, [Feed(self.stop) for _ in self.formats])
            try:
                f.future = self._files.submit(self._write, f)
            except BaseException:
                self._slots.release()
                raise
            f.future.add_done_callback(lambda _f: self._slots.release())
            self._futures.append(f.future)
            self._open[piece.file] = f
        if piece.table is not None and piece.table.num_rows:
            for feed in f.feeds:
                feed.put(piece.table, self.check)
        if piece.end is not None:
            f.end = piece.end
            for feed in f.feeds:
                feed.end(self.check)
            del self._open[piece.file]

    def check(self) -> None:
        """Raise the first failure of a file written so far."""
        for fut in self._futures:
            if fut.done() and not fut.cancelled():
                exc = fut.exception()
                if exc is not None:
                    raise exc

    def finish(self) -> list[Written]:
        """Every file, once all are written (and the full ones uploaded), in file order."""
        assert not self._open, "every file has ended"
        done = [fut.result() for fut in self._futures]
        return sorted(done, key=lambda w: w.job.index)

    def close(self) -> None:
        """Stop and wait for the writers; call on every exit (``stop`` set on failure)."""
        for fut in self._futures:
            fut.cancel()
        self._files.shutdown(wait=True)
        if self._formats is not None:
            self._formats.shutdown(wait=True)

    # --- the writers' side -------------------------------------------------------------

    def _write_format(self, f: _Open, i: int) -> FileInfo:
        fmt, compression = self.formats[i]
        try:
            return write_stream(f.job, fmt, compression, f.schema, f.feeds[i])
        except BaseException as exc:
            f.feeds[i].error = exc  # the chunk stage may be blocked on this feed
            raise

    def _write(self, f: _Open) -> Written:
        task = f"write[{self.formats[0][0]}]"
        try:
            extra = [
                self._formats.submit(self._write_format, f, i)
                for i in range(1, len(self.formats))
                if self._formats is not None
            ]
            infos = [self._write_format(f, 0)] + [x.result() for x in extra]
            assert f.end is not None  # set before the feeds ended
            if f.end != "full":
                return Written(f.job, infos, f.end, uploaded=False)
            self.observe(infos[0].rows, infos[0].bytes)
            task = "upload"
            self.upload(f.job, infos)
            return Written(f.job, infos, f.end, uploaded=True)
        except BaseException as exc:
            name = os.path.basename(f.job.local_path(self.formats[0][0]))
            raise WriteFailed(f"{task} ({name})", exc) from exc
