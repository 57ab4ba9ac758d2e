"""SQL text for the database source: the wrapped query, its filters and its probes.

Part of the database source. The user's query is never edited, only wrapped as
a subquery ``q``, so it may carry its own WHERE, joins or CTE-free unions. Every
value (cursor, range bound) is a bound ``?`` parameter, never formatted into SQL.
Hands ``db`` a :class:`Plan`: the SQL text and its parameters, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


def quote(name: str) -> str:
    """A SQL identifier in double quotes (standard SQL; PostgreSQL and SQLite agree)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Filter:
    """WHERE conditions over ``q`` with their bound parameters, in order."""

    conditions: list[str] = field(default_factory=list)
    params: list[str | None] = field(default_factory=list)

    def add(self, condition: str, *params: str | None) -> None:
        self.conditions.append(condition)
        self.params.extend(params)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(f"({c})" for c in self.conditions) if self.conditions else ""


def base(query: str) -> str:
    """The user's query without a trailing semicolon, ready to be a subquery."""
    return query.strip().rstrip(";").strip()


def select(query: str, projection: Sequence[str] | None, where: Filter) -> str:
    cols = ", ".join(projection) if projection else "q.*"
    return f"SELECT {cols} FROM ({base(query)}) q{where.sql()}"


def range_condition(
    column: str, part: int, parts: int, bounds: Sequence[str | None], cast: str
) -> tuple[str, list[str | None]] | None:
    """Part ``part`` of ``parts`` half-open ranges split at ``bounds`` (parts - 1 interior
    cut points); the first range is open below and also takes NULLs, the last is open
    above, so the parts cover every row exactly once whatever the data. None: no filter."""
    if parts == 1:
        return None
    col = f"q.{quote(column)}"
    conds: list[str] = []
    params: list[str | None] = []
    if part > 0:
        conds.append(f"{col} >= {cast}")
        params.append(bounds[part - 1])
    if part < parts - 1:
        conds.append(f"{col} < {cast}")
        params.append(bounds[part])
    cond = " AND ".join(conds)
    if part == 0:
        cond = f"({cond}) OR {col} IS NULL"
    return cond, params
