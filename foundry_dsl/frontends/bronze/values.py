"""Typing literal values: the raw text of one `.bronze` value token → a Python value.

The grammar keeps values as raw tokens; this module says what each one is,
reporting a positioned error (through the ``report`` callback) when the text
is not a valid value:

- ``"..."`` strings use JSON escapes and stay on one line.
- ``\"\"\"...\"\"\"`` strings are raw (no escapes) and may span lines. In the tree the
  first newline after the opening quotes and a last line holding only
  whitespace are dropped, then the common indentation is removed
  (``textwrap.dedent``; whitespace-only lines inside become empty).
- integers ``100``, ``-3``, ``1_000_000``; floats ``0.5``, ``1e3``, ``-2.5e-3``.
- sizes ``10B``, ``512KB``, ``128MB``, ``1.5GB``, ``2TB``: units are
  upper-case and binary (1KB = 1024 bytes); a size is a whole number of bytes.
- durations ``100ms``, ``30s``, ``5m``, ``2h``, ``1d``: units are lower-case,
  so ``m`` (minutes) never collides with ``MB`` (megabytes).
- dates ``2025-01-12`` and datetimes ``2025-01-12T14:30``,
  ``2025-01-12T14:30:00``, ``...:00.250``, ``...Z`` or ``...+02:00``.
- ``true``, ``false``, ``null``; any other name (dotted too) is an ``Ident``.
  Only ``import`` is a keyword: ``true``, ``false``, ``null`` and ``env`` stay
  usable as keys and labels, because they are typed here, in value position only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from collections.abc import Callable
from fractions import Fraction

from foundry_dsl.errors import Position
from foundry_dsl.frontends.bronze import tree as syntax
from foundry_dsl.frontends.positioned import DURATION_UNITS, SIZE_UNITS

__all__ = [
    "DURATION_HELP",
    "DURATION_UNITS",
    "SIZE_HELP",
    "SIZE_UNITS",
    "VALUE_HELP",
    "Report",
    "name",
    "number",
    "string",
    "triple",
]

#: how a value's error reaches the caller: message, position, help
Report = Callable[[str, Position, str | None], None]

SIZE_HELP = "sizes are written 128MB, 1GB, 512KB (units B, KB, MB, GB, TB; 1KB = 1024 bytes)"
DURATION_HELP = "durations are written 100ms, 30s, 5m, 2h, 1d"
VALUE_HELP = (
    'a value is a string "...", a number, a size (128MB), a duration (5m), a date, '
    'a name, a list [a, b], a map { k = v } or env("NAME")'
)

_INT = re.compile(r"-?\d+(?:_\d+)*")
_FLOAT = re.compile(r"-?\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?(?:[eE][+-]?\d+)?")
_UNIT = re.compile(r"(-?\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?)([A-Za-z]+)")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:\d{2})?"
)

_DURATION_WORDS = {
    "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes", "hr", "hrs",
    "hour", "hours", "day", "days", "w", "wk", "week", "weeks", "us", "ns", "msec", "millis",
}  # fmt: skip


def name(raw: str) -> syntax.Scalar:
    """A bare name in value position: a constant, or an ``Ident``."""
    return {"true": True, "false": False, "null": None}.get(raw, syntax.Ident(raw))


#: one decoder for every string: ``json.loads(raw, strict=False)`` builds a new one per call
_JSON = json.JSONDecoder(strict=False)


def string(raw: str, at: Position, report: Report) -> str:
    """A ``"..."`` token written at `at`, quotes included, decoded."""
    if "\\" not in raw:
        return raw[1:-1]  # the token holds no quote or newline inside: nothing to decode
    try:
        value = _JSON.decode(raw)
    except json.JSONDecodeError as e:
        col = at.col + e.pos
        report(
            "invalid escape in string",
            Position(at.file, at.line, col, at.line, col + 2),
            'escapes are \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX; '
            'write """...""" for raw text',
        )
        return raw[1:-1]
    assert isinstance(value, str)
    return value


def triple(raw: str) -> str:
    """A ``\"\"\"...\"\"\"`` token, quotes included: raw text, trimmed and dedented."""
    body = raw[3:-3]
    if body.startswith("\r\n"):
        body = body[2:]
    elif body.startswith("\n"):
        body = body[1:]
    head, sep, last = body.rpartition("\n")
    if sep and not last.strip():
        body = head.removesuffix("\r")
    return textwrap.dedent(body)


