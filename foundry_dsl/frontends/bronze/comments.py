"""Comment attachment: the comments taken out of the token stream → their place in the tree.

The parser never sees comments; they are attached by line once the tree is
built. Comments keep their ``#`` and lose trailing whitespace. A comment alone
on its line goes to the next item's ``comments`` in the same body; comments
after the last item of a block go to its ``inner_comments``, at the end of the
file to ``File.trailing_comments``. A comment at the end of a line goes to
``trailing`` of the outermost item that starts on that line (an attribute
whose value spans lines also takes one from its last line); a comment after a
multi-line block's ``}``, and one before the ``}`` of an inline map or inside
a list, becomes a comment above the next item (the tree has no other place
for it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from foundry_dsl.frontends.bronze import tree as syntax

if TYPE_CHECKING:
    from lark import Token

__all__ = ["Comment", "Item", "attach_items", "comment"]


@dataclass(frozen=True)
class Comment:
    line: int
    text: str
    own_line: bool  # nothing but whitespace before it on its line


Item = syntax.Import | syntax.Block | syntax.Attribute


def comment(tok: Token, text: str) -> Comment:
    """The COMMENT token `tok` of the file `text`."""
    start = tok.start_pos or 0
    line_start = text.rfind("\n", 0, start) + 1
    own = not text[line_start:start].strip()
    return Comment(tok.line or 1, str(tok.value).rstrip(), own)


def _lines(item: Item) -> tuple[int, int]:
    if isinstance(item, syntax.Attribute):
        end = item.value.pos.end_line or item.value.pos.line
        return item.key_pos.line, end
    return item.pos.line, item.pos.end_line or item.pos.line


def attach_items(items: list[Any], comments: list[Comment]) -> tuple[list[Any], list[Comment]]:
    """Attach comments (in line order) to a body's items; return what is left after them."""
    out: list[Any] = []
    pending: list[Comment] = []
    i = 0
    for item in items:
        start, end = _lines(item)
        while i < len(comments) and comments[i].line < start:
            pending.append(comments[i])
            i += 1
        inside: list[Comment] = []
        while i < len(comments) and comments[i].line <= end:
            inside.append(comments[i])
            i += 1
        new, pending = _attach_item(item, pending, inside)
        out.append(new)
    pending.extend(comments[i:])
    return out, pending


def _comment_lines(comments: list[Comment]) -> tuple[str, ...]:
    """Comment texts, with "" where the source had blank lines between two comments,
    so that fmt keeps a file's header comment apart from the next item's."""
    texts: list[str] = []
    for prev, c in zip([None, *comments], comments, strict=False):
        if prev is not None and c.line - prev.line > 1:
            texts.append("")
        texts.append(c.text)
    return tuple(texts)


def _attach_item(
    item: Item, above: list[Comment], inside: list[Comment]
) -> tuple[Item, list[Comment]]:
    start, end = _lines(item)
    trailing: str | None = None
    rest: list[Comment] = []
    for c in inside:
        if trailing is None and not c.own_line and c.line == start:
            trailing = c.text
        else:
            rest.append(c)
    texts = _comment_lines(above)
    carry: list[Comment] = []
    if isinstance(item, syntax.Block):
        body, left = attach_items(list(item.body), rest)
        inner = [c for c in left if c.own_line or c.line != end]
        carry = [c for c in left if not (c.own_line or c.line != end)]
        new_block = replace(
            item,
            body=tuple(body),
            comments=texts,
            trailing=trailing,
            inner_comments=tuple(c.text for c in inner),
        )
        return new_block, carry
    if isinstance(item, syntax.Attribute):
        value, left = _attach_value(item.value, rest)
        for c in left:
            if trailing is None and not c.own_line:
                trailing = c.text
            else:
                carry.append(c)
        return replace(item, value=value, comments=texts, trailing=trailing), carry
    return replace(item, comments=texts, trailing=trailing), rest


def _attach_value(
    value: syntax.Value, comments: list[Comment]
) -> tuple[syntax.Value, list[Comment]]:
    """Comments inside a multi-line map go to its entries; the rest is handed back."""
    if isinstance(value, syntax.MapValue):
        entries, left = attach_items(list(value.entries), comments)
        return replace(value, entries=tuple(entries)), left
    if isinstance(value, syntax.ListValue) and comments:
        items: list[syntax.Value] = []
        left = []
        todo = list(comments)
        for v in value.items:
            start, end = v.pos.line, v.pos.end_line or v.pos.line
            left.extend(c for c in todo if c.line < start)
            mine = [c for c in todo if start <= c.line <= end]
            todo = [c for c in todo if c.line > end]
            new, rest = _attach_value(v, mine)
            items.append(new)
            left.extend(rest)
        left.extend(todo)
        return replace(value, items=tuple(items)), left
    return value, comments
