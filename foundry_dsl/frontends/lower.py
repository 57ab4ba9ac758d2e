"""Lowering: positioned values → IR models, with every error at its position.

Both front ends hand a :class:`PMap` shaped like an IR model to :func:`build`.
It walks the model's fields itself (rather than trusting one big pydantic
validation) so that each problem is reported where it was written: an unknown
key at the key, with "did you mean"; a wrong type or a bad enum member at the
value; a missing field at the block. All problems are collected, not only the
first. Secret fields (typed ``EnvRef``) refuse literals with a fix. A size
field (metadata ``{"unit": "size"}`` in the IR) takes only sizes or a number of
bytes, a duration field only durations or a number of seconds, and a size or
duration anywhere else is refused, each with a fix.
"""

from __future__ import annotations

import datetime as dt
import functools
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from pydantic import ValidationError

from foundry_dsl import ir
from foundry_dsl.errors import Diagnostic, Position, did_you_mean
from foundry_dsl.frontends.annotations import adapter as _adapter
from foundry_dsl.frontends.annotations import fields_of, shape_of
from foundry_dsl.frontends.annotations import item_type as _item_type
from foundry_dsl.frontends.annotations import kind_of as _kind_of
from foundry_dsl.frontends.annotations import literal_choices as _literal_choices
from foundry_dsl.frontends.annotations import options as _options
from foundry_dsl.frontends.annotations import unit_of as unit_of
from foundry_dsl.frontends.annotations import wants_str as _wants_str
from foundry_dsl.frontends.fixes import list_fix, quantity_fix
from foundry_dsl.frontends.positioned import (
    Env,
    PList,
    PMap,
    PNode,
    PScalar,
    Quantity,
    UnitKind,
    amount,
    quantity_kind,
)
from foundry_dsl.frontends.secrets import (
    API_PARAMS,
    Secret,
    is_secret_name,
    leaf_positions,
    secret_help,
    secret_message,
    secret_position,
    secrets_in,
)

_MISSING = object()


