"""Frontend, syntax layer: `.bronze` text → :class:`syntax.File`, or a ConfigError.

This module knows the shape of the language (grammar/bronze.lark), not what
any block means; ``frontends.lower`` gives meaning to the tree it returns.

How the text is read:

* The LALR parser is built once, lazily: importing this module does not
  import lark, so ``foundry --help`` stays fast.
* We drive the parser token by token instead of calling ``Lark.parse``:
  newlines inside ``[...]`` and ``(...)`` are dropped (lists and calls may span
  lines), comments are taken out of the stream and attached to items by line
  afterwards, and after a syntax error we skip to the next line (or the ``}``
  that closes the current block), unwind the parser to a state that accepts
  it, and carry on, so one run reports every independent mistake in a file,
  at most one per line.
* Values are classified in Python, with positioned errors:

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
  - ``env("NAME")`` is an ``EnvCall``; no other function exists.

* Comments keep their ``#`` and lose trailing whitespace. A comment alone on
  its line goes to the next item's ``comments`` in the same body; comments
  after the last item of a block go to its ``inner_comments``, at the end of
  the file to ``File.trailing_comments``. A comment at the end of a line goes
  to ``trailing`` of the outermost item that starts on that line (an
  attribute whose value spans lines also takes one from its last line);
  a comment after a multi-line block's ``}``, and one before the ``}`` of an
  inline map or inside a list, becomes a comment above the next item (the
  tree has no other place for it).
* Only ``import`` is a keyword; ``true``, ``false``, ``null`` and ``env`` stay
  usable as keys and labels.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache
from typing import TYPE_CHECKING, Any

from foundry_dsl.errors import ConfigError, Diagnostic, Position, did_you_mean
from foundry_dsl.frontends.bronze import tree as syntax
from foundry_dsl.resources import grammar_path

if TYPE_CHECKING:
    from lark import Lark, Token, Tree

__all__ = ["DURATION_UNITS", "SIZE_UNITS", "parse"]

SIZE_UNITS: dict[str, int] = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
DURATION_UNITS: dict[str, Fraction] = {
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
    "d": Fraction(86400),
}

SIZE_HELP = "sizes are written 128MB, 1GB, 512KB (units B, KB, MB, GB, TB; 1KB = 1024 bytes)"
DURATION_HELP = "durations are written 100ms, 30s, 5m, 2h, 1d"
VALUE_HELP = (
    'a value is a string "...", a number, a size (128MB), a duration (5m), a date, '
    'a name, a list [a, b], a map { k = v } or env("NAME")'
)

_OPENERS = {"LBRACE": "{", "LSQB": "[", "LPAR": "("}
_CLOSERS = {"RBRACE", "RSQB", "RPAR"}
_VALUE_STARTS = {"NAME", "STRING", "TRIPLE", "NUMBER", "LSQB", "LBRACE", "BAD_STRING", "BAD_TRIPLE"}

_INT = re.compile(r"-?\d+(?:_\d+)*")
_FLOAT = re.compile(r"-?\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?(?:[eE][+-]?\d+)?")
_UNIT = re.compile(r"(-?\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?)([A-Za-z]+)")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:\d{2})?"
)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse(text: str, path: str) -> syntax.File:
    """Parse one `.bronze` file. Raises ConfigError with every syntax error found."""
    driver = _Driver(_parser(), text, path)
    diagnostics: list[Diagnostic] = []
    file: syntax.File | None = None
    try:
        tree = driver.run()
        diagnostics.extend(driver.diagnostics)
        if tree is not None:
            builder = _Builder(path, text)
            file = builder.file(tree, driver.comments)
            # a value on a line with a syntax error was likely misread: keep the syntax error only
            diagnostics.extend(
                d
                for d in builder.diagnostics
                if d.position is None or d.position.line not in driver.error_lines
            )
    except RecursionError:
        diagnostics = [Diagnostic("the file is nested too deeply to read", Position(path, 1, 1))]
    if diagnostics or file is None:
        raise ConfigError(diagnostics or [Diagnostic("invalid file", None)], {path: text})
    return file


@cache
def _parser() -> Lark:
    from lark import Lark

    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        postlex=_KeepTokens(),
        maybe_placeholders=False,
    )


class _KeepTokens:
    """A pass-through post-lexer whose only job is to keep the terminals that no
    rule uses (comments, unterminated strings) in the lexer, so the driver sees them."""

    always_accept = ("COMMENT", "BAD_STRING", "BAD_TRIPLE")

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


# --------------------------------------------------------------------------- positions


def _span(path: str, tok: Token) -> Position:
    return Position(path, tok.line or 1, tok.column or 1, tok.end_line, tok.end_column)


def _after(path: str, tok: Token) -> Position:
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


# --------------------------------------------------------------------------- parsing


@dataclass
class _Open:
    tok: Token
    depth: int  # parser stack height right after the opener was shifted
    what: str  # "block", "map", "list" or "call", for messages


class _Driver:
    """Feeds tokens to the LALR parser, collecting comments and recovering from errors."""

    def __init__(self, parser: Lark, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.interactive = parser.parse_interactive(text)
        self.state = self.interactive.parser_state
        self.diagnostics: list[Diagnostic] = []
        self.comments: list[Token] = []
        self.opens: list[_Open] = []
        # tokens of the statement being read, one list per open '{'
        self.stmts: list[list[Token]] = [[]]
        self.error_lines: set[int] = set()
        self.last: Token | None = None
        self.swallowed_eof = False
        self.unclosed = False  # the last error was an unclosed bracket

    # -- main loop

    def run(self) -> Tree | None:
        from lark import Token
        from lark.exceptions import UnexpectedToken

        tokens = self._tokens()
        for tok in tokens:
            if tok.type == "COMMENT":
                self.comments.append(tok)
            elif tok.type == "_NL" and self._in_brackets():
                continue
            else:
                self._feed(tok, tokens)
        if self.last is not None:
            end = Token.new_borrow_pos("$END", "", self.last)
        else:
            end = Token("$END", "", 0, 1, 1, 1, 1, 0)
        reported = self.swallowed_eof
        for _ in range(len(self.opens) + 1):
            try:
                tree: Tree = self.state.feed_token(end, True)
                return tree
            except UnexpectedToken as e:
                if not reported:
                    self._error(end, set(e.expected))
                    reported = True
            if not self.opens:
                break
            # close what is open, so the rest of the file still gets its values checked
            closer = {"{": "RBRACE", "[": "RSQB", "(": "RPAR"}[_OPENERS[self.opens[-1].tok.type]]
            self._resync(Token.new_borrow_pos(closer, "", end))
        return None

    def _tokens(self) -> Iterator[Token]:
        from lark.exceptions import UnexpectedCharacters

        lexer = self.interactive.lexer_thread
        while True:
            try:
                yield from lexer.lex(self.state)
                return
            except UnexpectedCharacters as e:
                offset = e.pos_in_stream or 0
                self._bad_character(offset, e.line, e.column)
                # step over the character and lex on from there
                assert lexer.state is not None
                lexer.state.line_ctr.feed(self.text[offset : offset + 1])

    def _in_brackets(self) -> bool:
        return bool(self.opens) and self.opens[-1].tok.type in ("LSQB", "LPAR")

    def _feed(self, tok: Token, tokens: Iterator[Token]) -> None:
        from lark.exceptions import UnexpectedToken

        try:
            self.state.feed_token(tok)
        except UnexpectedToken as e:
            expected = set(e.expected)
            peek = None
            if self._in_brackets() and tok.type in ("NAME", "STRING"):
                # `b` after an unfinished list: `b = ...` means the list was never closed
                peek = self._next_code(tokens)
            self._error(tok, expected, peek)
            if self._insert_brace(tok, expected):
                return
            self._recover(tok, tokens, peek)
            return
        self._track(tok)

    def _next_code(self, tokens: Iterator[Token]) -> Token | None:
        for tok in tokens:
            if tok.type != "COMMENT":
                return tok
            self.comments.append(tok)
        return None

    def _insert_brace(self, tok: Token, expected: set[str]) -> bool:
        """`pipeline a.b` with an indented body below: read on as if '{' were there."""
        from lark import Token

        stmt = self.stmts[-1]
        if not (tok.type == "_NL" and "LBRACE" in expected and stmt and stmt[0].type == "NAME"):
            return False
        if any(t.type == "EQUAL" for t in stmt) or len(stmt) < 2:
            return False
        lines = self.text.splitlines()
        header = lines[(tok.line or 1) - 1]
        below = next((ln for ln in lines[tok.line or 1 :] if ln.strip()), "")
        if _indent(below) <= _indent(header) or below.strip().startswith("}"):
            return False
        brace = Token.new_borrow_pos("LBRACE", "{", tok)
        self._feed(brace, iter(()))
        self._feed(tok, iter(()))
        return True

    def _track(self, tok: Token) -> None:
        kind = tok.type
        if kind in _OPENERS:
            what = {"LSQB": "list", "LPAR": "call"}.get(kind, "block")
            before = self.stmts[-1][-1].type if self.stmts[-1] else None
            if kind == "LBRACE" and (before in ("EQUAL", "COMMA", "LSQB") or self._in_brackets()):
                what = "map"
            self.opens.append(_Open(tok, len(self.state.state_stack), what))
        elif kind in _CLOSERS and self.opens:
            self.opens.pop()
        if kind == "LBRACE":
            self.stmts[-1].append(tok)
            self.stmts.append([])
        elif kind == "RBRACE":
            if len(self.stmts) > 1:
                self.stmts.pop()
            self.stmts[-1].append(tok)
        elif kind in ("_NL", "COMMA") and not self._in_brackets():
            self.stmts[-1] = []
        else:
            self.stmts[-1].append(tok)
        self.last = tok

    # -- recovery

    def _recover(self, bad: Token, tokens: Iterator[Token], peek: Token | None = None) -> None:
        """Skip to the end of the statement, then unwind the parser to accept it."""
        if bad.type == "BAD_TRIPLE":
            self.swallowed_eof = True  # it ran to the end of the file: nothing left to check
        rest = itertools.chain([peek] if peek else [], tokens)
        if self._in_brackets() and not self.unclosed and bad.type not in ("_NL", "RBRACE"):
            # a slip inside a list or call: skip to its closing bracket and keep the statement
            bad = self._skip_to_closer(rest)
            if bad.type in ("RSQB", "RPAR", "$END"):
                if bad.type != "$END":
                    self._resync(bad)
                return
        sync: Token | None = bad
        if bad.type not in ("_NL", "RBRACE"):
            sync = None
            depth = 0
            for tok in rest:
                if tok.type == "COMMENT":
                    self.comments.append(tok)
                elif tok.type == "LBRACE":
                    depth += 1
                elif tok.type == "RBRACE":
                    if depth == 0:
                        sync = tok
                        break
                    depth -= 1
                elif tok.type == "_NL" and depth == 0:
                    sync = tok
                    break
        if sync is None:
            return  # end of input: run() feeds $END
        self._resync(sync)

    def _skip_to_closer(self, tokens: Iterator[Token]) -> Token:
        """The closer of the innermost bracket, or the '}' or '=' that shows it is
        missing (then recovery goes on by lines), or $END."""
        from lark import Token

        opener = self.opens[-1].tok.type
        closer = "RSQB" if opener == "LSQB" else "RPAR"
        depth = 0
        last: Token | None = None
        for tok in tokens:
            last = tok
            if tok.type == "COMMENT":
                self.comments.append(tok)
            elif tok.type == opener:
                depth += 1
            elif tok.type == closer:
                if depth == 0:
                    return tok
                depth -= 1
            elif tok.type in ("RBRACE", "EQUAL"):
                return tok
        return Token("$END", "") if last is None else Token.new_borrow_pos("$END", "", last)

    def _resync(self, sync: Token) -> None:
        """Unwind to the innermost parser state that really takes `sync`, and feed it.

        A state may list `sync` only for an LALR default reduction that then
        fails, so each candidate is tried on a copy first."""
        from lark.exceptions import UnexpectedToken

        stack = self.state.state_stack
        table = self.state.parse_conf.states
        for keep in range(len(stack) - 1, -1, -1):
            if sync.type not in table[stack[keep]]:
                continue
            trial = self.state.copy(deepcopy_values=False)
            del trial.state_stack[keep + 1 :]
            del trial.value_stack[keep:]
            try:
                trial.feed_token(sync)
            except UnexpectedToken:
                continue
            self.opens = [o for o in self.opens if o.depth <= keep + 1]
            braces = sum(1 for o in self.opens if o.tok.type == "LBRACE")
            self.stmts = [*self.stmts[:braces], []]
            self.state.state_stack[:] = trial.state_stack
            self.state.value_stack[:] = trial.value_stack
            self._track(sync)
            return
        # nothing can take it (a stray '}'): drop it

    # -- messages

    def _report(self, line: int, diagnostic: Diagnostic) -> None:
        if line in self.error_lines:
            return  # one message per line: the rest are usually echoes of the first
        self.error_lines.add(line)
        self.diagnostics.append(diagnostic)

    def _bad_character(self, offset: int, line: int, col: int) -> None:
        char = self.text[offset]
        following = self.text[offset + 1 : offset + 2]
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
        pos = Position(self.path, line, col, line, col + 1)
        self._report(line, Diagnostic(f"unexpected character '{shown}'", pos, hint))

    def _error(self, tok: Token, expected: set[str], peek: Token | None = None) -> None:
        self.unclosed = False
        line, diagnostic = self._classify(tok, expected, peek)
        self._report(line, diagnostic)

    def _classify(
        self, tok: Token, expected: set[str], peek: Token | None = None
    ) -> tuple[int, Diagnostic]:
        """Turn a parser failure into a human message. Tested as a table in
        tests/test_syntax_errors.py: each rule there has an example."""
        path = self.path
        kind = tok.type
        line = tok.line or 1
        stmt = self.stmts[-1]
        stmt_kinds = {t.type for t in stmt}
        inner = self.opens[-1].tok if self.opens else None
        in_map = bool(self.opens) and self.opens[-1].what == "map"
        here = _span(path, tok)
        if kind in ("_NL", "$END") and self.last is not None:
            here = _after(path, self.last)

        def diag(
            message: str, pos: Position = here, help: str | None = None
        ) -> tuple[int, Diagnostic]:
            return line, Diagnostic(message, pos, help)

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
            return self._unclosed(self.opens[-1])
        if kind == "RBRACE" and not self.opens:
            return diag(
                "unexpected '}' with no open block",
                help="remove it, or look for a '}' too many above",
            )
        if kind == "IMPORT" and stmt and stmt[-1].type == "EQUAL":
            return diag(
                "'import' is a keyword, not a value", help='write "import" to mean the text'
            )
        if kind == "IMPORT" and self.opens:
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
                    _span(path, labels[0]),
                    f"write {kind_tok.value} = {labels[0].value}",
                )
            header = " ".join(str(t.value) for t in stmt)
            hint = f"a block is written {header} {{ ... }}"
            if len(labels) == 1:
                hint += f"; an attribute is written {kind_tok.value} = {labels[0].value}"
            return diag(f"expected '{{' after '{header}'", help=hint)
        if stmt and stmt[-1].type == "RBRACE" and "EQUAL" not in stmt_kinds:
            if self.opens:
                return diag(
                    f"expected a new line or ',' after '}}', found {_describe(tok)}",
                    help="put each block on its own line, or separate them with ','",
                )
            return diag(
                f"expected a new line after '}}', found {_describe(tok)}",
                help="start each top-level block on its own line",
            )
        if "EQUAL" in stmt_kinds:
            return diag(
                f"expected a new line or ',' after the value of '{stmt[0].value}', found {_describe(tok)}",
                help="put each attribute on its own line or separate them with ','; "
                "several values make a list: [a, b]",
            )
        if not stmt and not self.opens:
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

    def _unclosed(self, opened: _Open) -> tuple[int, Diagnostic]:
        self.unclosed = True
        char = _OPENERS[opened.tok.type]
        closer = {"{": "}", "[": "]", "(": ")"}[char]
        line = opened.tok.line or 1
        return line, Diagnostic(
            f"unclosed '{char}' opened at line {line}",
            _span(self.path, opened.tok),
            f"close the {opened.what} with '{closer}'",
        )


# --------------------------------------------------------------------------- tree building


@dataclass(frozen=True)
class _Comment:
    line: int
    text: str
    own_line: bool  # nothing but whitespace before it on its line


_Item = syntax.Import | syntax.Block | syntax.Attribute


class _Builder:
    """Parse tree → syntax tree, checking each value and collecting its errors."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.diagnostics: list[Diagnostic] = []

    def error(self, message: str, pos: Position, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(message, pos, help))

    def pos(self, node: Tree | Token) -> Position:
        from lark import Token

        if isinstance(node, Token):
            return _span(self.path, node)
        m = node.meta
        return Position(self.path, m.line, m.column, m.end_line, m.end_column)

    # -- items

    def file(self, tree: Tree, comments: list[Token]) -> syntax.File:
        items: list[syntax.Import | syntax.Block] = []
        for child in tree.children:
            item = self.item(child)
            if isinstance(item, syntax.Attribute):
                self.error(
                    f"attribute '{item.key}' outside of any block",
                    item.key_pos,
                    "attributes belong inside a block such as pipeline name { ... }",
                )
            else:
                items.append(item)
        attached, rest = _attach_items(items, [self.comment(c) for c in comments])
        return syntax.File(
            path=self.path,
            items=tuple(i for i in attached if not isinstance(i, syntax.Attribute)),
            text=self.text,
            trailing_comments=tuple(c.text for c in rest),
        )

    def comment(self, tok: Token) -> _Comment:
        start = tok.start_pos or 0
        line_start = self.text.rfind("\n", 0, start) + 1
        own = not self.text[line_start:start].strip()
        return _Comment(tok.line or 1, str(tok.value).rstrip(), own)

    def item(self, tree: Tree) -> _Item:
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
            return syntax.ListValue(tuple(self.value(c) for c in tree.children), pos)
        if kind == "map":
            return syntax.MapValue(tuple(self.attribute(c) for c in tree.children), pos)
        if kind == "call":
            return self.call(tree, pos)
        tok: Token = _children(tree)[0]
        raw = str(tok.value)
        scalar: syntax.Scalar
        if kind == "string":
            scalar = self.string(tok)
        elif kind == "triple":
            scalar = _triple(raw)
        elif kind == "name":
            scalar = {"true": True, "false": False, "null": None}.get(raw, syntax.Ident(raw))
        else:
            scalar = self.number(tok)
        return syntax.ScalarValue(scalar, pos, raw)

    def string(self, tok: Token) -> str:
        raw = str(tok.value)
        try:
            value = json.loads(raw, strict=False)
        except json.JSONDecodeError as e:
            col = (tok.column or 1) + e.pos
            self.error(
                "invalid escape in string",
                Position(self.path, tok.line or 1, col, tok.line, col + 2),
                'escapes are \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX; '
                'write """...""" for raw text',
            )
            return raw[1:-1]
        assert isinstance(value, str)
        return value

    def call(self, tree: Tree, pos: Position) -> syntax.ScalarValue:
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

    def number(self, tok: Token) -> syntax.Scalar:
        raw = str(tok.value)
        pos = self.pos(tok)
        try:
            if _INT.fullmatch(raw):
                return int(raw)
            if _FLOAT.fullmatch(raw):
                return float(raw)
        except ValueError:  # pragma: no cover - the patterns only admit valid literals
            pass
        if m := _DATETIME.fullmatch(raw):
            return self.datetime(m, raw, pos)
        if m := _DATE.fullmatch(raw):
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError as e:
                self.error(f"invalid date '{raw}': {e}", pos, "dates are written YYYY-MM-DD")
                return None
        if m := _UNIT.fullmatch(raw):
            return self.with_unit(m[1], m[2], raw, pos)
        if raw[:1] == "-" or raw[1:2].isdigit() or raw[:1].isdigit():
            self.error(f"invalid number '{raw}'", pos, _number_help(raw))
        return None

    def datetime(self, m: re.Match[str], raw: str, pos: Position) -> dt.datetime | None:
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
            self.error(
                f"invalid datetime '{raw}': {e}",
                pos,
                "datetimes are written 2025-01-12T14:30:00Z, with an offset like +02:00, or without a zone",
            )
            return None

    def with_unit(self, number: str, unit: str, raw: str, pos: Position) -> syntax.Scalar:
        try:
            amount = Fraction(number.replace("_", ""))
        except ValueError:  # more digits than Python converts
            self.error(f"invalid number '{raw}'", pos, _number_help(raw))
            return None
        if unit in SIZE_UNITS:
            size = amount * SIZE_UNITS[unit]
            if amount < 0:
                self.error(f"a size cannot be negative: '{raw}'", pos, SIZE_HELP)
            elif size.denominator != 1:
                self.error(f"'{raw}' is not a whole number of bytes", pos, SIZE_HELP)
            else:
                return syntax.Size(int(size), raw)
            return None
        if unit in DURATION_UNITS:
            if amount < 0:
                self.error(f"a duration cannot be negative: '{raw}'", pos, DURATION_HELP)
                return None
            return syntax.Duration(float(amount * DURATION_UNITS[unit]), raw)
        if unit == "M":
            self.error(
                f"unknown unit '{unit}' in '{raw}'",
                pos,
                f"write {number}m for minutes or {number}MB for megabytes",
            )
        elif unit.upper() in SIZE_UNITS:
            self.error(
                f"unknown size unit '{unit}'",
                pos,
                f"size units are upper-case (B, KB, MB, GB, TB): write {number}{unit.upper()}",
            )
        elif _looks_like_size(unit):
            self.error(f"unknown size unit '{unit}'", pos, SIZE_HELP)
        elif unit.lower() in DURATION_UNITS:
            self.error(
                f"unknown duration unit '{unit}'",
                pos,
                f"duration units are lower-case (ms, s, m, h, d): write {number}{unit.lower()}",
            )
        elif unit.lower() in _DURATION_WORDS:
            self.error(f"unknown duration unit '{unit}'", pos, DURATION_HELP)
        elif unit.lower() in ("e", "e-", "e+"):
            self.error(f"invalid number '{raw}'", pos, "an exponent is written 1e3 or 2.5e-3")
        else:
            self.error(f"unknown unit '{unit}' in '{raw}'", pos, f"{SIZE_HELP}; {DURATION_HELP}")
        return None


