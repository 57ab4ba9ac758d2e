"""The `.bronze` syntax tree: what the parser hands to lowering and to `fmt`.

Plain frozen dataclasses, each with the :class:`Position` it was written at.
This layer knows the shape of the language (blocks, attributes, values), not
what any block means; meaning is given by ``frontends.lower``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from foundry_dsl.errors import Position


@dataclass(frozen=True)
class Size:
    """A byte size as written, e.g. ``128MB``; ``bytes`` is the value."""

    bytes: int
    text: str


@dataclass(frozen=True)
class Duration:
    """A duration as written, e.g. ``5m``; ``seconds`` is the value."""

    seconds: float
    text: str


@dataclass(frozen=True)
class Ident:
    """A bare identifier used as a value: an enum member or a name (``hourly``)."""

    name: str


@dataclass(frozen=True)
class EnvCall:
    """``env("NAME")``: a value read from the environment at run time."""

    name: str


Scalar = str | int | float | bool | dt.date | dt.datetime | Size | Duration | Ident | EnvCall | None


@dataclass(frozen=True)
class ScalarValue:
    value: Scalar
    pos: Position
    raw: str = ""  # the token as written, so fmt keeps `1_000_000` and quoting


@dataclass(frozen=True)
class ListValue:
    items: tuple[Value, ...]
    pos: Position


@dataclass(frozen=True)
class MapValue:
    """``{ a = 1, b = "x" }`` written inline as a value."""

    entries: tuple[Attribute, ...]
    pos: Position


Value = ScalarValue | ListValue | MapValue


@dataclass(frozen=True)
class Attribute:
    """``key = value``."""

    key: str
    key_pos: Position
    value: Value
    comments: tuple[str, ...] = ()  # full-line comments directly above
    trailing: str | None = None  # comment at the end of the line


@dataclass(frozen=True)
class Block:
    """``kind label... { body }``, e.g. ``storage s3 { ... }`` or ``pipeline a.b { ... }``.

    ``labels`` are identifiers, dotted names or strings after the kind: a
    top-level ``source github api { }`` has labels ``("github", "api")``.
    """

    kind: str
    labels: tuple[str, ...]
    body: tuple[Attribute | Block, ...]
    pos: Position
    label_pos: tuple[Position, ...] = ()
    comments: tuple[str, ...] = ()
    trailing: str | None = None
    inner_comments: tuple[str, ...] = field(default=())  # comments before the closing brace


@dataclass(frozen=True)
class Import:
    path: str
    pos: Position
    comments: tuple[str, ...] = ()
    trailing: str | None = None


@dataclass(frozen=True)
class File:
    path: str
    items: tuple[Import | Block, ...]
    text: str
    trailing_comments: tuple[str, ...] = ()
