"""Cut points for range-partitioned extraction.

Part of the database source. From the low and high value of the partition
column (read from the database, or the user's ``partition_bounds``) compute
``parts - 1`` interior cut points; ``query.range_condition`` turns them into
half-open ranges that cover every row exactly once.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from foundry_dsl import cursors as cursor


def cut_points(low: Any, high: Any, parts: int) -> list[Any]:
    """``parts - 1`` ascending cut points evenly spaced in [low, high]."""
    if parts <= 1:
        return []
    if low is None or high is None:
        # empty, or NULL only: ``col >= NULL`` is never true, so every row goes to part 0
        return [None] * (parts - 1)
    if isinstance(low, str):
        low = cursor.parse(low)
    if isinstance(high, str):
        high = cursor.parse(high)
    if isinstance(low, bool) or not isinstance(low, int | float | decimal.Decimal | dt.date):
        raise ValueError(f"cannot split a range of {type(low).__name__} values ({low!r})")
    if isinstance(low, int) and isinstance(high, int):
        span = high - low
        return [low + span * i // parts for i in range(1, parts)]
    if isinstance(low, dt.datetime):
        micros = (high - low) // dt.timedelta(microseconds=1)
        return [low + dt.timedelta(microseconds=micros * i // parts) for i in range(1, parts)]
    if isinstance(low, dt.date):
        return [low + dt.timedelta(days=(high - low).days * i // parts) for i in range(1, parts)]
    lo, hi = decimal.Decimal(str(low)), decimal.Decimal(str(high))
    return [lo + (hi - lo) * i / parts for i in range(1, parts)]
