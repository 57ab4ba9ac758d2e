"""Tree building: Lark's parse tree → the `.bronze` syntax tree (``tree``), errors included.

Lark only knows the shape of the text; what is wrong inside a well-shaped
item (a dotted block kind, an attribute at top level, ``env`` misused, a value
``values`` rejects) is found here, and collected so that one run reports
them all.

Lark's tree keeps every token (``tokens.lalr``): punctuation is skipped here,
and a node's span runs from its first token to its last. Each top-level item's
parse tree is let go as soon as it is built (most while the file is still being
parsed, see ``parser``), so a large file never holds its parse tree whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from foundry_dsl.errors import Diagnostic, Position, did_you_mean
from foundry_dsl.frontends.bronze import tree as syntax
from foundry_dsl.frontends.bronze import values
from foundry_dsl.frontends.bronze.comments import Item, attach_items, comment

if TYPE_CHECKING:
    from lark import Token, Tree

__all__ = ["Builder"]


class Builder:
    """Parse tree → syntax tree, checking each value and collecting its errors."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.diagnostics: list[Diagnostic] = []

    def error(self, message: str, pos: Position, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(message, pos, help))

    def pos(self, node: Tree | Token) -> Position:
        """Where `node` was written: from its first token to its last."""
        first = last = node
        while not isinstance(first, str):  # a Token is a str, a Tree is not
            first = first.children[0]
        while not isinstance(last, str):
            last = last.children[-1]
        return Position(self.path, first.line or 1, first.column or 1, last.end_line, last.end_column)

    # -- items

    def file(self, tree: Tree, comments: list[Token]) -> syntax.File:
        """The whole file, with `comments` (taken out of the token stream) attached."""
        items: list[syntax.Import | syntax.Block] = []
        children: list[Any] = tree.children
        for i, child in enumerate(children):
            if isinstance(child, str):
                continue  # a newline between items
            children[i] = None  # built: its parse tree can go
            # the parser's driver builds most items as soon as they are complete
            item: Item = self.item(child) if hasattr(child, "data") else child
            if isinstance(item, syntax.Attribute):
                self.error(
                    f"attribute '{item.key}' outside of any block",
                    item.key_pos,
                    "attributes belong inside a block such as pipeline name { ... }",
                )
            else:
                items.append(item)
        attached, rest = attach_items(items, [comment(c, self.text) for c in comments])
        return syntax.File(
            path=self.path,
            items=tuple(i for i in attached if not isinstance(i, syntax.Attribute)),
            text=self.text,
            trailing_comments=tuple(c.text for c in rest),
        )

    def item(self, tree: Tree) -> Item:
        if tree.data == "import_stmt":
            return syntax.Import(self.string(_children(tree)[0]), self.pos(tree))
        if tree.data == "block":
            return self.block(tree)
        return self.attribute(tree)

    def block(self, tree: Tree) -> syntax.Block:
        kind, *labels, body = _children(tree)
        if "." in kind.value:
            self.error(
                f"a block kind is a plain name, not '{kind.value}'",
                self.pos(kind),
                "dotted names such as github.issues go after the kind: pipeline github.issues { }",
            )
        members: list[syntax.Attribute | syntax.Block] = []
        for child in _children(body):
            members.append(self.block(child) if child.data == "block" else self.attribute(child))
        return syntax.Block(
            kind=str(kind.value),
            labels=tuple(self.label(t) for t in labels),
            body=tuple(members),
            pos=self.pos(tree),
            label_pos=tuple(self.pos(t) for t in labels),
        )

    def label(self, tok: Token) -> str:
        return self.string(tok) if tok.type == "STRING" else str(tok.value)

    def attribute(self, tree: Tree) -> syntax.Attribute:
        key_tok, value = _children(tree)
        if key_tok.type == "STRING":
            key = self.string(key_tok)
        else:
            key = str(key_tok.value)
            if "." in key:
                self.error(
                    f"a key is a plain name, not '{key}'",
                    self.pos(key_tok),
                    f'quote a key that holds dots: "{key}" = ...',
                )
        return syntax.Attribute(key, self.pos(key_tok), self.value(value))

    # -- values

    def value(self, tree: Tree) -> syntax.Value:
        kind = tree.data
        pos = self.pos(tree)
        if kind == "list":
            return syntax.ListValue(tuple(self.value(c) for c in _children(tree)), pos)
        if kind == "map":
            return syntax.MapValue(tuple(self.attribute(c) for c in _children(tree)), pos)
        if kind == "call":
            return self.call(tree, pos)
        tok = cast("Token", tree.children[0])  # a scalar's tree holds its one token
        raw = str(tok.value)
        scalar: syntax.Scalar
        if kind == "string":
            scalar = raw[1:-1] if "\\" not in raw else values.string(raw, pos, self.error)
        elif kind == "triple":
            scalar = values.triple(raw)
        elif kind == "name":
            scalar = values.name(raw)
        else:
            scalar = values.number(raw, pos, self.error)
        return syntax.ScalarValue(scalar, pos, raw)

    def string(self, tok: Token) -> str:
        raw = str(tok.value)
        if "\\" not in raw:
            return raw[1:-1]  # nothing to decode (``values.string``), no position needed
        return values.string(raw, self.pos(tok), self.error)

    def call(self, tree: Tree, pos: Position) -> syntax.ScalarValue:
        """``env("NAME")``: the grammar admits any name(args), so that a wrong one
        gets a message here rather than a bare syntax error."""
        name_tok, *args = _children(tree)
        name = str(name_tok.value)
        if name != "env":
            hint = did_you_mean(name, ["env"]) or 'the only function is env("NAME")'
            self.error(f"unknown function '{name}'", self.pos(name_tok), hint)
            return syntax.ScalarValue(None, pos, name)
        if len(args) != 1 or args[0].data != "string":
            self.error(
                "env() takes one quoted variable name",
                pos,
                'write env("NAME"), e.g. env("GITHUB_TOKEN")',
            )
            return syntax.ScalarValue(None, pos, "env()")
        arg_tok = _children(args[0])[0]
        var = self.string(arg_tok)
        if not var:
            self.error("env() needs a variable name", pos, 'write env("NAME")')
        return syntax.ScalarValue(syntax.EnvCall(var), pos, f"env({arg_tok.value})")


#: tokens that only shape the text: the tree keeps them, the syntax tree does not
_PUNCTUATION = frozenset(
    ("IMPORT", "EQUAL", "COMMA", "_NL", "LBRACE", "RBRACE", "LSQB", "RSQB", "LPAR", "RPAR")
)


def _children(tree: Tree) -> list[Any]:
    """A node's children without punctuation: tokens or trees, as the grammar rule
    for `tree.data` says."""
    return [c for c in tree.children if not (isinstance(c, str) and c.type in _PUNCTUATION)]  # type: ignore[attr-defined]
