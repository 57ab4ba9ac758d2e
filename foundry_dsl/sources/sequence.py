"""Sources: ``sequence`` — whole numbers as column ``n``, no source needed.

The smallest real source kind, and the worked example of docs/extending.md: an
IR model (:class:`foundry_dsl.ir.SequenceSource`), this module, and one line in
:mod:`foundry_dsl.sources.registry`. It streams Arrow batches of ``batch_rows``
so a billion numbers take no more memory than one batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from foundry_dsl.sources.base import Estimate, ExtractContext, Extractor

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl import ir


class SequenceExtractor(Extractor):
    source: ir.SequenceSource

    @classmethod
    def describe(cls, source: ir.SequenceSource) -> str:
        return f"sequence of {source.count:,} numbers from {source.start}"

    @classmethod
    def estimates_offline(cls, source: ir.SequenceSource) -> bool:
        return True

    def estimate(self, ctx: ExtractContext) -> Estimate:
        return Estimate(rows=self.source.count, bytes=8 * self.source.count)

    def extract(self, ctx: ExtractContext, part: int = 0) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        src = self.source
        end = src.start + src.count
        for low in range(src.start, end, src.batch_rows):
            high = min(low + src.batch_rows, end)
            yield pa.record_batch([pa.array(range(low, high), pa.int64())], names=["n"])