_DURATION_WORDS = {
    "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes", "hr", "hrs",
    "hour", "hours", "day", "days", "w", "wk", "week", "weeks", "us", "ns", "msec", "millis",
}  # fmt: skip


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _children(tree: Tree) -> list[Any]:
    """A node's children: tokens or trees, as the grammar rule for `tree.data` says."""
    return tree.children


def _looks_like_size(unit: str) -> bool:
    u = unit.upper()
    return u.endswith("IB") or u in ("K", "G", "T", "BYTES", "BYTE", "KIB", "MIB", "GIB", "TIB")


def _number_help(raw: str) -> str:
    if "-" in raw[1:] or ":" in raw:
        return "dates are written 2025-01-12, datetimes 2025-01-12T14:30:00Z"
    return "numbers are written 100, 1_000_000, -3, 0.5 or 1e3"


def _triple(raw: str) -> str:
    body = raw[3:-3]
    if body.startswith("\r\n"):
        body = body[2:]
    elif body.startswith("\n"):
        body = body[1:]
    head, sep, last = body.rpartition("\n")
    if sep and not last.strip():
        body = head.removesuffix("\r")
    return textwrap.dedent(body)


# --------------------------------------------------------------------------- comments


def _lines(item: _Item) -> tuple[int, int]:
    if isinstance(item, syntax.Attribute):
        end = item.value.pos.end_line or item.value.pos.line
        return item.key_pos.line, end
    return item.pos.line, item.pos.end_line or item.pos.line


