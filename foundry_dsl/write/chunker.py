"""Runtime, data path: a stream of Arrow tables → the slices of each output file.

The :class:`Chunker` decides which rows go to which file and hands them on as
:class:`Piece` values, slice by slice, so a writer can stream a file without
anyone holding the whole file in memory. Up to ``lanes`` files are open at
once (one per writer) and slices go to them in turn, so several files are
written concurrently; each file keeps its rows in stream order.

Files rotate at ``max_rows`` (exactly) and at ``max_bytes`` (0 = no limit; with
neither limit the batch is one file). Bytes on disk are not Arrow's bytes in
memory (Parquet encodes and compresses), so the chunker measures bytes per row
by writing a sample of one row group with DuckDB (Parquet encodes each row
group on its own, so one row group predicts a file of many), and then follows
the sizes of the files actually written (:meth:`Chunker.observe`).

Memory is bounded in bytes, not rows, so wide rows cost no more than narrow
ones: a slice is at most ``slice_rows`` rows and at most ``slice_bytes`` bytes
of Arrow buffers (one row is the smallest slice), and the sample is one row
group as files get them: ``SAMPLE_ROWS`` rows or ``SAMPLE_BYTES`` bytes. The
chunker holds at most one slice plus the table being added (one sample before
the first measurement); slices share the input's buffers, nothing is copied.
:func:`split` cuts an oversized batch into byte-bounded slices before it is
queued.

A file ends ``"full"`` at its limit, or ``"early"``: when the stream ends, or
when the batch schema widened (an open file cannot change its schema). The
executor repacks early-ended files so that only the last file of a batch is
small.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import pyarrow as pa

from foundry_dsl.write.writers import DEFAULT_ROW_GROUP_SIZE, ROW_GROUP_BYTES

#: rows measured before the first file opens: one row group, encoded as files encode it
SAMPLE_ROWS = DEFAULT_ROW_GROUP_SIZE
#: ... or fewer, when that many rows hold more bytes than a row group may
SAMPLE_BYTES = ROW_GROUP_BYTES
#: rows handed to a writer at a time; a file holds several slices
SLICE_ROWS = 65_536
#: bytes (Arrow buffers) handed to a writer at a time, at most: wide rows make short slices
SLICE_BYTES = 8 * 2**20
#: re-measurements when a file is smaller than the sample
_REFINE = 2

End = Literal["full", "early"]


@dataclass(frozen=True)
class Piece:
    """The next rows of file number ``file`` (1-based), and whether the file ends after them."""

    file: int
    table: pa.Table | None  # None: only the end of the file
    end: End | None = None


@dataclass
class _Lane:
    file: int = 0  # 0: no file open
    rows: int = 0
    schema: pa.Schema | None = field(default=None)


class Chunker:
    def __init__(
        self,
        max_rows: int,
        max_bytes: int,
        *,
        fmt: str = "parquet",
        compression: str = "snappy",
        lanes: int = 1,
        slice_rows: int = SLICE_ROWS,
        slice_bytes: int = SLICE_BYTES,
        sample_bytes: int = SAMPLE_BYTES,
        scratch_dir: str | None = None,
    ) -> None:
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.fmt = fmt
        self.compression = compression
        # without limits the batch is one file: nothing to spread over writers
        self.lanes = [_Lane() for _ in range(max(1, lanes) if max_rows or max_bytes else 1)]
        self.slice_rows = max(1, slice_rows)
        self.slice_bytes = max(1, slice_bytes)
        self.sample_bytes = max(1, sample_bytes)
        self.scratch_dir = scratch_dir
        self.files = 0  # files opened so far
        self._next = 0  # the lane that gets the next slice
        self._buf: list[pa.Table] = []
        self._sizes: list[int] = []  # bytes of each table in _buf
        self._buffered = 0  # rows in _buf
        self._buffered_bytes = 0
        self._bytes_per_row: float | None = None
        self._observed = False
        self._lock = threading.Lock()

    # --- size estimate ---------------------------------------------------------------

    @property
    def bytes_per_row(self) -> float | None:
        return self._bytes_per_row

    @property
    def buffered_bytes(self) -> int:
        """Bytes of the rows held, not handed on yet."""
        return self._buffered_bytes

    def observe(self, rows: int, file_bytes: int) -> None:
        """Calibrate from a file actually written with ``rows`` rows."""
        if rows <= 0 or file_bytes <= 0:
            return
        with self._lock:
            observed = file_bytes / rows
            # recent files weigh most; a steady stream converges in a few files
            old = self._bytes_per_row
            self._bytes_per_row = (
                observed if old is None or not self._observed else 0.5 * old + 0.5 * observed
            )
            self._observed = True

    def _measure(self, rows: int) -> float:
        from foundry_dsl.write.writers import measure

        sample = self._peek(rows)
        return measure(sample, self.fmt, self.compression, self.scratch_dir) / max(1, sample.num_rows)

    def _calibrate(self) -> None:
        rows = self._front_rows(min(self._buffered, SAMPLE_ROWS), self.sample_bytes)
        self._bytes_per_row = self._measure(rows)
        for _ in range(_REFINE):
            # a file smaller than the sample has fewer rows per row group: measure that
            target = self._target_rows()
            if target >= rows or target >= self._buffered:
                break
            rows = target
            self._bytes_per_row = self._measure(rows)

    def _target_rows(self) -> int:
        limits = []
        if self.max_rows:
            limits.append(self.max_rows)
        if self.max_bytes:
            assert self._bytes_per_row is not None
            limits.append(max(1, int(self.max_bytes / self._bytes_per_row)))
        return min(limits) if limits else 2**62

    # --- buffering ---------------------------------------------------------------------

    def _peek(self, n: int) -> pa.Table:
        parts, need = [], n
        for t in self._buf:
            if need <= 0 or not t.schema.equals(self._buf[0].schema):
                break
            part = t.slice(0, need)
            parts.append(part)
            need -= part.num_rows
        return _concat(parts)

    def _front_rows(self, n: int, max_bytes: int) -> int:
        """How many of the first ``n`` rows (of one schema) fit in ``max_bytes``; at least one."""
        rows, room = 0, max_bytes
        for t, size in zip(self._buf, self._sizes, strict=True):
            if rows >= n or not t.schema.equals(self._buf[0].schema):
                break
            if t.num_rows <= n - rows and size <= room:
                rows, room = rows + t.num_rows, room - size
                continue
            rows += rows_within(t, room, n - rows, at_least_one=rows == 0)
            break
        return rows

    def _take(self, n: int, max_bytes: int) -> pa.Table:
        """Up to ``n`` rows and ``max_bytes`` bytes from the front (at least one row), of one schema."""
        parts, need, room = [], n, max_bytes
        schema = self._buf[0].schema
        while need > 0 and self._buf and self._buf[0].schema.equals(schema):
            t, size = self._buf[0], self._sizes[0]
            if t.num_rows <= need and size <= room:
                parts.append(t)
                self._buf.pop(0)
                self._sizes.pop(0)
                need -= t.num_rows
                room -= size
                self._buffered_bytes -= size
                continue
            k = rows_within(t, room, need, at_least_one=not parts)
            if k:
                head, tail = t.slice(0, k), t.slice(k)
                rest = tail.nbytes
                parts.append(head)
                self._buf[0], self._sizes[0] = tail, rest
                self._buffered_bytes -= size - rest
            break
        chunk = _concat(parts)
        self._buffered -= chunk.num_rows
        return chunk

    # --- pieces ------------------------------------------------------------------------

    def add(self, table: pa.Table) -> list[Piece]:
        """Buffer ``table``; return the pieces that are now ready, in order."""
        if table.num_rows == 0:
            return []
        size = table.nbytes
        self._buf.append(table)
        self._sizes.append(size)
        self._buffered += table.num_rows
        self._buffered_bytes += size
        return self._emit(final=False)

    def flush(self) -> list[Piece]:
        """The rest of the stream; every open file ends (``"early"``)."""
        pieces = self._emit(final=True)
        for lane in sorted(self.lanes, key=lambda la: la.file):
            if lane.file:
                pieces.append(Piece(lane.file, None, "early"))
                lane.file = 0
        return pieces

    def _emit(self, *, final: bool) -> list[Piece]:
        pieces: list[Piece] = []
        if self.max_bytes and self._bytes_per_row is None:
            short = self._buffered < SAMPLE_ROWS and self._buffered_bytes < self.sample_bytes
            if not self._buffered or (not final and short):
                return pieces
            self._calibrate()
        while self._buffered:
            lane = self.lanes[self._next]
            head = self._buf[0].schema
            target = self._target_rows()
            room = target - lane.rows if lane.file and head.equals(lane.schema) else target
            if (
                not final
                and self._buffered < min(self.slice_rows, max(1, room))
                and self._buffered_bytes < self.slice_bytes
            ):
                break  # wait for a whole slice (or the rest of the file)
            if lane.file and not head.equals(lane.schema):
                # the batch schema widened: an open file cannot take the new columns
                pieces.append(Piece(lane.file, None, "early"))
                lane.file = 0
            elif lane.file and lane.rows >= target:
                pieces.append(Piece(lane.file, None, "full"))  # the estimate shrank
                lane.file = 0
            if not lane.file:
                self.files += 1
                lane.file, lane.rows, lane.schema = self.files, 0, head
            table = self._take(min(self.slice_rows, target - lane.rows), self.slice_bytes)
            lane.rows += table.num_rows
            full = lane.rows >= target
            pieces.append(Piece(lane.file, table, "full" if full else None))
            if full:
                lane.file = 0
            self._next = (self._next + 1) % len(self.lanes)
        return pieces


T = TypeVar("T", pa.Table, pa.RecordBatch)


def rows_within(
    t: pa.Table | pa.RecordBatch, max_bytes: int, max_rows: int, *, at_least_one: bool = True
) -> int:
    """How many leading rows of ``t`` (at most ``max_rows``) hold at most ``max_bytes``.

    Bytes are those of the Arrow buffers the rows span (``nbytes`` of the
    slice); what every slice shares, such as a dictionary, is not counted. A
    row wider than ``max_bytes`` is still one row when ``at_least_one``.
    """
    rows = min(t.num_rows, max_rows)
    if rows <= 0:
        return 0
    shared = t.slice(0, 0).nbytes
    size = (t.nbytes if rows == t.num_rows else t.slice(0, rows).nbytes) - shared
    while size > max_bytes and rows > 0:
        # rows of uneven width: shrink in proportion, at least one row a step
        rows = min(rows - 1, int(rows * max_bytes / size))
        size = t.slice(0, rows).nbytes - shared if rows else 0
    return max(rows, 1) if at_least_one else rows


def split(batch: T, max_bytes: int = SLICE_BYTES) -> Iterator[T]:
    """``batch`` as consecutive slices of at most ``max_bytes`` each (zero copy).

    A batch within the budget is handed on as is; a row wider than the budget
    is a slice of its own.
    """
    if batch.nbytes <= max_bytes:
        yield batch
        return
    start = 0
    while start < batch.num_rows:
        rest = batch.slice(start)
        n = rows_within(rest, max_bytes, rest.num_rows)
        yield rest.slice(0, n)
        start += n


def _concat(parts: list[pa.Table]) -> pa.Table:
    if len(parts) == 1:
        return parts[0]
    return pa.concat_tables(parts)
