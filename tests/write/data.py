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


def wide_table(n: int, width: int, start: int = 0, seed: int = 0) -> pa.Table:
    """``n`` rows of an id and a ``width``-byte string of random letters (no encoding shrinks it)."""
    rng = np.random.default_rng(seed + start)
    data = rng.integers(97, 123, n * width, dtype=np.uint8)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    text = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return pa.table({"id": np.arange(start, start + n), "payload": text})


def uneven_table(widths: list[int], start: int = 0) -> pa.Table:
    """One row per width: an id and a string of that many bytes."""
    return pa.table(
        {"id": list(range(start, start + len(widths))), "payload": ["x" * w for w in widths]}
    )
