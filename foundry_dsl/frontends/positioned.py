"""Positioned values: the common form both front ends lower into.

The `.bronze` front end (blocks) and the YAML front end (the spec's sections)
each translate their own syntax into a tree of :class:`PMap`, :class:`PList`
and :class:`PScalar` shaped like the IR, every value carrying the position it
was written at. ``frontends.lower.build`` then validates that tree against the
IR models, so both front ends give the same IR and the same error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foundry_dsl.errors import Position


@dataclass(frozen=True)
class Env:
    """A value to read from the environment: becomes ``ir.EnvRef``."""

    name: str


@dataclass(frozen=True)
class Quantity:
    """A size or duration as written; ``value`` is bytes or seconds."""

    value: float
    text: str
    unit_kind: str  # "size" | "duration"


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


def to_plain(node: PNode) -> Any:
    """The value without positions (for free-form maps such as custom params)."""
    if isinstance(node, PScalar):
        return node.value
    if isinstance(node, PList):
        return [to_plain(i) for i in node.items]
    return {k: to_plain(e.value) for k, e in node.entries.items()}
