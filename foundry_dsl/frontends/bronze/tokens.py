"""Token stream: the Lark lexer and parser, and the brackets and statement each token is in.

The LALR parser is built once, lazily: importing this module does not import
lark, so ``foundry --help`` stays fast. The driver in ``parser`` feeds it token
by token instead of calling ``Lark.parse``, so it needs to know what this
module tracks: which brackets are open and which tokens the current
statement holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from foundry_dsl.errors import Position
from foundry_dsl.resources import grammar_path

if TYPE_CHECKING:
    from lark import Lark, Token
    from lark.parsers.lalr_interactive_parser import InteractiveParser

__all__ = ["CLOSERS", "OPENERS", "Cursor", "Open", "lalr", "lex", "span"]

OPENERS = {"LBRACE": "{", "LSQB": "[", "LPAR": "("}
CLOSERS = {"RBRACE", "RSQB", "RPAR"}


@cache
def lalr() -> Lark:
    """The `.bronze` parser (grammar/bronze.lark).

    Its tree keeps every token, punctuation included, and no positions of its own:
    ``build`` takes a node's span from its first and last token, which costs
    nothing, where Lark's ``propagate_positions`` costs more than parsing itself."""
    from lark import Lark

    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        lexer="basic",
        keep_all_tokens=True,
        postlex=_KeepTokens(),
        maybe_placeholders=False,
    )


class _KeepTokens:
    """A pass-through post-lexer whose only job is to keep the terminals that no
    rule uses (comments, unterminated strings) in the lexer, so the driver sees them."""

    always_accept = ("COMMENT", "BAD_STRING", "BAD_TRIPLE")

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


def lex(
    interactive: InteractiveParser, text: str, bad_character: Callable[[int, int, int], None]
) -> Iterator[Token]:
    """Every token of `text`, comments included; a character no terminal matches is
    handed to `bad_character` (offset, line, column) and lexing goes on after it."""
    from lark.exceptions import UnexpectedCharacters

    lexer = interactive.lexer_thread
    while True:
        try:
            yield from lexer.lex(interactive.parser_state)
            return
        except UnexpectedCharacters as e:
            offset = e.pos_in_stream or 0
            bad_character(offset, e.line, e.column)
            assert lexer.state is not None
            lexer.state.line_ctr.feed(text[offset : offset + 1])


def span(path: str, tok: Token) -> Position:
    return Position(path, tok.line or 1, tok.column or 1, tok.end_line, tok.end_column)


@dataclass
class Open:
    tok: Token
    depth: int  # parser stack height right after the opener was shifted
    what: str  # "block", "map", "list" or "call", for messages


class Cursor:
    """The brackets open around the parser and the tokens of the statement it is
    reading: error messages and recovery are decided from them."""

    def __init__(self) -> None:
        self.opens: list[Open] = []
        # tokens of the statement being read, one list per open '{'
        self.stmts: list[list[Token]] = [[]]
        self.last: Token | None = None

    def in_brackets(self) -> bool:
        return bool(self.opens) and self.opens[-1].tok.type in ("LSQB", "LPAR")

    def track(self, tok: Token, depth: int) -> None:
        """Account for `tok`, just taken by the parser, whose stack is now `depth` high."""
        kind = tok.type
        if kind in OPENERS:
            what = {"LSQB": "list", "LPAR": "call"}.get(kind, "block")
            before = self.stmts[-1][-1].type if self.stmts[-1] else None
            if kind == "LBRACE" and (before in ("EQUAL", "COMMA", "LSQB") or self.in_brackets()):
                what = "map"
            self.opens.append(Open(tok, depth, what))
        elif kind in CLOSERS and self.opens:
            self.opens.pop()
        if kind == "LBRACE":
            self.stmts[-1].append(tok)
            self.stmts.append([])
        elif kind == "RBRACE":
            if len(self.stmts) > 1:
                self.stmts.pop()
            self.stmts[-1].append(tok)
        elif kind in ("_NL", "COMMA") and not self.in_brackets():
            self.stmts[-1] = []
        else:
            self.stmts[-1].append(tok)
        self.last = tok

    def unwind(self, keep: int) -> None:
        """Forget what the parser dropped when cut back to `keep` + 1 states; the
        statement being read starts afresh."""
        self.opens = [o for o in self.opens if o.depth <= keep + 1]
        braces = sum(1 for o in self.opens if o.tok.type == "LBRACE")
        self.stmts = [*self.stmts[:braces], []]
