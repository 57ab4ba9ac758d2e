"""Realistic mixed-type test data for the writer and chunker tests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def mixed_table(n: int, start: int = 0, seed: int = 0) -> pa.Table:
    """``n`` rows of seven mixed columns, like an orders table."""
    rng = np.random.default_rng(seed + start)
    ids = np.arange(start, start + n)
    return pa.table(
        {
            "id": ids,
            "customer": pa.array([f"cust-{i}" for i in rng.integers(0, 50_000, n)]),
            "amount": rng.normal(100, 30, n).round(2),
            "active": rng.random(n) < 0.5,
            "ts": pa.array(1_700_000_000_000_000 + ids * 1_000_123, pa.timestamp("us", tz="UTC")),
            "category": pa.array(rng.choice(["a", "bb", "ccc", "dddd"], n)),
            "note": pa.array([f"note {x:x}" for x in rng.integers(0, 2**40, n)]),
        }
    )
