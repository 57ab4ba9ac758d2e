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
the sizes of the files actually written (:meth:`Chunker.observe`). It holds
at most one slice plus the table being added (one row group before the first
measurement); slices share the input's buffers, nothing is copied.

A file ends ``"full"`` at its limit, or ``"early"``: when the stream ends, or
when the batch schema widened (an open file cannot change its schema). The
executor repacks early-ended files so that only the last file of a batch is
small.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from foundry_dsl.io.writers import DEFAULT_ROW_GROUP_SIZE

#: rows measured before the first file opens: one row group, encoded as files encode it
SAMPLE_ROWS = DEFAULT_ROW_GROUP_SIZE
#: rows handed to a writer at a time; a file holds several slices
SLICE_ROWS = 65_536
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
        scratch_dir: str | None = None,
    ) -> None:
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.fmt = fmt
        self.compression = compression
        # without limits the batch is one file: nothing to spread over writers
        self.lanes = [_Lane() for _ in range(max(1, lanes) if max_rows or max_bytes else 1)]
        self.slice_rows = max(1, slice_rows)
        self.scratch_dir = scratch_dir
        self.files = 0  # files opened so far
        self._next = 0  # the lane that gets the next slice
        self._buf: list[pa.Table] = []
        self._buffered = 0
        self._bytes_per_row: float | None = None
        self._observed = False
        self._lock = threading.Lock()

    # --- size estimate ---------------------------------------------------------------

    @property
    def bytes_per_row(self) -> float | None:
        return self._bytes_per_row

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
        from foundry_dsl.io.writers import measure

        sample = self._peek(rows)
        return measure(sample, self.fmt, self.compression, self.scratch_dir) / max(1, sample.num_rows)

    def _calibrate(self) -> None:
        rows = min(self._buffered, SAMPLE_ROWS)
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

    def _take(self, n: int) -> pa.Table:
        """Up to ``n`` rows from the front, all of one schema."""
        parts, need = [], n
        schema = self._buf[0].schema
        while need > 0 and self._buf and self._buf[0].schema.equals(schema):
            t = self._buf[0]
            if t.num_rows <= need:
                parts.append(t)
                self._buf.pop(0)
                need -= t.num_rows
            else:
                parts.append(t.slice(0, need))
                self._buf[0] = t.slice(need)
                need = 0
        chunk = _concat(parts)
        self._buffered -= chunk.num_rows
        return chunk

    # --- pieces ------------------------------------------------------------------------

    def add(self, table: pa.Table) -> list[Piece]:
        """Buffer ``table``; return the pieces that are now ready, in order."""
        if table.num_rows == 0:
            return []
        self._buf.append(table)
        self._buffered += table.num_rows
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
            if not self._buffered or (not final and self._buffered < SAMPLE_ROWS):
                return pieces
            self._calibrate()
        while self._buffered:
            lane = self.lanes[self._next]
            head = self._buf[0].schema
            target = self._target_rows()
            room = target - lane.rows if lane.file and head.equals(lane.schema) else target
            if not final and self._buffered < min(self.slice_rows, max(1, room)):
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
            table = self._take(min(self.slice_rows, target - lane.rows))
            lane.rows += table.num_rows
            full = lane.rows >= target
            pieces.append(Piece(lane.file, table, "full" if full else None))
            if full:
                lane.file = 0
            self._next = (self._next + 1) % len(self.lanes)
        return pieces


def _concat(parts: list[pa.Table]) -> pa.Table:
    if len(parts) == 1:
        return parts[0]
    return pa.concat_tables(parts)
