"""Checks one positioned YAML document against the schema document, in the
spec's own vocabulary and at the line and column each key was written.

Front-end layer, step 2 of :mod:`.compile`. Walking :data:`.schema.SCHEMA`
rather than handing plain data to a JSON Schema library keeps every position:
unknown keys (with "did you mean"), wrong types, bad enum members and missing
keys are reported where they were written, before the IR, whose field names
differ from the spec's, is built.

It understands the subset of JSON Schema the schema uses: ``type``,
``enum``, ``properties``, ``additionalProperties``, ``required``,
``minimum``/``maximum``/``exclusiveMinimum``, ``pattern``, ``items``,
``minItems``/``maxItems`` and ``anyOf``. ``allOf`` / ``if`` / ``then`` rules
are skipped: the mapping modules check them with better wording. An enum's
``x-also`` (the schema's own annotation) words what else an ``anyOf`` around
it accepts, for the help of a value that is none of them.
"""

from __future__ import annotations

import re
from typing import Any

from foundry_dsl.errors import Diagnostic, Position, did_you_mean
from foundry_dsl.frontends.lower import describe_value
from foundry_dsl.frontends.medallion.schema import SCHEMA
from foundry_dsl.frontends.medallion.schema_blocks import ENV_NAME_PATTERN
from foundry_dsl.frontends.positioned import Env, PList, PMap, PNode, PScalar

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a section of key: value lines",
    "array": "a list",
    "null": "null",
}


def check_document(node: PNode, out: list[Diagnostic], pos: Position | None = None) -> bool:
    """Check one whole YAML document; True when it matches the schema."""
    before = len(out)
    if not isinstance(node, PMap):
        out.append(
            Diagnostic(
                f"a pipeline file must be a section of keys, got {_describe(node)}",
                node.pos or pos,
                "start with platform: and source: at the left margin",
            )
        )
        return False
    _check_map(node, SCHEMA, "the top level", out, node.pos)
    return len(out) == before


def check(
    node: PNode,
    sch: dict[str, Any],
    where: str,
    key: str,
    out: list[Diagnostic],
    key_pos: Position | None = None,
) -> bool:
    """Report every way ``node`` departs from ``sch`` into ``out``; True when none.

    ``where`` names the enclosing section in messages (``source.api``); ``key``
    is the node's own key; a missing key inside a section is reported at
    ``key_pos``, where the section's name was written.
    """
    before = len(out)
    if "anyOf" in sch:
        _check_any(node, sch, where, key, out)
        return len(out) == before
    types = sch.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(node, t) for t in allowed):
            got = _describe(node)
            out.append(
                Diagnostic(
                    f"'{key}' in {where} must be {' or '.join(_TYPE_WORDS[t] for t in allowed)}, got {got}",
                    node.pos,
                    _type_help(node, allowed),
                )
            )
            return False
    if isinstance(node, PMap):
        _check_map(node, sch, _join(where, key), out, key_pos or node.pos)
    elif isinstance(node, PList):
        _check_list(node, sch, where, key, out)
    else:
        _check_scalar(node, sch, where, key, out)
    return len(out) == before


def _check_any(node: PNode, sch: dict[str, Any], where: str, key: str, out: list[Diagnostic]) -> None:
    attempts: list[list[Diagnostic]] = []
    for alt in sch["anyOf"]:
        trial: list[Diagnostic] = []
        if check(node, alt, where, key, trial):
            return
        attempts.append(trial)
    # the alternative of the node's own JSON type explains the problem best
    for alt, trial in zip(sch["anyOf"], attempts, strict=True):
        alt_types = alt.get("type")
        alt_types = [alt_types] if isinstance(alt_types, str) else alt_types or []
        if any(_is_type(node, t) for t in alt_types):
            out.extend(trial)
            return
    out.extend(attempts[0])


