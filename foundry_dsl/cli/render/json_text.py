"""Rendering layer: JSON text as ``json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)``
writes it, in a third of the time.

With ``indent`` set, the standard library encodes in pure Python through nested
generators; a plan of 500 pipelines is 2 MB of JSON and spent longer there than
in planning. :func:`dumps` writes the same characters with one recursive
function and C's string escaping (``json.encoder.encode_basestring``). Values
are what ``plan_json`` builds: dicts, lists, tuples, strings, numbers, booleans
and None (anything else raises TypeError, as ``json.dumps`` does);
``tests/cli`` compares the two on generated values.
"""

from __future__ import annotations

from json.encoder import encode_basestring
from typing import Any

__all__ = ["dumps"]

_INDENT = "  "


def dumps(value: Any) -> str:
    """``value`` as ``json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)``."""
    out: list[str] = []
    _encode(value, out, "\n")
    return "".join(out)


def _encode(o: Any, out: list[str], newline: str) -> None:
    """Append ``o`` to ``out``; ``newline`` starts a line at the current depth."""
    if isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        inner = newline + _INDENT
        sep = "{" + inner
        for key, item in sorted(o.items()):
            head = sep + encode_basestring(key if isinstance(key, str) else _key(key)) + ": "
            if isinstance(item, (dict, list, tuple)):
                out.append(head)
                _encode(item, out, inner)
            else:
                out.append(head + _scalar(item))
            sep = "," + inner
        out.append(newline + "}")
    elif isinstance(o, (list, tuple)):
        if not o:
            out.append("[]")
            return
        inner = newline + _INDENT
        sep = "[" + inner
        for item in o:
            if isinstance(item, (dict, list, tuple)):
                out.append(sep)
                _encode(item, out, inner)
            else:
                out.append(sep + _scalar(item))
            sep = "," + inner
        out.append(newline + "]")
    else:
        out.append(_scalar(o))


def _scalar(o: Any) -> str:
    if isinstance(o, str):
        return str(encode_basestring(o))
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        return _float(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _key(key: Any) -> str:
    """A key that is not a string, as json.dumps writes it (strings never get here)."""
    if isinstance(key, float):
        return _float(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _float(o: float) -> str:
    if o != o:
        return "NaN"
    if o == float("inf"):
        return "Infinity"
    if o == -float("inf"):
        return "-Infinity"
    return float.__repr__(o)
