"""`foundry fmt`: the one canonical layout of a `.bronze` file, printed from its syntax tree.

Sits on top of the syntax layer (``frontends.bronze.parser``) and hands text
back; it never looks at what blocks mean. The layout:

* two-space indentation; ``key = value`` with single spaces (``=`` is never
  aligned); one attribute or block per line inside a multi-line block;
* imports first as written, one per line, then a blank line between
  top-level blocks. Inside a block, a blank line between two items is kept
  (at most one) when the source had one; a blank line after the comments that
  open the file is kept too;
* numbers, sizes, durations, dates, strings and triple-quoted strings are
  printed exactly as written (``ScalarValue.raw``); keys and labels are bare
  when they are names and double-quoted otherwise; ``env`` is printed
  ``env("NAME")``;
* comments are kept: full-line comments above their item, end-of-line
  comments at the end of the item's first line for a block (after ``{``) and
  of its last line for an attribute, comments before a ``}`` above it;
* the one-line rule: a block, inline map or list is printed on one line
  (``params { state = "all", per_page = 100 }``, ``[a, b]``,
  ``{ k = v }``) when it was written on one line, holds no comments and no
  nested block, and the line fits in 100 columns (the end-of-line comment
  not counted). Anything else is printed one entry per line, lists and maps
  with a trailing comma after each item and no comma, respectively.
  Empty bodies are ``{}`` and ``[]``.

The rule looks only at the tree, so ``format_file(parse(format_file(t)))``
gives the same text: fmt is idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from foundry_dsl.frontends.bronze import tree as syntax
from foundry_dsl.frontends.bronze.parser import parse

__all__ = ["WIDTH", "format_file", "format_text"]

WIDTH = 100
INDENT = "  "

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def format_text(text: str, path: str) -> str:
    """Parse and print canonically. Raises ConfigError when the text does not parse."""
    return format_file(parse(text, path))


def format_file(file: syntax.File) -> str:
    lines: list[str] = []
    prev: syntax.Import | syntax.Block | None = None
    for item in file.items:
        if prev is not None and not (
            isinstance(prev, syntax.Import) and isinstance(item, syntax.Import)
        ):
            lines.append("")
        if prev is None and item.comments and _gap(0, item) > 0:
            # the file opens with a header comment set apart from the first item
            lines.extend(item.comments)
            lines.append("")
            item = _without_comments(item)
        lines.extend(_item(item, 0))
        prev = item
    if file.trailing_comments:
        if lines:
            lines.append("")
        lines.extend(file.trailing_comments)
    return "\n".join(lines) + "\n" if lines else ""


def _without_comments(item: syntax.Import | syntax.Block) -> syntax.Import | syntax.Block:
    if isinstance(item, syntax.Import):
        return syntax.Import(item.path, item.pos, (), item.trailing)
    return syntax.Block(
        item.kind,
        item.labels,
        item.body,
        item.pos,
        item.label_pos,
        (),
        item.trailing,
        item.inner_comments,
    )


# --------------------------------------------------------------------------- items


def _item(item: syntax.Import | syntax.Block | syntax.Attribute, depth: int) -> list[str]:
    pad = INDENT * depth
    lines = [pad + c if c else "" for c in item.comments]
    if isinstance(item, syntax.Import):
        lines.append(_trail(f"{pad}import {_quote(item.path)}", item.trailing))
    elif isinstance(item, syntax.Block):
        lines.extend(_block(item, depth))
    else:
        lines.extend(_attribute(item, depth))
    return lines


def _trail(line: str, comment: str | None) -> str:
    return f"{line}  {comment}" if comment else line


def _block(block: syntax.Block, depth: int) -> list[str]:
    pad = INDENT * depth
    header = pad + " ".join([block.kind, *(_label(lb) for lb in block.labels)])
    if not block.body and not block.inner_comments:
        return [_trail(header + " {}", block.trailing)]
    inline = _inline_block(block)
    if inline is not None and len(header) + 1 + len(inline) <= WIDTH:
        return [_trail(f"{header} {inline}", block.trailing)]
    lines = [_trail(header + " {", block.trailing)]
    lines.extend(_body(block.body, depth + 1))
    lines.extend(INDENT * (depth + 1) + c for c in block.inner_comments)
    lines.append(pad + "}")
    return lines


def _body(items: tuple[syntax.Attribute | syntax.Block, ...], depth: int) -> list[str]:
    lines: list[str] = []
    prev_end: int | None = None
    for item in items:
        if prev_end is not None and _gap(prev_end, item) > 0:
            lines.append("")
        lines.extend(_item(item, depth))
        prev_end = _end_line(item)
    return lines


def _attribute(attr: syntax.Attribute, depth: int) -> list[str]:
    head = f"{INDENT * depth}{_key(attr.key)} = "
    value = _value(attr.value, depth, len(head))
    lines = [head + value[0], *value[1:]]
    lines[-1] = _trail(lines[-1], attr.trailing)
    return lines


# --------------------------------------------------------------------------- values


def _value(value: syntax.Value, depth: int, column: int) -> list[str]:
    """The value's lines: the first continues the current line at `column`."""
    if isinstance(value, syntax.ScalarValue):
        return _scalar(value).split("\n")
    inline = _inline(value)
    if inline is not None and column + len(inline) <= WIDTH:
        return [inline]
    pad = INDENT * (depth + 1)
    if isinstance(value, syntax.ListValue):
        lines = ["["]
        for item in value.items:
            item_lines = _value(item, depth + 1, len(pad))
            lines.append(pad + item_lines[0])
            lines.extend(item_lines[1:])
            lines[-1] += ","
        lines.append(INDENT * depth + "]")
        return lines
    return ["{", *_body(value.entries, depth + 1), INDENT * depth + "}"]


