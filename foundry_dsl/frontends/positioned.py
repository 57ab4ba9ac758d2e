"""Positioned values: the common form both front ends lower into.

The `.bronze` front end (blocks) and the YAML front end (the spec's sections)
each translate their own syntax into a tree of :class:`PMap`, :class:`PList`
and :class:`PScalar` shaped like the IR, every value carrying the position it
was written at. ``frontends.lower.build`` then validates that tree against the
IR models, so both front ends give the same IR and the same error messages.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from foundry_dsl.errors import Position

#: how many blocks, maps and lists may be open inside one another, in either front
#: end: every step after parsing walks values recursively, and stays well within
#: Python's stack at this depth; deeper input is refused with a positioned error
MAX_NESTING = 100

#: what a quantity measures; an IR field that takes one says which in its metadata
UnitKind = Literal["size", "duration"]

#: size units (binary: 1KB = 1024 bytes), upper-case
SIZE_UNITS: dict[str, int] = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
#: duration units in seconds, lower-case, so ``m`` (minutes) never collides with ``MB``
DURATION_UNITS: dict[str, Fraction] = {
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
    "d": Fraction(86400),
}
_QUANTITY = re.compile(r"\s*(\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?)([A-Za-z]+)\s*")


@dataclass(frozen=True)
class Env:
    """A value to read from the environment: becomes ``ir.EnvRef``."""

    name: str


@dataclass(frozen=True)
class Quantity:
    """A size or duration as written; ``value`` is bytes or seconds."""

    value: float
    text: str
    unit_kind: UnitKind


def quantity_kind(text: str) -> UnitKind | None:
    """What ``text`` would be if written without quotes: ``"5MB"`` → size, ``"5m"`` →
    duration, anything else → None."""
    m = _QUANTITY.fullmatch(text)
    if m is None:
        return None
    if m[2] in SIZE_UNITS:
        return "size"
    if m[2] in DURATION_UNITS:
        return "duration"
    return None


_LOOSE = re.compile(r"\s*(\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?)\s*([A-Za-z]+)\s*")
#: units as people write them in prose, lower-cased → the language's unit
_LOOSE_UNITS: dict[UnitKind, dict[str, str]] = {
    "size": {
        "b": "B", "byte": "B", "bytes": "B", "k": "KB", "kb": "KB", "kib": "KB",
        "m": "MB", "mb": "MB", "mib": "MB", "g": "GB", "gb": "GB", "gib": "GB",
        "t": "TB", "tb": "TB", "tib": "TB",
    },
    "duration": {
        "ms": "ms", "msec": "ms", "millis": "ms", "s": "s", "sec": "s", "secs": "s",
        "second": "s", "seconds": "s", "m": "m", "min": "m", "mins": "m", "minute": "m",
        "minutes": "m", "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
        "d": "d", "day": "d", "days": "d",
    },
}  # fmt: skip


def written_quantity(text: str, unit: UnitKind) -> str | None:
    """A quoted ``"5 mb"`` or ``"30 sec"`` as the ``unit`` is written without quotes
    (``5MB``, ``30s``); None when ``text`` is not a number and a unit of that kind."""
    m = _LOOSE.fullmatch(text)
    found = _LOOSE_UNITS[unit].get(m[2].lower()) if m else None
    return f"{m[1]}{found}" if m and found else None


def amount(text: str) -> str:
    """The number a quantity was written with: ``1_000KB`` → ``1_000``, ``1.5h`` → ``1.5``."""
    m = _QUANTITY.match(text)
    return m[1] if m else ""


@dataclass
class PScalar:
    """A leaf: str, int, float, bool, None, date, datetime, Env or Quantity."""

    value: Any
    pos: Position | None
    is_ident: bool = False  # written as a bare identifier (an enum member or a name)


@dataclass
class PList:
    items: list[PNode]
    pos: Position | None


@dataclass
class PEntry:
    key_pos: Position | None
    value: PNode


@dataclass
class PMap:
    entries: dict[str, PEntry] = field(default_factory=dict)
    pos: Position | None = None
    #: what the user calls this map in messages, e.g. "storage s3" or "run"
    title: str = ""

    def get(self, key: str) -> PNode | None:
        entry = self.entries.get(key)
        return entry.value if entry else None

    def set(self, key: str, value: PNode, key_pos: Position | None = None) -> None:
        self.entries[key] = PEntry(key_pos if key_pos is not None else value.pos, value)


PNode = PScalar | PList | PMap


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: compiling builds millions of small objects
    and almost no cycles, and each collection of the oldest generation walks every
    object alive, so a large file spent a third of its time collecting nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def to_plain(node: PNode) -> Any:
    """The value without positions (for free-form maps such as custom params)."""
    if isinstance(node, PScalar):
        return node.value
    if isinstance(node, PList):
        return [to_plain(i) for i in node.items]
    return {k: to_plain(e.value) for k, e in node.entries.items()}
