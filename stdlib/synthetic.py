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
        import numpy as np
        import pyarrow as pa

        params = ctx.pipeline.source.params
        total = int(params.get("rows", 10_000))
        batch_rows = int(params.get("batch_rows", 50_000))
        rng = np.random.default_rng(int(params.get("seed", 0)))
        start = dt.datetime.combine(ctx.run_date, dt.time(), tzinfo=dt.timezone.utc)
        sensors = pa.array(SENSORS)
        sites = pa.array(SITES)
        for first in range(0, total, batch_rows):
            n = min(batch_rows, total - first)
            ids = np.arange(first, first + n, dtype=np.int64)
            yield pa.table(
                {
                    "reading_id": ids,
                    "site": sites.take(pa.array(ids % len(SITES))),
                    "sensor": sensors.take(pa.array(rng.integers(0, len(SENSORS), n))),
                    "value": np.round(rng.normal(20.0, 5.0, n), 3),
                    "read_at": pa.array(
                        (np.datetime64(start.replace(tzinfo=None), "us") + ids * 1_000_000),
                        pa.timestamp("us", tz="UTC"),
                    ),
                }
            )