def _inline(value: syntax.Value) -> str | None:
    """The one-line form, or None when the value must span lines."""
    if isinstance(value, syntax.ScalarValue):
        text = _scalar(value)
        return None if "\n" in text else text
    if isinstance(value, syntax.ListValue) and not value.items:
        return "[]"
    if isinstance(value, syntax.MapValue) and not value.entries:
        return "{}"
    if value.pos.end_line not in (None, value.pos.line):
        return None
    if isinstance(value, syntax.ListValue):
        parts = [_inline(v) for v in value.items]
        if any(p is None for p in parts):
            return None
        return "[" + ", ".join(p for p in parts if p is not None) + "]"
    entries = _inline_entries(value.entries)
    return None if entries is None else "{ " + entries + " }"


def _inline_block(block: syntax.Block) -> str | None:
    if block.inner_comments or block.pos.end_line not in (None, block.pos.line):
        return None
    attrs = [m for m in block.body if isinstance(m, syntax.Attribute)]
    if len(attrs) != len(block.body):
        return None
    entries = _inline_entries(tuple(attrs))
    return None if entries is None else "{ " + entries + " }"


def _inline_entries(entries: tuple[syntax.Attribute, ...]) -> str | None:
    parts: list[str] = []
    for a in entries:
        text = _inline(a.value)
        if text is None or a.comments or a.trailing:
            return None
        parts.append(f"{_key(a.key)} = {text}")
    return ", ".join(parts)


def _scalar(value: syntax.ScalarValue) -> str:
    if value.raw:
        return value.raw
    v = value.value
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, syntax.Size | syntax.Duration):
        return v.text
    if isinstance(v, syntax.Ident):
        return v.name
    if isinstance(v, syntax.EnvCall):
        return f"env({_quote(v.name)})"
    if isinstance(v, dt.datetime):
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, dt.date):
        return v.isoformat()
    return repr(v)


# --------------------------------------------------------------------------- names and lines


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _key(key: str) -> str:
    return key if _NAME.fullmatch(key) and key != "import" else _quote(key)


def _label(label: str) -> str:
    return label if _LABEL.fullmatch(label) and label != "import" else _quote(label)


def _start_line(item: syntax.Import | syntax.Block | syntax.Attribute) -> int:
    return item.key_pos.line if isinstance(item, syntax.Attribute) else item.pos.line


def _end_line(item: syntax.Import | syntax.Block | syntax.Attribute) -> int:
    pos = item.value.pos if isinstance(item, syntax.Attribute) else item.pos
    return pos.end_line or pos.line


def _gap(prev_end: int, item: syntax.Import | syntax.Block | syntax.Attribute) -> int:
    """Blank lines the source had between the previous item and this one's comments."""
    return _start_line(item) - prev_end - 1 - len(item.comments)
