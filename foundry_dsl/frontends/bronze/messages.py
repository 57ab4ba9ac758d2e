"""Syntax error messages: a parser failure, or a character that starts no token → one Diagnostic.

Each message names what was found and says how to write what was meant. It is
decided from where the failure happened (the open brackets and the statement
being read, as :class:`tokens.Cursor` tracks them) rather than from the
parser's state, which only knows terminal names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from foundry_dsl.errors import Diagnostic, Position
from foundry_dsl.frontends.bronze.tokens import OPENERS, Cursor, Open, span
from foundry_dsl.frontends.bronze.values import VALUE_HELP

if TYPE_CHECKING:
    from lark import Token

__all__ = ["Message", "bad_character", "block_with_equals", "classify"]


@dataclass(frozen=True)
class Message:
    line: int  # the line it is reported for: the driver keeps one message per line
    diagnostic: Diagnostic
    # an unclosed bracket: recovery must not skip to a closer that is not there
    unclosed: bool = False
    # `auth = bearer {`: recovery reads on as `auth bearer {`, so the block's '}'
    # closes it and its contents are still parsed (no knock-on errors)
    block_with_equals: bool = False


def _after(path: str, tok: Token) -> Position:
    """Just past `tok`: where a missing token would have been written."""
    line = tok.end_line or tok.line or 1
    col = tok.end_column or (tok.column or 1)
    return Position(path, line, col, line, col + 1)


def _describe(tok: Token) -> str:
    kind = tok.type
    if kind == "_NL":
        return "end of line"
    if kind == "$END":
        return "end of file"
    if kind == "TRIPLE":
        return "a triple-quoted string"
    text = str(tok.value)
    if len(text) > 24:
        text = text[:21] + "..."
    return f"'{text}'"


_EXPECTED_WORDS = {
    "EQUAL": "'='",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "IMPORT": "'import'",
    "_NL": "a new line",
    "$END": "the end of the file",
}


def _expected_words(expected: set[str]) -> str:
    words = sorted({_EXPECTED_WORDS[e] for e in expected if e in _EXPECTED_WORDS})
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def bad_character(path: str, text: str, offset: int, line: int, col: int) -> Message:
    """A character at `offset` that starts no token."""
    char = text[offset]
    following = text[offset + 1 : offset + 2]
    if char == "." and following and not following.isascii():
        # `crm.ünï`: the name stopped before the dot; the dot is not the mistake
        offset, col, char = offset + 1, col + 1, following
    hint = None
    if not char.isascii():
        hint = (
            "names use only ASCII letters, digits and '_'"
            if char.isprintable()
            else "an invisible character: delete it and retype the text around it"
        )
    elif char == "'":
        hint = 'strings are written in double quotes: "text"'
    elif char == ":":
        hint = "attributes are written key = value"
    elif char == "-":
        hint = "a negative number is written -5, with the digit right after the minus"
    shown = char if char.isprintable() else repr(char)[1:-1]
    pos = Position(path, line, col, line, col + 1)
    return Message(line, Diagnostic(f"unexpected character '{shown}'", pos, hint))


def classify(
    cursor: Cursor, path: str, tok: Token, expected: set[str], peek: Token | None = None
) -> Message:
    """Turn a parser failure on `tok` into a human message. Tested as a table in
    tests/frontends/bronze/test_syntax_errors.py: each rule there has an example."""
    kind = tok.type
    line = tok.line or 1
    stmt = cursor.stmts[-1]
    stmt_kinds = {t.type for t in stmt}
    inner = cursor.opens[-1].tok if cursor.opens else None
    in_map = bool(cursor.opens) and cursor.opens[-1].what == "map"
    here = span(path, tok)
    if kind in ("_NL", "$END") and cursor.last is not None:
        here = _after(path, cursor.last)

    def diag(message: str, pos: Position = here, help: str | None = None) -> Message:
        return Message(line, Diagnostic(message, pos, help))

    if kind == "BAD_STRING":
        return diag(
            "unterminated string",
            Position(path, line, tok.column or 1, line, (tok.column or 1) + 1),
            'close it with " on the same line; write """...""" for text over several lines',
        )
    if kind == "BAD_TRIPLE":
        col = tok.column or 1
        return diag(
            "unterminated triple-quoted string",
            Position(path, line, col, line, col + 3),
            'close it with """',
        )
    if inner is not None and (
        kind == "$END"
        or (inner.type != "LBRACE" and kind in ("EQUAL", "RBRACE", "IMPORT"))
        or (peek is not None and peek.type == "EQUAL")
    ):
        return _unclosed(path, cursor.opens[-1])
    if kind == "RBRACE" and not cursor.opens:
        return diag(
            "unexpected '}' with no open block",
            help="remove it, or look for a '}' too many above",
        )
    if kind == "IMPORT" and stmt and stmt[-1].type == "EQUAL":
        return diag("'import' is a keyword, not a value", help='write "import" to mean the text')
    if kind == "IMPORT" and cursor.opens:
        return diag(
            "'import' is only allowed at the top level of a file",
            help='move import "..." to the top of the file, outside every block',
        )
    if inner is not None and inner.type == "LSQB" and "RSQB" in expected:
        if "COMMA" in expected:
            return diag(
                f"expected ',' or ']' after a list item, found {_describe(tok)}",
                help="list items are separated by ','",
            )
        return diag(f"expected a list item or ']', found {_describe(tok)}", help=VALUE_HELP)
    if inner is not None and inner.type == "LPAR":
        return diag(
            f"unexpected {_describe(tok)} in env(...)",
            help='write env("NAME") with one quoted name',
        )
    if stmt and stmt[0].type == "IMPORT":
        return diag(
            f"expected a quoted path after 'import', found {_describe(tok)}",
            help='write import "path/to/file.bronze"',
        )
    if stmt and stmt[-1].type == "EQUAL":
        if kind in ("_NL", "$END", "RBRACE", "COMMA", "RSQB", "RPAR"):
            return diag("missing value after '='", _after(path, stmt[-1]), VALUE_HELP)
        return diag(f"unexpected {_describe(tok)} after '='", help=VALUE_HELP)
    if len(stmt) == 1 and "EQUAL" in expected:
        key = stmt[0]
        if kind in ("_NL", "$END", "COMMA", "RBRACE"):
            here = _after(path, key)
        name = str(key.value)
        if key.type == "NAME" and not in_map:
            hint = f"write {name} = value for an attribute, or {name} {{ ... }} for a block"
        else:
            hint = f"write {name} = value"
        return diag(f"expected '=' after '{name}'", here, hint)
    if stmt and stmt[0].type == "NAME" and "LBRACE" in expected and "EQUAL" not in stmt_kinds:
        kind_tok, labels = stmt[0], stmt[1:]
        if len(labels) == 1 and labels[0].type == "STRING":
            return diag(
                f"expected '=' after '{kind_tok.value}'",
                span(path, labels[0]),
                f"write {kind_tok.value} = {labels[0].value}",
            )
        header = " ".join(str(t.value) for t in stmt)
        hint = f"a block is written {header} {{ ... }}"
        if len(labels) == 1:
            hint += f"; an attribute is written {kind_tok.value} = {labels[0].value}"
        return diag(f"expected '{{' after '{header}'", help=hint)
    if stmt and stmt[-1].type == "RBRACE" and "EQUAL" not in stmt_kinds:
        if cursor.opens:
            return diag(
                f"expected a new line or ',' after '}}', found {_describe(tok)}",
                help="put each block on its own line, or separate them with ','",
            )
        return diag(
            f"expected a new line after '}}', found {_describe(tok)}",
            help="start each top-level block on its own line",
        )
    if block_with_equals(stmt, tok) and not in_map:
        header = " ".join(str(t.value) for t in (stmt[0], *stmt[2:]))
        return Message(line, Diagnostic(
            f"'{stmt[0].value}' is a block, and blocks take no '='",
            span(path, stmt[1]),
            f"write {header} {{ ... }}",
        ), block_with_equals=True)
    if "EQUAL" in stmt_kinds:
        return diag(
            f"expected a new line or ',' after the value of '{stmt[0].value}', found {_describe(tok)}",
            help="put each attribute on its own line or separate them with ','; "
            "several values make a list: [a, b]",
        )
    if not stmt and not cursor.opens:
        return diag(
            f"expected a block or an import, found {_describe(tok)}",
            help='a file holds import "..." lines and blocks such as pipeline name { ... }',
        )
    if not stmt:
        return diag(
            f"expected an attribute or a block, found {_describe(tok)}",
            help="write key = value, or kind label { ... } for a block",
        )
    return diag(f"unexpected {_describe(tok)}", help=f"expected {_expected_words(expected)}")


def block_with_equals(stmt: list[Token], tok: Token) -> bool:
    """``key = kind "label" {``: a block header written like an attribute."""
    return (
        tok.type == "LBRACE"
        and len(stmt) >= 3
        and stmt[0].type == "NAME"
        and stmt[1].type == "EQUAL"
        and stmt[2].type == "NAME"
        and all(t.type in ("NAME", "STRING") for t in stmt[3:])
    )


def _unclosed(path: str, opened: Open) -> Message:
    char = OPENERS[opened.tok.type]
    closer = {"{": "}", "[": "]", "(": ")"}[char]
    line = opened.tok.line or 1
    diagnostic = Diagnostic(
        f"unclosed '{char}' opened at line {line}",
        span(path, opened.tok),
        f"close the {opened.what} with '{closer}'",
    )
    return Message(line, diagnostic, unclosed=True)
