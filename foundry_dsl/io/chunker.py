"""Runtime, data path: a stream of Arrow tables → file-sized chunks.

Each chunk the :class:`Chunker` hands on becomes one output file. Files rotate
at ``max_rows`` and at ``max_bytes`` (0 = no limit). Bytes on disk are not
Arrow's bytes in memory (Parquet encodes and compresses), so the chunker
estimates bytes per row by writing a sample with DuckDB, checks the first
full chunk by writing it to a scratch file, and then follows the sizes of the
files actually written (:meth:`Chunker.observe`). It holds at most one chunk
plus the table being added; slices share the input's buffers, nothing is
copied until a chunk spans several inputs.
"""

from __future__ import annotations

import threading
from functools import reduce

import pyarrow as pa

from foundry_dsl.io.schema import conform, unify

#: chunk size when neither limit is set: memory stays bounded, whatever the source's size
UNBOUNDED_ROWS = 1_000_000
SAMPLE_ROWS = 20_000
#: first chunk re-measured until its size is this close to the target
TOLERANCE = 0.04


class Chunker:
    def __init__(
        self,
        max_rows: int,
        max_bytes: int,
        *,
        fmt: str = "parquet",
        compression: str = "snappy",
        unbounded_rows: int = UNBOUNDED_ROWS,
        scratch_dir: str | None = None,
    ) -> None:
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.fmt = fmt
        self.compression = compression
        self.unbounded_rows = unbounded_rows
        self.scratch_dir = scratch_dir
        self._buf: list[pa.Table] = []
        self._buffered = 0
        self._bytes_per_row: float | None = None
        self._checked = False  # the first full chunk was measured
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
            self._bytes_per_row = observed if old is None or not self._checked else 0.5 * old + 0.5 * observed
            self._checked = True

    def _measure(self, table: pa.Table) -> float:
        from foundry_dsl.io.writers import measure

        return measure(table, self.fmt, self.compression, self.scratch_dir) / max(1, table.num_rows)

    def _target_rows(self) -> int:
        limits = []
        if self.max_rows:
            limits.append(self.max_rows)
        if self.max_bytes:
            if self._bytes_per_row is None:
                sample = self._peek(min(self._buffered, SAMPLE_ROWS))
                self._bytes_per_row = self._measure(sample)
            limits.append(max(1, int(self.max_bytes / self._bytes_per_row)))
        return min(limits) if limits else self.unbounded_rows

    def _check_first(self, target: int) -> int:
        """Write the first candidate chunk to scratch and correct the estimate."""
        for _ in range(3):
            candidate = self._peek(target)
            size = self._measure(candidate) * target
            with self._lock:
                self._bytes_per_row = size / target
            if abs(size - self.max_bytes) <= TOLERANCE * self.max_bytes:
                break
            target = self._target_rows()
            if target > self._buffered:
                return target  # need more rows before measuring again
        self._checked = True
        return target

    # --- buffering ---------------------------------------------------------------------

    def _peek(self, n: int) -> pa.Table:
        parts, need = [], n
        for t in self._buf:
            if need <= 0:
                break
            part = t.slice(0, need)
            parts.append(part)
            need -= part.num_rows
        return _concat(parts)

    def _take(self, n: int) -> pa.Table:
        parts, need = [], n
        while need > 0 and self._buf:
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

    def add(self, table: pa.Table) -> list[pa.Table]:
        """Buffer ``table``; return the chunks that are now complete, in order."""
        if table.num_rows == 0:
            return []
        self._buf.append(table)
        self._buffered += table.num_rows
        chunks = []
        while self._buffered:
            target = self._target_rows()
            if self.max_bytes and not self._checked and self._buffered >= target:
                target = self._check_first(target)
            if self._buffered < target:
                break
            chunks.append(self._take(target))
        return chunks

    def flush(self) -> pa.Table | None:
        """The remainder at the end of the stream, or None."""
        if not self._buffered:
            return None
        return self._take(self._buffered)


def _concat(parts: list[pa.Table]) -> pa.Table:
    if len(parts) == 1:
        return parts[0]
    schemas = [p.schema for p in parts]
    if all(s.equals(schemas[0]) for s in schemas[1:]):
        return pa.concat_tables(parts)
    # chunks conformed to successive versions of the batch schema: widen to the latest
    schema = reduce(unify, schemas)
    return pa.concat_tables([conform(p, schema) for p in parts])
