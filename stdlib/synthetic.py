"""A custom source that ships with foundry: deterministic synthetic sensor readings.

Useful for trying pipelines, load tests and benchmarks without any source
system. It uses foundry's streaming interface: ``extract(ctx)`` yields Arrow
tables one batch at a time, so any number of rows costs one batch of memory.

    source custom {
      module = "synthetic"
      class_name = "SyntheticRows"
      params { rows = 1_000_000, seed = 7, batch_rows = 50_000 }
    }
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

SENSORS = ["temp", "humidity", "pressure", "co2"]
SITES = ["AMS-1", "BER-2", "MAD-3", "OSL-4"]


class SyntheticRows:
    def extract(self, ctx: Any) -> Iterator[Any]:
        # pyarrow only: a custom source that ships with foundry needs nothing foundry
        # does not declare (numpy is not a dependency)
        import pyarrow as pa
        import pyarrow.compute as pc

        params = ctx.pipeline.source.params
        total = int(params.get("rows", 10_000))
        batch_rows = int(params.get("batch_rows", 50_000))
        seed = int(params.get("seed", 0))
        start = dt.datetime.combine(ctx.run_date, dt.time(), tzinfo=dt.timezone.utc)
        start_us = int(start.timestamp()) * 1_000_000
        sensors = pa.array(SENSORS)
        sites = pa.array(SITES)
        for first in range(0, total, batch_rows):
            n = min(batch_rows, total - first)
            ids = pa.array(range(first, first + n), pa.int64())
            # each batch seeded by (seed, first row): the same rows whatever the batch order
            u1, u2, u3 = (pc.random(n, initializer=hash((seed, first, k)) & 0x7FFFFFFF)
                          for k in range(3))
            yield pa.table(
                {
                    "reading_id": ids,
                    "site": sites.take(pc.remainder(ids, len(SITES))),
                    "sensor": sensors.take(
                        pc.cast(pc.floor(pc.multiply(u1, len(SENSORS))), pa.int64())),
                    "value": pc.round(pc.add(pc.multiply(_normal(u2, u3), 5.0), 20.0), 3),
                    "read_at": pc.cast(
                        pc.add(pc.multiply(ids, 1_000_000), start_us), pa.timestamp("us", tz="UTC")),
                }
            )


def _normal(u1: Any, u2: Any) -> Any:
    """Standard normal values from two uniform arrays (Box-Muller)."""
    import math

    import pyarrow.compute as pc

    # 1 - u keeps ln away from zero: pc.random draws from [0, 1)
    radius = pc.sqrt(pc.multiply(pc.ln(pc.subtract(1.0, u1)), -2.0))
    return pc.multiply(radius, pc.cos(pc.multiply(u2, 2 * math.pi)))