class Lowering:
    """Collects diagnostics while building IR models from positioned values."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._reported: set[Diagnostic] = set()  # the same, to look up in O(1)
        self._shared: dict[int, _Shared] = {}

    def share(self, node: PMap) -> PMap:
        """``node`` is used as it is by many pipelines (a platform): build it once."""
        self._shared.setdefault(id(node), _Shared(node))
        return node

    def error(
        self,
        message: str,
        pos: Position | None,
        help: str | None = None,
        secrets: Sequence[Position] = (),
    ) -> None:
        d = Diagnostic(message, pos, help, secret_spans=tuple(secrets))
        # a platform is lowered once per pipeline that uses it, and a pipeline's run
        # formats default to its platform's: the same mistake would be reported again
        if d not in self._reported:
            self._reported.add(d)
            self.diagnostics.append(d)

    # --- models -------------------------------------------------------------------

    def build(self, model: type[ir.Node], node: PNode, title: str) -> Any:
        """An instance of ``model``, or None when anything was wrong (already reported)."""
        shared = self._shared.get(id(node))
        if shared is None:
            return self._build(model, node, title)
        if (model, title) not in shared.built:  # the same node gives the same model again
            shared.built[model, title] = self._build(model, node, title)
        return shared.built[model, title]

    def _build(self, model: type[ir.Node], node: PNode, title: str) -> Any:
        if not isinstance(node, PMap):
            self.error(f"'{title}' must be a block", node.pos, f"write it as: {title} {{ ... }}")
            return None
        spec = fields_of(model)
        fields = spec.fields
        values: dict[str, Any] = {}
        ok = True
        suggested: set[str] = set()  # a misspelled key explains its field's absence
        for key, entry in node.entries.items():
            if key not in fields:
                ok = False
                hint = did_you_mean(key, fields)
                if hint:
                    suggested.add(hint.split("'")[1])
                self.error(
                    f"unknown field '{key}' in {title}",
                    entry.key_pos,
                    hint or f"expected one of: {', '.join(fields)}",
                )
                continue
            f = spec.specs[key]
            value = self.value(f.annotation, entry.value, key, title, f.tagged, f.unit)
            if value is _MISSING:
                ok = False
            else:
                values[key] = value
        for name in spec.required:
            if name not in node.entries and name not in suggested:
                ok = False
                self.error(f"missing required field '{name}' in {title}", node.pos)
        try:
            result = model.model_validate({**values, "span": node.pos})
            # where each value was written, for checks after compiling (plan, validate)
            result._spans = {k: p for k in values if (p := node.entries[k].value.pos)}
            return result if ok else None
        except ValidationError as exc:
            for err in exc.errors():
                loc = err.get("loc") or ()
                if not ok and (not loc or loc[0] not in values):
                    continue  # a consequence of a problem already reported
                found = node.entries.get(str(loc[0])) if loc else None
                where = found.value.pos if found else node.pos
                message = _bound_msg(err) if found else None
                self.error(
                    f"'{loc[0]}' {message}" if message
                    else f"{title}: {_clean_msg(err.get('msg', 'invalid value'))}",
                    where,
                )
            return None

    def union(self, annotation: Any, node: PNode, key: str, title: str) -> Any:
        if get_origin(annotation) is typing.Annotated:
            annotation = get_args(annotation)[0]
        members = {_kind_of(m): m for m in get_args(annotation)}
        if not isinstance(node, PMap):
            self.error(f"'{key}' must be a block", node.pos)
            return _MISSING
        kind_node = node.get("kind")
        if not isinstance(kind_node, PScalar) or not isinstance(kind_node.value, str):
            self.error(
                f"'{key}' needs a kind in {title}",
                node.pos,
                f"write it as: {key} <kind> {{ ... }} with <kind> one of {', '.join(members)}",
            )
            return _MISSING
        kind = kind_node.value
        if kind not in members:
            self.error(
                f"unknown {key} kind '{kind}'",
                kind_node.pos,
                did_you_mean(kind, members) or f"expected one of: {', '.join(members)}",
            )
            return _MISSING
        result = self.build(members[kind], node, f"{key} {kind}")
        return _MISSING if result is None else result

    # --- values -------------------------------------------------------------------

    def value(
        self,
        annotation: Any,
        node: PNode,
        key: str,
        title: str,
        tagged: bool = False,
        unit: UnitKind | None = None,
    ) -> Any:
        shape = shape_of(annotation)
        if tagged or shape.discriminated:
            return self.union(annotation, node, key, title)
        if shape.model is not None and isinstance(node, PMap):
            result = self.build(shape.model, node, key)
            return _MISSING if result is None else result
        if isinstance(node, PScalar) and node.value is None and shape.optional:
            return None
        if isinstance(node, PScalar) and isinstance(node.value, Env):
            if shape.takes_env:
                return ir.EnvRef(name=node.value.name, span=node.pos)
            self.error(f"'{key}' cannot come from env()", node.pos, "write the value itself")
            return _MISSING
        if shape.secret:
            self.error(
                f"'{key}' is a secret and must not be written in the file",
                node.pos,
                f'write {key} = env("NAME") and set NAME in the environment',
                secrets=leaf_positions(node),
            )
            return _MISSING
        if not self.units(annotation, node, key, unit):
            return _MISSING
        plain = self.plain(node, annotation)
        if self.literal_secrets(node, key, title, shape.env_ok, query=(title, key) == API_PARAMS):
            return _MISSING
        if type(plain) in shape.exact or (type(plain) is str and plain in shape.choices):
            return plain  # what the type's validator would return: the value as it is
        return self.check(annotation, plain, node, key, title)

    def units(self, annotation: Any, node: PNode, key: str, unit: UnitKind | None) -> bool:
        """A size only in a size field, a duration only in a duration field; a size
        field also takes a number of bytes, a duration field a number of seconds.
        False when the value is refused (reported)."""
        v = node.value if isinstance(node, PScalar) else node
        if unit is None:
            if not isinstance(v, Quantity):
                return True
            expected = _expected(annotation)
            if expected is None or Any in _options(annotation):
                return True  # free-form or an enum: the checks that follow say what is wrong
            self.error(
                f"'{key}' must be {expected}, not a {v.unit_kind}",
                node.pos,
                f'write it in quotes: {key} = "{v.text}"'
                if str in _options(annotation)
                else "write a plain number, without a unit",
            )
            return False
        if isinstance(v, Quantity):
            if v.unit_kind == unit:
                return True
            self.error(
                f"'{key}' takes a {unit}, not a {v.unit_kind}",
                node.pos,
                f"write a {unit}, e.g. {key} = {_example(unit, v)}",
            )
            return False
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return True  # bytes or seconds, as the field's type says
        kind = quantity_kind(v) if isinstance(v, str) else None
        if isinstance(v, str) and kind is not None:
            self.error(
                f"'{key}' takes a {unit}, not a string",
                node.pos,
                f"write {v.strip()} without quotes"
                if kind == unit
                else f"write a {unit}, e.g. {key} = {_example(unit, Quantity(0, v.strip(), kind))}",
            )
            return False
        self.error(
            f"'{key}' must be a {unit}, got {_describe(v)}",
            node.pos,
            quantity_fix(v, unit) or f"write a {unit}, e.g. {key} = {_example(unit, None)}",
        )
        return False

    def plain(self, node: PNode, annotation: Any) -> Any:
        """Positions stripped; env() kept as EnvRef inside free-form maps and lists."""
        if isinstance(node, PScalar):
            v = node.value
            if isinstance(v, Quantity):
                return int(v.value) if v.unit_kind == "size" else float(v.value)
            if isinstance(v, Env):
                return ir.EnvRef(name=v.name, span=node.pos)
            if isinstance(v, dt.date) and _wants_str(annotation):
                return v.isoformat()
            return v
        if isinstance(node, PList):
            return [self.plain(i, Any) for i in node.items]
        return {k: self.plain(e.value, Any) for k, e in node.entries.items()}

    def literal_secrets(
        self, node: PNode, key: str, title: str, env_ok: bool, query: bool = False
    ) -> bool:
        """Report secrets written as literals: the value of a secret-named key, a
        password in a connection string or a URL, a secret query parameter in a URL.
        ``env_ok`` when the value may be written env("NAME"); ``query`` for an api
        source's params, which are query parameters. True when any was found."""
        found = False
        if isinstance(node, PMap):
            for k, entry in node.entries.items():
                found |= self.literal_secrets(entry.value, k, title, env_ok, query)
            return found
        if isinstance(node, PList):
            for item in node.items:
                found |= self.literal_secrets(item, key, title, env_ok, query)
            return found
        value = node.value
        if node.pos is None or isinstance(value, bool) or not isinstance(value, str | int | float):
            return False
        text = str(value)
        if text and _secret_name(key, query):
            self.error(
                f"'{key}' holds a secret written in the file",
                node.pos,
                f'write {key} = env("NAME") and set NAME in the environment',
                secrets=leaf_positions(node),
            )
            return True
        inside = _secrets_in(value) if isinstance(value, str) else ()
        spans = [secret_position(node.pos, text, s.start, s.end) for s in inside]
        for secret, span in zip(inside, spans, strict=True):
            help = secret_help(key, title, env_ok, secret)
            self.error(secret_message(key, secret), span, help, spans)
        return bool(inside)

    def check(self, annotation: Any, value: Any, node: PNode, key: str, title: str) -> Any:
        try:
            return _adapter(annotation).validate_python(value)
        except ValidationError as exc:
            literal = _literal_choices(annotation)
            err = exc.errors()[0]
            loc = err.get("loc") or ()
            where = node.pos
            if isinstance(node, PList) and loc and isinstance(loc[0], int) and loc[0] < len(node.items):
                where = node.items[loc[0]].pos
                bad = value[loc[0]] if isinstance(value, list) else value
            else:
                bad = value
            item_literal = literal or _literal_choices(_item_type(annotation))
            if not literal and _item_type(annotation) is not None and isinstance(node, PScalar):
                got = str(node.value) if node.is_ident else describe_value(value)
                fix = list_fix(key, node, value, _adapter(annotation))
                self.error(f"'{key}' must be a list, got {got}", where, fix)
            elif item_literal and isinstance(bad, str):
                self.error(
                    f"invalid value '{bad}' for '{key}'",
                    where,
                    did_you_mean(bad, item_literal) or f"expected one of: {', '.join(item_literal)}",
                )
            else:
                expected = _expected(annotation)
                got = describe_value(bad)
                self.error(
                    f"'{key}' must be {expected}, got {got}"
                    if expected
                    else f"invalid value for '{key}' in {title}: {_clean_msg(err.get('msg', ''))}",
                    where,
                )
            return _MISSING