def _attach_items(items: list[Any], comments: list[_Comment]) -> tuple[list[Any], list[_Comment]]:
    """Attach comments (in line order) to a body's items; return what is left after them."""
    out: list[Any] = []
    pending: list[_Comment] = []
    i = 0
    for item in items:
        start, end = _lines(item)
        while i < len(comments) and comments[i].line < start:
            pending.append(comments[i])
            i += 1
        inside: list[_Comment] = []
        while i < len(comments) and comments[i].line <= end:
            inside.append(comments[i])
            i += 1
        new, pending = _attach_item(item, pending, inside)
        out.append(new)
    pending.extend(comments[i:])
    return out, pending


def _comment_lines(comments: list[_Comment]) -> tuple[str, ...]:
    """Comment texts, with "" where the source had blank lines between two comments,
    so that fmt keeps a file's header comment apart from the next item's."""
    texts: list[str] = []
    for prev, c in zip([None, *comments], comments, strict=False):
        if prev is not None and c.line - prev.line > 1:
            texts.append("")
        texts.append(c.text)
    return tuple(texts)


def _attach_item(
    item: _Item, above: list[_Comment], inside: list[_Comment]
) -> tuple[_Item, list[_Comment]]:
    start, end = _lines(item)
    trailing: str | None = None
    rest: list[_Comment] = []
    for c in inside:
        if trailing is None and not c.own_line and c.line == start:
            trailing = c.text
        else:
            rest.append(c)
    texts = _comment_lines(above)
    carry: list[_Comment] = []
    if isinstance(item, syntax.Block):
        body, left = _attach_items(list(item.body), rest)
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
    value: syntax.Value, comments: list[_Comment]
) -> tuple[syntax.Value, list[_Comment]]:
    """Comments inside a multi-line map go to its entries; the rest is handed back."""
    if isinstance(value, syntax.MapValue):
        entries, left = _attach_items(list(value.entries), comments)
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
