"""Frontend, syntax layer: a well-formed `.bronze` file → :class:`syntax.File`, quickly.

Most files a run reads have no mistake in them. For those, this module reads
the text straight into the syntax tree: one regular expression for the tokens
(the terminals of grammar/bronze.lark, tried in the order Lark tries them) and
a recursive descent over the grammar's rules, building the same nodes, with
the same positions and comments, as ``parser`` does through Lark and ``build``
(values are typed by the same ``values`` functions). It imports neither Lark
nor the grammar.

It never reports anything: at the first thing it does not expect (a syntax
error, a value ``values`` rejects, a token Lark would not produce, deep nesting)
it gives up and returns None, and ``parser`` parses the file again the thorough
way, which finds and words every error. So the language, and every message,
stay those of the grammar; tests check that both readers give equal trees.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace

from foundry_dsl.errors import Position
from foundry_dsl.frontends.bronze import tree as syntax
from foundry_dsl.frontends.bronze import values
from foundry_dsl.frontends.bronze.comments import Comment, _comment_lines, attach_items

__all__ = ["parse"]

#: the grammar's terminals, each after the spaces before it, in the order Lark's
#: lexer tries them (by priority, then the widest first); an unterminated string
#: and any other character end the quick read (``BAD``). Spaces at the very end
#: match nothing and are passed over.
_TOKEN = re.compile(
    r"[ \t\f\r]*(?:"
    r'(?P<TRIPLE>"""[\s\S]*?""")'
    r'|(?P<BAD3>""")'
    r'|(?P<STRING>"(?:[^"\\\n]|\\.)*")'
    r"|(?P<NAME>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<NUMBER>-?[0-9][0-9A-Za-z_.:+\-]*)"
    r"|(?P<COMMENT>#[^\n]*)"
    r"|(?P<NL>\r?\n)"
    r"|(?P<P>[{}\[\]()=,])"
    r"|(?P<BAD>[^ \t\f\r]))"
)

#: how deep brackets may nest here; deeper files go to ``parser`` (``MAX_NESTING``)
_MAX_DEPTH = 50


class _GiveUp(Exception):
    """Anything this reader does not take: ``parser`` reads the file instead."""


def _give_up(*_: object) -> None:
    raise _GiveUp


@functools.lru_cache(maxsize=4096)
def _number(raw: str) -> syntax.Scalar:
    """A NUMBER token's value (immutable: the same text, ``5m`` or ``256MB``, comes
    back in every pipeline); a value ``values`` rejects ends the quick read."""
    return values.number(raw, _NOWHERE, _give_up)


_NOWHERE = Position("", 1, 1)  # values.number reports at it, and _give_up ignores it

# a token: (kind, text, line, column, end line, end column); kind is the group name,
# or the punctuation itself, or "IMPORT" for the keyword
_Tok = tuple[str, str, int, int, int, int]


def parse(text: str, path: str) -> syntax.File | None:
    """The file's syntax tree, equal to ``parser.parse``'s; None when it must be read
    the thorough way (it has a mistake, or something this reader does not handle)."""
    try:
        tokens, comments = _lex(text)
        return _Reader(path, text, tokens).file(comments)
    except (_GiveUp, IndexError, RecursionError):
        return None


def _lex(text: str) -> tuple[list[_Tok], list[Comment]]:
    tokens: list[_Tok] = []
    comments: list[Comment] = []
    append = tokens.append
    line, line_start = 1, 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "BAD"
        pos, stop = m.span(kind)
        value = text[pos:stop]
        col = pos - line_start + 1
        if kind == "NL":
            append(("NL", value, line, col, line + 1, 1))
            line += 1
            line_start = stop
        elif kind == "P":
            append((value, value, line, col, line, col + 1))
        elif kind == "NAME" or kind == "STRING" or kind == "NUMBER":
            if value == "import":
                kind = "IMPORT"
            append((kind, value, line, col, line, col + len(value)))
        elif kind == "COMMENT":
            own = not text[line_start:pos].strip()
            comments.append(Comment(line, value.rstrip(), own))
        elif kind == "TRIPLE":
            newlines = value.count("\n")
            if newlines:
                last = pos + value.rindex("\n") + 1
                append((kind, value, line, col, line + newlines, stop - last + 1))
                line += newlines
                line_start = last
            else:
                append((kind, value, line, col, line, col + len(value)))
        else:
            raise _GiveUp  # an unterminated string, or a character no terminal takes
    end = len(text) - line_start + 1
    append(("$END", "", line, end, line, end))
    return tokens, comments