def _check_map(
    node: PMap, sch: dict[str, Any], where: str, out: list[Diagnostic], at: Position | None
) -> None:
    props: dict[str, Any] = sch.get("properties", {})
    extra = sch.get("additionalProperties", True)
    for k, entry in node.entries.items():
        if k in props:
            check(entry.value, props[k], where, k, out, entry.key_pos)
        elif extra is False:
            out.append(
                Diagnostic(
                    f"unknown key '{k}' {_in(where)}",
                    entry.key_pos,
                    did_you_mean(k, props) or f"expected one of: {', '.join(props)}",
                )
            )
        elif isinstance(extra, dict):
            check(entry.value, extra, where, k, out)
    # a misspelled required key is reported once, as unknown with its suggestion
    suggested = {did_you_mean(k, props) for k in node.entries if k not in props}
    for k in sch.get("required", ()):
        if k not in node.entries and f"did you mean '{k}'?" not in suggested:
            out.append(Diagnostic(f"missing required key '{k}' {_in(where)}", at))


def _check_list(node: PList, sch: dict[str, Any], where: str, key: str, out: list[Diagnostic]) -> None:
    lo, hi = sch.get("minItems"), sch.get("maxItems")
    n = len(node.items)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        want = f"exactly {lo}" if lo == hi else f"at least {lo}" if hi is None else f"at most {hi}"
        out.append(Diagnostic(f"'{key}' in {where} needs {want} items, got {n}", node.pos))
    items = sch.get("items")
    if isinstance(items, dict):
        for item in node.items:
            check(item, items, where, key, out)


def _check_scalar(node: PScalar, sch: dict[str, Any], where: str, key: str, out: list[Diagnostic]) -> None:
    v = node.value
    if "enum" in sch and v not in sch["enum"]:
        choices = [str(c) for c in sch["enum"]]
        out.append(
            Diagnostic(
                f"invalid value '{v}' for '{key}' in {where}",
                node.pos,
                (did_you_mean(str(v), choices) if isinstance(v, str) else None)
                or f"expected one of: {', '.join(choices)}"
                + (f", {sch['x-also']}" if "x-also" in sch else ""),
            )
        )
        return
    if "pattern" in sch and isinstance(v, str) and not re.search(sch["pattern"], v):
        if sch["pattern"] == ENV_NAME_PATTERN:
            out.append(_env_name_error(node, key, where))
        else:
            out.append(
                Diagnostic(
                    f"'{v}' is not a valid {key}: use ASCII letters, digits, '_' and '-'",
                    node.pos,
                    "it becomes a folder name",
                )
            )
        return
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        bounds = [
            ("minimum", lambda b: v >= b, "at least"),
            ("exclusiveMinimum", lambda b: v > b, "greater than"),
            ("maximum", lambda b: v <= b, "at most"),
        ]
        for name, ok, words in bounds:
            if name in sch and not ok(sch[name]):
                out.append(Diagnostic(f"'{key}' in {where} must be {words} {sch[name]}, got {v}", node.pos))
                return


def _env_name_error(node: PScalar, key: str, where: str) -> Diagnostic:
    """A value that is not a variable name; the message never repeats the value."""
    return Diagnostic(
        f"'{key}' in {where} must be the NAME of an environment variable, "
        "but this looks like a value (a secret or connection string?)",
        node.pos,
        f"write {key}: MY_VARIABLE and set MY_VARIABLE in the environment "
        "(letters, digits and '_')",
    )


def _is_type(node: PNode, t: str) -> bool:
    if t == "object":
        return isinstance(node, PMap)
    if t == "array":
        return isinstance(node, PList)
    if not isinstance(node, PScalar):
        return False
    v = node.value
    if isinstance(v, Env):
        return False
    return {
        "string": lambda: isinstance(v, str),
        "integer": lambda: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda: isinstance(v, bool),
        "null": lambda: v is None,
    }[t]()


def _describe(node: PNode) -> str:
    if isinstance(node, PMap):
        return "a section"
    if isinstance(node, PList):
        return "a list"
    return "null" if node.value is None else describe_value(node.value)


def _type_help(node: PNode, allowed: list[str]) -> str | None:
    if isinstance(node, PScalar) and isinstance(node.value, str) and "boolean" in allowed:
        return "write true or false"
    if isinstance(node, PScalar) and isinstance(node.value, str) and {"integer", "number"} & set(allowed):
        return "write the number without quotes"
    if isinstance(node, PScalar) and node.value is None and "object" in allowed:
        return "indent the section's keys under it, or remove the empty key"
    return None


def _in(where: str) -> str:
    return "at the top level" if where == "the top level" else f"in {where}"


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where and where != "the top level" else key