def number(raw: str, pos: Position, report: Report) -> syntax.Scalar:
    """A NUMBER token: the grammar lets it hold any of the number-like values."""
    try:
        if _INT.fullmatch(raw):
            return int(raw)
        if _FLOAT.fullmatch(raw):
            return float(raw)
    except ValueError:  # pragma: no cover - the patterns only admit valid literals
        pass
    if m := _DATETIME.fullmatch(raw):
        return _datetime(m, raw, pos, report)
    if m := _DATE.fullmatch(raw):
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError as e:
            report(f"invalid date '{raw}': {e}", pos, "dates are written YYYY-MM-DD")
            return None
    if m := _UNIT.fullmatch(raw):
        return _with_unit(m[1], m[2], raw, pos, report)
    if raw[:1] == "-" or raw[1:2].isdigit() or raw[:1].isdigit():
        report(f"invalid number '{raw}'", pos, _number_help(raw))
    return None


def _datetime(m: re.Match[str], raw: str, pos: Position, report: Report) -> dt.datetime | None:
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    tz: dt.tzinfo | None = None
    try:
        if zone == "Z":
            tz = dt.timezone.utc
        elif zone:
            sign = -1 if zone[0] == "-" else 1
            offset = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            tz = dt.timezone(sign * offset)
        return dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError as e:
        report(
            f"invalid datetime '{raw}': {e}",
            pos,
            "datetimes are written 2025-01-12T14:30:00Z, with an offset like +02:00, or without a zone",
        )
        return None


def _with_unit(number: str, unit: str, raw: str, pos: Position, report: Report) -> syntax.Scalar:
    try:
        amount = Fraction(number.replace("_", ""))
    except ValueError:  # more digits than Python converts
        report(f"invalid number '{raw}'", pos, _number_help(raw))
        return None
    if unit in SIZE_UNITS:
        size = amount * SIZE_UNITS[unit]
        if amount < 0:
            report(f"a size cannot be negative: '{raw}'", pos, SIZE_HELP)
        elif size.denominator != 1:
            report(f"'{raw}' is not a whole number of bytes", pos, SIZE_HELP)
        else:
            return syntax.Size(int(size), raw)
        return None
    if unit in DURATION_UNITS:
        if amount < 0:
            report(f"a duration cannot be negative: '{raw}'", pos, DURATION_HELP)
            return None
        return syntax.Duration(float(amount * DURATION_UNITS[unit]), raw)
    if unit == "M":
        report(
            f"unknown unit '{unit}' in '{raw}'",
            pos,
            f"write {number}m for minutes or {number}MB for megabytes",
        )
    elif unit.upper() in SIZE_UNITS:
        report(
            f"unknown size unit '{unit}'",
            pos,
            f"size units are upper-case (B, KB, MB, GB, TB): write {number}{unit.upper()}",
        )
    elif _looks_like_size(unit):
        report(f"unknown size unit '{unit}'", pos, SIZE_HELP)
    elif unit.lower() in DURATION_UNITS:
        report(
            f"unknown duration unit '{unit}'",
            pos,
            f"duration units are lower-case (ms, s, m, h, d): write {number}{unit.lower()}",
        )
    elif unit.lower() in _DURATION_WORDS:
        report(f"unknown duration unit '{unit}'", pos, DURATION_HELP)
    elif unit.lower() in ("e", "e-", "e+"):
        report(f"invalid number '{raw}'", pos, "an exponent is written 1e3 or 2.5e-3")
    else:
        report(f"unknown unit '{unit}' in '{raw}'", pos, f"{SIZE_HELP}; {DURATION_HELP}")
    return None


def _looks_like_size(unit: str) -> bool:
    u = unit.upper()
    return u.endswith("IB") or u in ("K", "G", "T", "BYTES", "BYTE", "KIB", "MIB", "GIB", "TIB")


def _number_help(raw: str) -> str:
    if "-" in raw[1:] or ":" in raw:
        return "dates are written 2025-01-12, datetimes 2025-01-12T14:30:00Z"
    return "numbers are written 100, 1_000_000, -3, 0.5 or 1e3"