class _Reader:
    """A recursive descent over grammar/bronze.lark, building ``tree`` nodes as
    ``build.Builder`` does. ``NL`` tokens count at top level and inside ``{...}``;
    inside ``[...]`` and ``(...)`` they are skipped, as the driver drops them."""

    def __init__(self, path: str, text: str, tokens: list[_Tok]) -> None:
        self.path = path
        self.text = text
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    # -- tokens

    def next(self, skip_nl: bool = False) -> _Tok:
        tok = self.tokens[self.i]
        while skip_nl and tok[0] == "NL":
            self.i += 1
            tok = self.tokens[self.i]
        self.i += 1
        return tok

    def peek(self, skip_nl: bool = False) -> str:
        i = self.i
        while skip_nl and self.tokens[i][0] == "NL":
            i += 1
        return self.tokens[i][0]

    def expect(self, kind: str, skip_nl: bool = False) -> _Tok:
        tok = self.next(skip_nl)
        if tok[0] != kind:
            raise _GiveUp
        return tok

    def pos(self, first: _Tok, last: _Tok) -> Position:
        return Position(self.path, first[2], first[3], last[4], last[5])

    def open(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _GiveUp

    # -- items

    def file(self, comments: list[Comment]) -> syntax.File:
        items: list[syntax.Import | syntax.Block] = []
        while self.peek() == "NL":
            self.i += 1
        while self.peek() != "$END":
            if self.peek() == "IMPORT":
                first = self.next()
                tok = self.expect("STRING")
                items.append(syntax.Import(self.string(tok), self.pos(first, tok)))
            else:
                items.append(self.block(self.expect("NAME")))
            if self.peek() == "$END":
                break
            self.expect("NL")  # items are separated by line breaks
            while self.peek() == "NL":
                self.i += 1
        rest: list[Comment] = []
        if not comments:
            attached = items
        elif items and comments[-1].line < items[0].pos.line:
            # only a header above the first item: what attach_items would make of it
            attached = [replace(items[0], comments=_comment_lines(comments)), *items[1:]]
        else:
            attached, rest = attach_items(items, comments)
        return syntax.File(
            path=self.path,
            items=tuple(attached),
            text=self.text,
            trailing_comments=tuple(c.text for c in rest),
        )

    def block(self, kind: _Tok) -> syntax.Block:
        """``kind label... { body }``, from its kind (a NAME, already read)."""
        if "." in kind[1]:
            raise _GiveUp  # a dotted kind: ``build`` reports it
        labels: list[_Tok] = []
        while self.peek() in ("NAME", "STRING"):
            labels.append(self.next())
        self.expect("{")
        self.open()
        members: list[syntax.Attribute | syntax.Block] = []
        self.separators()
        while self.peek() != "}":
            first = self.next()
            if self.peek() == "=":
                members.append(self.attribute(first))
            elif first[0] == "NAME":
                members.append(self.block(first))
            else:
                raise _GiveUp
            if self.peek() != "}" and not self.separators():
                raise _GiveUp
        close = self.next()
        self.depth -= 1
        return syntax.Block(
            kind=kind[1],
            labels=tuple(self.string(t) if t[0] == "STRING" else t[1] for t in labels),
            body=tuple(members),
            pos=self.pos(kind, close),
            label_pos=tuple(self.pos(t, t) for t in labels),
        )

    def separators(self) -> bool:
        """Skip line breaks and commas between members; whether there were any."""
        start = self.i
        while self.peek() in ("NL", ","):
            self.i += 1
        return self.i > start

    def attribute(self, key: _Tok) -> syntax.Attribute:
        """``key = value``, from its key (already read) at the ``=``."""
        if key[0] == "STRING":
            name = self.string(key)
        elif key[0] == "NAME" and "." not in key[1]:
            name = key[1]
        else:
            raise _GiveUp  # a dotted key (``build`` reports it), or no key at all
        self.expect("=")
        return syntax.Attribute(name, self.pos(key, key), self.value(self.next()))

    # -- values

    def value(self, tok: _Tok, in_brackets: bool = False) -> syntax.Value:
        """The value that starts at ``tok``; ``in_brackets``: inside ``[...]`` or ``(...)``."""
        kind, raw = tok[0], tok[1]
        if kind == "STRING":
            at = self.pos(tok, tok)
            return syntax.ScalarValue(self.string(tok, at), at, raw)
        if kind == "NAME":
            if self.peek(in_brackets) == "(":
                return self.call(tok)
            return syntax.ScalarValue(values.name(raw), self.pos(tok, tok), raw)
        if kind == "NUMBER":
            return syntax.ScalarValue(_number(raw), self.pos(tok, tok), raw)
        if kind == "TRIPLE":
            return syntax.ScalarValue(values.triple(raw), self.pos(tok, tok), raw)
        if kind == "[":
            self.open()
            items = self.sequence("]")
            close = self.next(skip_nl=True)
            self.depth -= 1
            return syntax.ListValue(tuple(v for _, v in items), self.pos(tok, close))
        if kind == "{":
            return self.map(tok)
        raise _GiveUp

    def sequence(self, closer: str) -> list[tuple[_Tok, syntax.Value]]:
        """The values in ``[...]`` or ``(...)`` up to ``closer``, each with its first
        token: separated by commas, a trailing comma allowed, line breaks skipped."""
        items: list[tuple[_Tok, syntax.Value]] = []
        while self.peek(skip_nl=True) != closer:
            first = self.next(skip_nl=True)
            items.append((first, self.value(first, in_brackets=True)))
            if self.peek(skip_nl=True) == ",":
                self.next(skip_nl=True)
            elif self.peek(skip_nl=True) != closer:
                raise _GiveUp
        return items

    def call(self, name: _Tok) -> syntax.ScalarValue:
        """``env("NAME")``: the only function; any other ends the quick read."""
        self.expect("(", skip_nl=True)
        self.open()
        args = self.sequence(")")
        close = self.next(skip_nl=True)
        self.depth -= 1
        if name[1] != "env" or len(args) != 1 or args[0][0][0] != "STRING":
            raise _GiveUp  # ``build`` reports these
        arg, value = args[0]
        var = value.value if isinstance(value, syntax.ScalarValue) else None
        if not isinstance(var, str) or not var:
            raise _GiveUp
        return syntax.ScalarValue(syntax.EnvCall(var), self.pos(name, close), f"env({arg[1]})")

    def map(self, open_tok: _Tok) -> syntax.MapValue:
        """``{ key = value, ... }`` as a value: attributes only, line breaks count."""
        self.open()
        entries: list[syntax.Attribute] = []
        self.separators()
        while self.peek() != "}":
            first = self.next()
            if self.peek() != "=":
                raise _GiveUp
            entries.append(self.attribute(first))
            if self.peek() != "}" and not self.separators():
                raise _GiveUp
        close = self.next()
        self.depth -= 1
        return syntax.MapValue(tuple(entries), self.pos(open_tok, close))

    def string(self, tok: _Tok, at: Position | None = None) -> str:
        raw = tok[1]
        if "\\" not in raw:
            return raw[1:-1]
        return values.string(raw, at or self.pos(tok, tok), _give_up)
