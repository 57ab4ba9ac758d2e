"""YAML text → positioned values, with every syntax problem as a diagnostic.

Front-end layer, step 1 of :mod:`.compile`. PyYAML's composer keeps every
node's marks, so each value becomes a :mod:`positioned` value that knows the
line and column it was written at. Syntax errors, duplicate keys, non-name keys
and self-referencing aliases are reported into the shared :class:`Lowering`;
nothing here knows what the keys mean.

Hostile input ends in a positioned error too, never in a traceback: nesting
deeper than :data:`MAX_NESTING` (aliases count: ``*name`` nests what ``&name``
holds where it is written), aliases that would expand to more than
:data:`MAX_ALIAS_VALUES` values (the "billion laughs"; refused while composing,
before anything is expanded), and characters YAML does not allow.
"""

from __future__ import annotations

from typing import Any

import yaml

from foundry_dsl.errors import Diagnostic, Position
from foundry_dsl.frontends.lower import Lowering, describe_value
from foundry_dsl.frontends.positioned import MAX_NESTING, PEntry, PList, PMap, PNode, PScalar

# PyYAML's problem text → what to do about it (matched by prefix).
SYNTAX_HELP: tuple[tuple[str, str], ...] = (
    ("found character '\\t'", "YAML indents with spaces, not tabs: replace the tab with spaces"),
    ("expected <block end>", "this line is indented differently from the lines above it"),
    ("mapping values are not allowed", "a value cannot hold ': ' unquoted: quote the value, or fix the indentation"),
    ("found unexpected end of stream", "a quoted value is not closed: add the closing quote"),
    ("found undefined alias", "define the anchor (&name) before using *name"),
    ("could not find expected ':'", "each line in a section is key: value; check the previous line too"),
)


#: how many values all the aliases (``*name``) of a file may copy, in total
MAX_ALIAS_VALUES = 100_000
NESTING_HELP = f"at most {MAX_NESTING} mappings and lists may be nested inside one another"


class _Refused(Exception):
    """Input composed no further: too deep, or aliases that expand too far."""

    def __init__(self, message: str, mark: Any, help: str) -> None:
        super().__init__(message)
        self.message, self.mark, self.help = message, mark, help


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing to compose what would blow up later: it
    tracks how deep each node nests and how many values each holds with its
    aliases expanded, before anything is expanded."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0  # collections open around the node being composed
        #: id(node) → (values in it with aliases expanded, how deep it nests)
        self.measures: dict[int, tuple[int, int]] = {}
        self.alias_values = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            # the anchor's own node, shared: converting it copies it here
            values, height = self.measures.get(id(node), (1, 0))  # unknown: refers to itself
            self.alias_values += values
            if self.alias_values > MAX_ALIAS_VALUES:
                raise _Refused(
                    f"aliases expand to more than {MAX_ALIAS_VALUES:,} values",
                    event.start_mark,
                    "each *name copies what &name holds, and copies of copies multiply: "
                    "write the values out, or use fewer levels of aliases",
                )
            if self.depth + height > MAX_NESTING:
                raise _Refused(
                    "the file is nested too deeply to read",
                    event.start_mark,
                    f"{NESTING_HELP} (an alias *name counts as what &name holds)",
                )
            return node
        collection = isinstance(event, yaml.CollectionStartEvent)
        if collection:
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise _Refused("the file is nested too deeply to read", event.start_mark, NESTING_HELP)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= collection
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        measured = [self.measures.get(id(c), (1, 0)) for c in children]
        self.measures[id(node)] = (
            1 + sum(v for v, _ in measured),
            (1 + max((h for _, h in measured), default=0)) if collection else 0,
        )
        return node


def parse(path: str, text: str, low: Lowering) -> list[PNode | None] | None:
    """Every document as positioned values (None for a document whose duplicate
    keys were reported), or None after a syntax error (reported)."""
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        low.diagnostics.append(_bad_character(path, text, exc))
        return None
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
    except _Refused as exc:
        mark = exc.mark
        pos = Position(path, mark.line + 1, mark.column + 1) if mark else Position(path, 1, 1)
        low.diagnostics.append(Diagnostic(exc.message, pos, exc.help))
        return None
    except RecursionError:  # pragma: no cover - MAX_NESTING keeps every step shallower
        low.diagnostics.append(Diagnostic("the file is nested too deeply to read", Position(path, 1, 1)))
        return None
    finally:
        loader.dispose()


def _bad_character(path: str, text: str, exc: yaml.reader.ReaderError) -> Diagnostic:
    """A character YAML does not allow in a file (a control character, say)."""
    at = exc.position
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    shown = repr(chr(exc.character))[1:-1] if isinstance(exc.character, int) else str(exc.character)
    return Diagnostic(
        f"invalid YAML: unexpected character '{shown}'",
        Position(path, line, col, line, col + 1),
        "an invisible character: delete it and retype the text around it",
    )


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
            if isinstance(key, (list, dict, set)):
                continue  # not a name: reported below
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
                shown = describe_value(key) if isinstance(key, (list, dict, set)) else repr(key)
                self.low.error(f"keys must be names, got {shown}", kpos, "quote the key")
                continue
            out.entries[key] = PEntry(kpos, self.convert(value_node))
        return out
