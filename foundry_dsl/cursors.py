"""Incremental cursors as typed values: parse, compare, render, step back.

Shared by the sources (a query's bounds), the planner (windows) and the state
store (the high-water mark): a cursor is stored as text (ISO 8601 for dates and
timestamps, keeping microseconds and the UTC offset); comparisons happen on the
typed value so that ``'9' < '10'`` and mixed offsets never pick the wrong maximum.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable
from typing import Any

Typed = int | decimal.Decimal | dt.datetime | dt.date | str


def parse(text: str) -> Typed:
    """The typed value a stored cursor stands for."""
    s = text.strip()
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return decimal.Decimal(s) if s.lower() not in {"nan", "inf", "-inf", "infinity"} else s
    except decimal.InvalidOperation:
        pass
    if len(s) >= 10 and s[4] == "-" and s[7] == "-":
        try:
            if len(s) == 10:
                return dt.date.fromisoformat(s)
            return dt.datetime.fromisoformat(s.replace(" ", "T", 1))
        except ValueError:
            pass
    return s


def render(value: Any) -> str:
    """Text for a typed value: ISO 8601 with full precision, decimals exactly."""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _key(value: Typed) -> tuple[int, Any]:
    # one order across kinds; naive and aware timestamps are compared as UTC
    if isinstance(value, dt.datetime):
        v = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return (2, v)
    if isinstance(value, dt.date):
        return (2, dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc))
    if isinstance(value, int | decimal.Decimal):
        return (1, decimal.Decimal(value))
    return (3, value)


def greatest(values: Iterable[str | None]) -> str | None:
    """The largest cursor by typed comparison, as it was written; None when all are None."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return max(present, key=lambda v: _key(parse(v)))


def step_back(text: str, seconds: float) -> str:
    """The cursor moved ``seconds`` earlier (the lookback window); keeps precision and offset."""
    value = parse(text)
    if isinstance(value, dt.datetime):
        return render(value - dt.timedelta(seconds=seconds))
    if isinstance(value, dt.date):
        return render(value - dt.timedelta(days=-(-seconds // 86400)))
    if isinstance(value, int):
        return render(value - math.ceil(seconds))
    if isinstance(value, decimal.Decimal):
        return render(value - decimal.Decimal(str(seconds)))
    raise ValueError(f"lookback needs a timestamp, date or number cursor, not {text!r}")


def later(a: str | None, b: str | None) -> str | None:
    """The greater of two cursors by typed comparison (numbers as numbers, times as times)."""
    return greatest([a, b])


def past(cursor: str, end: str) -> bool:
    """Whether ``cursor`` lies beyond a window's inclusive ``end``, by typed value: ``5.0``
    is not past ``5``, nor ``...T00:00:00Z`` past ``...T00:00:00+00:00``."""
    return _key(parse(cursor)) > _key(parse(end))