@dataclass
class _Shared:
    """A node many pipelines use as it is, and the models built from it."""

    node: PMap  # kept alive: the memo is keyed by its id
    built: dict[tuple[type[ir.Node], str], Any] = field(default_factory=dict)


#: keys repeat in every pipeline: each is squashed and matched once
_secret_name = functools.lru_cache(maxsize=4096)(is_secret_name)


@functools.lru_cache(maxsize=4096)
def _secrets_in(text: str) -> tuple[Secret, ...]:
    return tuple(secrets_in(text))


# --- typing helpers (the rest are in ``annotations``) -----------------------------------


def _example(unit: UnitKind, written: Quantity | None) -> str:
    """A value of ``unit`` for help text, with the number the user wrote when there is
    one: ``5m`` in a size field → ``5MB``; ``5MB`` in a duration field → ``5m``."""
    number = amount(written.text) if written is not None else ""
    if unit == "size":
        return f"{number or 128}MB"
    if not number:
        return "30s"
    return f"{number}m" if written is not None and written.text.endswith("MB") else f"{number}s"


def _describe(value: Any) -> str:
    """A scalar's value, a list or a block as a message shows it."""
    if isinstance(value, PList):
        return "a list"
    if isinstance(value, PMap):
        return "a block"
    if value is None:
        return "null"
    return describe_value(value)


