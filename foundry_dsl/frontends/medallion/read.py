"""YAML text → positioned values, with every syntax problem as a diagnostic.

Front-end layer, step 1 of :mod:`.compile`. PyYAML's composer keeps every
node's marks, so each value becomes a :mod:`positioned` value that knows the
line and column it was written at. Syntax errors, duplicate keys, non-name keys
and self-referencing aliases are reported into the shared :class:`Lowering`;
nothing here knows what the keys mean.
"""

from __future__ import annotations

from typing import Any

import yaml

from foundry_dsl.errors import Diagnostic, Position
from foundry_dsl.frontends.lower import Lowering
from foundry_dsl.frontends.positioned import PEntry, PList, PMap, PNode, PScalar

# PyYAML's problem text → what to do about it (matched by prefix).
SYNTAX_HELP: tuple[tuple[str, str], ...] = (
    ("found character '\\t'", "YAML indents with spaces, not tabs: replace the tab with spaces"),
    ("expected <block end>", "this line is indented differently from the lines above it"),
    ("mapping values are not allowed", "a value cannot hold ': ' unquoted: quote the value, or fix the indentation"),
    ("found unexpected end of stream", "a quoted value is not closed: add the closing quote"),
    ("found undefined alias", "define the anchor (&name) before using *name"),
    ("could not find expected ':'", "each line in a section is key: value; check the previous line too"),
)


def parse(path: str, text: str, low: Lowering) -> list[PNode | None] | None:
    """Every document as positioned values (None for a document whose duplicate
    keys were reported), or None after a syntax error (reported)."""
    loader = yaml.SafeLoader(text)
    try:
        nodes: list[yaml.Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
        converter = _Converter(path, loader, low)
        documents: list[PNode | None] = []
        for n in nodes:
            before = len(low.diagnostics)
            converted = converter.convert(n)
            documents.append(converted if len(low.diagnostics) == before else None)
        return documents
    except yaml.MarkedYAMLError as exc:
        low.diagnostics.append(_syntax_error(path, text, exc))
        return None
    finally:
        loader.dispose()


def _syntax_error(path: str, text: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    pos = Position(path, mark.line + 1, mark.column + 1) if mark else None
    if mark is not None and ("but found '<scalar>'" in problem or "end of stream" in problem):
        # an unclosed quote runs on into the next lines; PyYAML notices only later
        found = _unclosed_quote(text, mark.line)
        if found is not None:
            return Diagnostic(
                "invalid YAML: a quoted value is not closed",
                Position(path, *found),
                "add the closing quote at the end of the value",
            )
    help_text = next((h for prefix, h in SYNTAX_HELP if problem.startswith(prefix)), None)
    if exc.context and exc.context_mark and exc.context_mark.line != (mark.line if mark else -1):
        note = f"{exc.context} that starts at line {exc.context_mark.line + 1}"
        help_text = f"{help_text} ({note})" if help_text else note
    return Diagnostic(f"invalid YAML: {problem}", pos, help_text)


def _unclosed_quote(text: str, upto: int) -> tuple[int, int] | None:
    """Line and column (1-based) of the opening quote on the last line up to
    ``upto`` (0-based) that has an odd number of double quotes."""
    lines = text.splitlines()
    for i in range(min(upto, len(lines) - 1), -1, -1):
        code = lines[i].split(" #", 1)[0].replace('\\"', "")
        if code.count('"') % 2 == 1:
            return i + 1, code.rfind('"') + 1
    return None


class _Converter:
    """PyYAML nodes → PMap/PList/PScalar with 1-based positions."""

    def __init__(self, path: str, loader: yaml.SafeLoader, low: Lowering) -> None:
        self.path = path
        self.loader = loader
        self.low = low
        self.active: set[int] = set()  # nodes being converted: catches recursive aliases

    def pos(self, node: yaml.Node) -> Position:
        s, e = node.start_mark, node.end_mark
        return Position(self.path, s.line + 1, s.column + 1, e.line + 1, e.column + 1)

    def convert(self, node: yaml.Node) -> PNode:
        if id(node) in self.active:
            self.low.error("an alias refers to itself", self.pos(node))
            return PScalar(None, self.pos(node))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node)
            if isinstance(node, yaml.SequenceNode):
                return PList([self.convert(i) for i in node.value], self.pos(node))
            return PScalar(self.loader.construct_object(node, deep=True), self.pos(node))
        finally:
            self.active.discard(id(node))

    def mapping(self, node: yaml.MappingNode) -> PMap:
        out = PMap(pos=self.pos(node))
        first: dict[Any, Position] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.loader.construct_object(key_node, deep=True)
            kpos = self.pos(key_node)
            if key in first:
                self.low.error(
                    f"duplicate key '{key}'",
                    kpos,
                    f"'{key}' is already set at line {first[key].line}; keep one of them",
                )
            else:
                first[key] = kpos
        # `<<: *anchor` merges: the mapping's own keys win over merged ones
        self.loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            kpos = self.pos(key_node)
            if not isinstance(key, str):
                self.low.error(f"keys must be names, got {key!r}", kpos, "quote the key")
                continue
            out.entries[key] = PEntry(kpos, self.convert(value_node))
        return out
