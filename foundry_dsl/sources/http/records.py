"""Source layer, API: a response body → its JSON document → the list of records.

Hands :func:`records_at` results (lists of dicts) to the paginator and the
converter. Paths are dotted (``data.items``) or simple JSONPath
(``$.data[*]``, ``$.data.items``, ``$['data']``, ``$.pages[0].rows``);
``None`` or ``$`` means the body itself is the list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import orjson

from foundry_dsl.errors import ExtractError

SNIPPET_BYTES = 200
Step = str | int
#: where a body came from, for messages: the text, or a function that makes it (a
#: redacted URL costs more to make than a page costs to parse; only errors need it)
Where = str | Callable[[], str]

_MISSING: Any = object()
_TOKEN = re.compile(r"""\.?([^.\[\]]+)|\[(\d+|\*|'[^']*'|"[^"]*")\]""")


@lru_cache(maxsize=256)  # the same few paths for every page of an extraction
def compile_path(path: str | None) -> tuple[Step, ...]:
    """The steps of a dotted or JSONPath path; ``[*]`` is dropped (it names the list itself)."""
    if path is None:
        return ()
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read path {path!r} at {text[pos:]!r}")
        name, bracket = m.group(1), m.group(2)
        if name is not None:
            steps.append(name)
        elif bracket == "*":
            if m.end() != len(text):
                raise ValueError(f"'[*]' is only supported at the end of a path ({path!r})")
        elif bracket[0] in "'\"":
            steps.append(bracket[1:-1])
        else:
            steps.append(int(bracket))
        pos = m.end()
    return tuple(steps)


def get_path(doc: Any, steps: tuple[Step, ...], default: Any = None) -> Any:
    """The value at ``steps`` in ``doc``, or ``default`` when any step is missing."""
    node = doc
    for step in steps:
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return default
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return default
            node = node[step]
    return node


def snippet(body: bytes) -> str:
    """The first bytes of a body, printable, for an error message."""
    head = body[:SNIPPET_BYTES].decode("utf-8", errors="replace")
    more = "..." if len(body) > SNIPPET_BYTES else ""
    return repr(head + more)


def _text(where: Where) -> str:
    return where if isinstance(where, str) else where()


def parse_json(body: bytes, where: Where) -> Any:
    """The parsed body; invalid JSON is an error naming ``where`` and the first bytes."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ExtractError(
            # the position, not the parser's wording, which changes between orjson versions
            f"{_text(where)} did not return valid JSON (at line {exc.lineno}, column {exc.colno}); "
            f"the body starts with {snippet(body)}. Check the endpoint and its headers "
            "(an HTML page usually means a wrong URL or a login redirect)."
        ) from None


def records_at(
    doc: Any, steps: tuple[Step, ...], path: str | None, where: Where, body: bytes
) -> list[dict[str, Any]]:
    """The records of one page. ``null`` at the path is an empty page; a missing path is an error."""
    node = get_path(doc, steps, _MISSING)
    if node is _MISSING:
        keys = ", ".join(sorted(map(str, doc))) if isinstance(doc, dict) else type(doc).__name__
        raise ExtractError(
            f"records path {path!r} does not resolve in the response of {_text(where)} "
            f"(top-level keys: {keys}); the body starts with {snippet(body)}. "
            "Fix `records` to point at the list of records."
        )
    if node is None:
        return []
    if isinstance(node, list):
        # a list of JSON objects (the common page) is checked in C, not item by item
        if not node or set(map(type, node)) == {dict}:
            return node
        return [r if isinstance(r, dict) else {"value": r} for r in node]
    if isinstance(node, dict):
        if not steps:
            lists = sorted(k for k, v in node.items() if isinstance(v, list))
            hint = f" (lists found at: {', '.join(lists)})" if lists else ""
            raise ExtractError(
                f"the response of {_text(where)} is a JSON object, not a list of records; "
                f"set `records` to the path of the list{hint}. "
                f"The body starts with {snippet(body)}."
            )
        return [node]
    raise ExtractError(
        f"records path {path!r} in the response of {_text(where)} holds a {type(node).__name__}, "
        f"not a list of records; the body starts with {snippet(body)}."
    )