_EXPECTED = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _expected(annotation: Any) -> str | None:
    names = [_EXPECTED[o] for o in _options(annotation) if o in _EXPECTED]
    for o in _options(annotation):
        if get_origin(o) in (tuple, list):
            names.append("a list")
        elif get_origin(o) is dict:
            names.append("a block of key = value")
    return " or ".join(dict.fromkeys(names)) or None


def describe_value(value: Any) -> str:
    """A value as a message shows it: `got \"two\"`, `got 3`, `got a list`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"' if len(value) < 40 else "a string"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a block"
    return type(value).__name__


_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "greater than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


def _bound_msg(err: Any) -> str | None:
    """'must be at least 1, got 0' for pydantic's numeric bound errors."""
    bound = _BOUNDS.get(err.get("type", ""))
    if bound is None:
        return None
    limit = (err.get("ctx") or {}).get(bound[0])
    return f"must be {bound[1]} {limit}, got {describe_value(err.get('input'))}"


def _clean_msg(msg: str) -> str:
    msg = msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def build_pipeline(low: Lowering, node: PMap) -> ir.Pipeline | None:
    """A pipeline: run formats default to the platform's, and must be among them."""
    platform = node.get("platform")
    run = node.get("run")
    if run is None:
        run = PMap(pos=node.pos, title="run")
        node.set("run", run)
    if isinstance(run, PMap) and isinstance(platform, PMap) and "formats" not in run.entries:
        formats = platform.get("formats")
        if formats is not None:
            run.set("formats", formats)
    pipeline = low.build(ir.Pipeline, node, f"pipeline {_title(node)}")
    if pipeline is None:
        return None
    allowed = set(pipeline.platform.formats)
    wanted = [f for f in pipeline.run.formats if f not in allowed]
    if wanted and isinstance(run, PMap):
        where = run.get("formats")
        low.error(
            f"format {wanted[0]} is not allowed by platform {pipeline.platform.name}",
            where.pos if where else run.pos,
            f"platform {pipeline.platform.name} allows: {', '.join(pipeline.platform.formats)}",
        )
        return None
    return pipeline


def _title(node: PMap) -> str:
    system, table = node.get("system"), node.get("table")
    if isinstance(system, PScalar) and isinstance(table, PScalar):
        return f"{system.value}.{table.value}"
    return ""
