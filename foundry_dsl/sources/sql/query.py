"""SQL text for the database source: the wrapped query, its filters and its probes.

Part of the database source. The user's query is never edited, only wrapped as
a subquery ``q``, so it may carry its own WHERE, joins or CTE-free unions. Every
value (cursor, range bound) is a bound ``?`` parameter, never formatted into SQL.
Hands the links (``odbc``, ``adbc``) a :class:`Filter`: the conditions and their
parameters, in order; a link whose driver marks parameters otherwise renders each
``?`` (or typed ``CAST(? AS type)``) of the conditions its own way
(:meth:`Filter.sql`), never touching the user's query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

#: how a link writes parameter ``i`` (0-based) of SQL type ``type`` (None: untyped ``?``)
Render = Callable[[int, "str | None"], str]


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

    def sql(self, render: Render | None = None) -> str:
        """`` WHERE (c1) AND (c2)``; with ``render``, each parameter marker as it writes it."""
        if not self.conditions:
            return ""
        conds = self.conditions
        if render is not None:
            conds, n = [], 0
            for c in self.conditions:
                text, n = markers(c, n, render)
                conds.append(text)
        return " WHERE " + " AND ".join(f"({c})" for c in conds)


def base(query: str) -> str:
    """The user's query without a trailing semicolon, ready to be a subquery."""
    return query.strip().rstrip(";").strip()


def select(query: str, projection: Sequence[str] | None, where: Filter, render: Render | None = None) -> str:
    cols = ", ".join(projection) if projection else "q.*"
    return f"SELECT {cols} FROM ({base(query)}) q{where.sql(render)}"


_TYPED = "CAST(? AS "


def markers(condition: str, first: int, render: Render) -> tuple[str, int]:
    """``condition`` with each ``?`` outside quotes replaced by ``render(i, None)`` and each
    ``CAST(? AS type)`` by ``render(i, type)``, numbering from ``first``; and the next number.
    Only our own conditions come here (identifiers quoted, types from the server)."""
    out: list[str] = []
    i, n = 0, first
    while i < len(condition):
        c = condition[i]
        if c in "'\"":
            end = _closing_quote(condition, i)
            out.append(condition[i:end])
            i = end
        elif condition.startswith(_TYPED, i):
            end = _closing_paren(condition, i + len("CAST"))
            out.append(render(n, condition[i + len(_TYPED) : end - 1]))
            n, i = n + 1, end
        elif c == "?":
            out.append(render(n, None))
            n, i = n + 1, i + 1
        else:
            out.append(c)
            i += 1
    return "".join(out), n


def _closing_quote(text: str, start: int) -> int:
    """The index after the quote closing the one at ``start`` (a doubled quote escapes)."""
    q, i = text[start], start + 1
    while i < len(text):
        if text[i] == q:
            if text[i + 1 : i + 2] != q:
                return i + 1
            i += 1
        i += 1
    return len(text)


def _closing_paren(text: str, start: int) -> int:
    """The index after the parenthesis closing the one at ``start``, quotes skipped."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c in "'\"":
            i = _closing_quote(text, i)
            continue
        depth += (c == "(") - (c == ")")
        i += 1
        if depth == 0:
            return i
    return len(text)


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
