"""Frontend, syntax layer: `.bronze` text → :class:`syntax.File`, or a ConfigError.

This module is the entry point and the driver: it feeds tokens to the LALR
parser one at a time and recovers after each syntax error. The package knows
the shape of the language (grammar/bronze.lark), not what any block means;
``frontends.lower`` gives meaning to the tree it returns.

We drive the parser token by token instead of calling ``Lark.parse``:
newlines inside ``[...]`` and ``(...)`` are dropped (lists and calls may span
lines), comments are taken out of the stream and attached to items by line
afterwards (``comments``), and after a syntax error we skip to the next line
(or the ``}`` that closes the current block), unwind the parser to a state
that accepts it, and carry on, so one run reports every independent mistake
in a file, at most one per line (worded by ``messages``). The tree is then
built, and its values typed, by ``build`` and ``values``. Brackets nested
deeper than ``MAX_NESTING`` stop the parse with a positioned error, so no
later step recurses too deep.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from foundry_dsl.errors import ConfigError, Diagnostic, Position
from foundry_dsl.frontends.bronze import fast
from foundry_dsl.frontends.bronze import tree as syntax
from foundry_dsl.frontends.bronze.build import Builder
from foundry_dsl.frontends.bronze.messages import (
    Message,
    bad_character,
    block_with_equals,
    classify,
)
from foundry_dsl.frontends.bronze.tokens import OPENERS, Cursor, lalr, lex, span
from foundry_dsl.frontends.positioned import MAX_NESTING, paused_gc

if TYPE_CHECKING:
    from lark import Lark, Token, Tree

__all__ = ["parse"]


def parse(text: str, path: str) -> syntax.File:
    """Parse one `.bronze` file. Raises ConfigError with every syntax error found.

    A well-formed file is read by ``fast`` (no Lark); a file it gives up on is
    parsed here, which finds and words every mistake."""
    with paused_gc():
        file = fast.parse(text, path)
        return _parse(text, path) if file is None else file


def _parse(text: str, path: str) -> syntax.File:
    builder = Builder(path, text)
    driver = _Driver(lalr(), text, path, builder)
    diagnostics: list[Diagnostic] = []
    file: syntax.File | None = None
    try:
        tree = driver.run()
        driver.state.value_stack.clear()  # the tree is `tree` now, and `builder` consumes it
        diagnostics.extend(driver.diagnostics)
        if tree is not None:
            file = builder.file(tree, driver.comments)
            # a value on a line with a syntax error was likely misread: keep the syntax error only
            diagnostics.extend(
                d
                for d in builder.diagnostics
                if d.position is None or d.position.line not in driver.error_lines
            )
    except _TooDeep as exc:
        diagnostics = [
            *driver.diagnostics,
            Diagnostic(
                "the file is nested too deeply to read",
                span(path, exc.opener),
                f"at most {MAX_NESTING} blocks, lists and maps may be open inside one another",
            ),
        ]
    except RecursionError:  # pragma: no cover - MAX_NESTING keeps every step shallower
        diagnostics = [Diagnostic("the file is nested too deeply to read", Position(path, 1, 1))]
    if diagnostics or file is None:
        raise ConfigError(diagnostics or [Diagnostic("invalid file", None)], {path: text})
    return file


#: the parse tree's top-level items (grammar/bronze.lark, ``_top``)
_ITEMS = ("import_stmt", "block", "attribute")


class _TooDeep(Exception):
    """A bracket opened inside ``MAX_NESTING`` others: the parse stops there."""

    def __init__(self, opener: Token) -> None:
        super().__init__("nested too deeply")
        self.opener = opener


class _Driver:
    """Feeds tokens to the LALR parser, collecting comments and recovering from errors.

    With a `builder`, each top-level item is built into the syntax tree as soon as
    the parser has it whole, and its parse tree let go: a large file's parse tree
    is never held whole (it is several times the size of the syntax tree)."""

    def __init__(self, parser: Lark, text: str, path: str, builder: Builder | None = None) -> None:
        self.text = text
        self.path = path
        self.builder = builder
        self.interactive = parser.parse_interactive(text)
        self.state = self.interactive.parser_state
        self.diagnostics: list[Diagnostic] = []
        self.comments: list[Token] = []
        self.cursor = Cursor()
        self.error_lines: set[int] = set()
        self.swallowed_eof = False
        self.unclosed = False  # the last error was an unclosed bracket
        self.block_with_equals = False  # the last error was `key = kind {`

    # -- main loop

    def run(self) -> Tree | None:
        from lark import Token
        from lark.exceptions import UnexpectedToken

        tokens = lex(self.interactive, self.text, self._bad_character)
        # _feed and _track inlined: this loop runs once per token of the file
        comments, cursor, feed = self.comments, self.cursor, self.state.feed_token
        stack = self.state.state_stack  # changed in place only, never replaced
        for tok in tokens:
            kind = tok.type
            if kind == "COMMENT":
                comments.append(tok)
                continue
            if kind == "_NL" and cursor.in_brackets():
                continue
            try:
                feed(tok)
            except UnexpectedToken as e:
                self._failed(tok, set(e.expected), tokens)
                continue
            cursor.track(tok, len(stack))
            if len(cursor.opens) > MAX_NESTING:
                raise _TooDeep(tok)
            if kind == "_NL" and not cursor.opens:
                self._build_items()
        if self.cursor.last is not None:
            end = Token.new_borrow_pos("$END", "", self.cursor.last)
        else:
            end = Token("$END", "", 0, 1, 1, 1, 1, 0)
        reported = self.swallowed_eof
        for _ in range(len(self.cursor.opens) + 1):
            try:
                tree: Tree = self.state.feed_token(end, True)
                return tree
            except UnexpectedToken as e:
                if not reported:
                    self._error(end, set(e.expected))
                    reported = True
            if not self.cursor.opens:
                break
            # close what is open, so the rest of the file still gets its values checked
            opener = OPENERS[self.cursor.opens[-1].tok.type]
            closer = {"{": "RBRACE", "[": "RSQB", "(": "RPAR"}[opener]
            self._resync(Token.new_borrow_pos(closer, "", end))
        return None

    def _feed(self, tok: Token, tokens: Iterator[Token]) -> None:
        from lark.exceptions import UnexpectedToken

        try:
            self.state.feed_token(tok)
        except UnexpectedToken as e:
            self._failed(tok, set(e.expected), tokens)
            return
        self._track(tok)

    def _failed(self, tok: Token, expected: set[str], tokens: Iterator[Token]) -> None:
        """The parser refused `tok`: report it, then read on."""
        peek = None
        if self.cursor.in_brackets() and tok.type in ("NAME", "STRING"):
            # `b` after an unfinished list: `b = ...` means the list was never closed
            peek = self._next_code(tokens)
        self._error(tok, expected, peek)
        if self._insert_brace(tok, expected) or self._drop_equals(tok):
            return
        self._recover(tok, tokens, peek)

    def _build_items(self) -> None:
        """Build the top-level item the parser has just completed, if any.

        A newline at top level makes the parser reduce the item before it (to
        ``_top``, and all but the first item on into the left-recursive list
        ``__start_star_N``, which grows in place): the item is then the last child
        of one of the top few values on the parser's stack. Recovery never unwinds
        past it, since the state after it takes the newline. It is replaced there
        by the built item (``Builder.file`` takes built items as they are)."""
        from lark import Tree

        builder = self.builder
        if builder is None:
            return
        for value in self.state.value_stack[-3:]:
            if isinstance(value, Tree) and value.children and (
                value.data == "_top" or value.data.startswith("__start")
            ):
                last = value.children[-1]
                if isinstance(last, Tree) and last.data in _ITEMS:
                    value.children[-1] = builder.item(last)

    def _track(self, tok: Token) -> None:
        self.cursor.track(tok, len(self.state.state_stack))
        if len(self.cursor.opens) > MAX_NESTING:
            raise _TooDeep(tok)

    def _next_code(self, tokens: Iterator[Token]) -> Token | None:
        for tok in tokens:
            if tok.type != "COMMENT":
                return tok
            self.comments.append(tok)
        return None

    # -- recovery

    @functools.cached_property
    def lines(self) -> list[str]:
        """The file's lines, split once: splitting on each error made many errors quadratic."""
        return self.text.splitlines()

    def _insert_brace(self, tok: Token, expected: set[str]) -> bool:
        """`pipeline a.b` with an indented body below: read on as if '{' were there."""
        from lark import Token

        stmt = self.cursor.stmts[-1]
        if not (tok.type == "_NL" and "LBRACE" in expected and stmt and stmt[0].type == "NAME"):
            return False
        if any(t.type == "EQUAL" for t in stmt) or len(stmt) < 2:
            return False
        lines = self.lines
        header = lines[(tok.line or 1) - 1]
        below = next((lines[i] for i in range(tok.line or 1, len(lines)) if lines[i].strip()), "")
        if _indent(below) <= _indent(header) or below.strip().startswith("}"):
            return False
        brace = Token.new_borrow_pos("LBRACE", "{", tok)
        self._feed(brace, iter(()))
        self._feed(tok, iter(()))
        return True

    def _drop_equals(self, brace: Token) -> bool:
        """`auth = bearer {` (reported: blocks take no '='): read on as `auth bearer {`,
        so its '}' closes the block and what is inside is still parsed."""
        stmt = self.cursor.stmts[-1]
        if not (self.block_with_equals and block_with_equals(stmt, brace)):
            return False
        header = [stmt[0], *stmt[2:], brace]
        from lark.exceptions import UnexpectedToken

        for keep in range(len(self.state.state_stack) - 1, -1, -1):
            trial = self.state.copy(deepcopy_values=False)
            del trial.state_stack[keep + 1 :]
            del trial.value_stack[keep:]
            try:
                for tok in header:
                    trial.feed_token(tok)
            except UnexpectedToken:
                continue
            self.cursor.unwind(keep)
            self.state.state_stack[:] = trial.state_stack
            self.state.value_stack[:] = trial.value_stack
            for tok in header:
                self._track(tok)
            return True
        return False

    def _recover(self, bad: Token, tokens: Iterator[Token], peek: Token | None = None) -> None:
        """Skip to the end of the statement, then unwind the parser to accept it."""
        if bad.type == "BAD_TRIPLE":
            self.swallowed_eof = True  # it ran to the end of the file: nothing left to check
        rest = itertools.chain([peek] if peek else [], tokens)
        if self.cursor.in_brackets() and not self.unclosed and bad.type not in ("_NL", "RBRACE"):
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

        opener = self.cursor.opens[-1].tok.type
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
            self.cursor.unwind(keep)
            self.state.state_stack[:] = trial.state_stack
            self.state.value_stack[:] = trial.value_stack
            self._track(sync)
            return
        # nothing can take it (a stray '}'): drop it

    # -- messages

    def _report(self, message: Message) -> None:
        if message.line in self.error_lines:
            return  # one message per line: the rest are usually echoes of the first
        self.error_lines.add(message.line)
        self.diagnostics.append(message.diagnostic)

    def _bad_character(self, offset: int, line: int, col: int) -> None:
        self._report(bad_character(self.path, self.text, offset, line, col))

    def _error(self, tok: Token, expected: set[str], peek: Token | None = None) -> None:
        message = classify(self.cursor, self.path, tok, expected, peek)
        self.unclosed = message.unclosed
        self.block_with_equals = message.block_with_equals
        self._report(message)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
