"""Front-end layer: what an IR field's type accepts, worked out once per type.

``frontends.lower`` asks the same questions of every value it lowers: is the
field a tagged union, a model, optional, a secret, may it come from
``env()``? Answering them walks the type's ``typing`` arguments; a run of
500 pipelines asked them tens of thousands of times for a few dozen types,
so :func:`shape_of` and :func:`fields_of` answer once per type and model and
keep the answer (types and models do not change while a process runs).
"""

from __future__ import annotations

import datetime as dt
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from foundry_dsl import ir
from foundry_dsl.frontends.positioned import UnitKind

__all__ = [
    "FieldSpec",
    "Shape",
    "accepts_env",
    "adapter",
    "env_allowed",
    "fields_of",
    "is_discriminated",
    "is_model",
    "item_type",
    "kind_of",
    "literal_choices",
    "options",
    "shape_of",
    "unit_of",
    "wants_str",
]


@functools.cache
def adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def options(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return list(get_args(annotation))
    return [annotation]


def unit_of(field: FieldInfo) -> UnitKind | None:
    """"size" or "duration" for an IR field marked so (``json_schema_extra={"unit": ...}``)."""
    extra = field.json_schema_extra
    unit = extra.get("unit") if isinstance(extra, dict) else None
    if unit == "size":
        return "size"
    if unit == "duration":
        return "duration"
    return None


def is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def is_discriminated(annotation: Any) -> bool:
    if get_origin(annotation) is not typing.Annotated:
        return False
    return any(getattr(m, "discriminator", None) for m in annotation.__metadata__)


def kind_of(model: type[ir.Node]) -> str:
    return str(model.model_fields["kind"].default)


def accepts_env(t: Any) -> bool:
    """dict/tuple types whose items may be EnvRefs."""
    return any(a is ir.EnvRef or accepts_env(a) for a in get_args(t))


def env_allowed(t: Any) -> bool:
    """A value of type ``t`` (or inside it) may be written env("NAME")."""
    return t is ir.EnvRef or t is Any or any(env_allowed(a) for a in get_args(t))


def literal_choices(annotation: Any) -> list[str]:
    for o in options(annotation):
        if get_origin(o) is Literal:
            return [str(a) for a in get_args(o)]
    return []


def item_type(annotation: Any) -> Any:
    for o in options(annotation):
        if get_origin(o) in (tuple, list) and get_args(o):
            return get_args(o)[0]
    return None


def wants_str(annotation: Any) -> bool:
    opts = options(annotation)
    return str in opts and dt.date not in opts and dt.datetime not in opts


@dataclass(frozen=True)
class Shape:
    """The answers ``Lowering.value`` needs about one annotation."""

    options: tuple[Any, ...]
    discriminated: bool  # a tagged union: ``kind`` picks the model
    model: type[ir.Node] | None  # the model among the options (EnvRef aside)
    optional: bool  # null is a value
    takes_env: bool  # env("NAME") is a value (an EnvRef, or items that are)
    secret: bool  # nothing but an EnvRef: a literal is a secret written in the file
    env_ok: bool  # env("NAME") may be written here or somewhere inside
    #: plain types among the options: a value of exactly one of them is valid as it is
    exact: frozenset[type]
    #: a Literal of strings: the strings that are valid as they are
    choices: frozenset[str]


def _shape(annotation: Any) -> Shape:
    opts = options(annotation)
    return Shape(
        options=tuple(opts),
        discriminated=is_discriminated(annotation),
        model=next((o for o in opts if is_model(o) and o is not ir.EnvRef), None),
        optional=type(None) in opts,
        takes_env=ir.EnvRef in opts or any(accepts_env(o) for o in opts),
        secret=[o for o in opts if o is not type(None)] == [ir.EnvRef],
        env_ok=any(env_allowed(o) for o in opts),
        exact=frozenset(o for o in opts if o in (str, int, float, bool)),
        choices=frozenset(
            a for a in get_args(annotation) if get_origin(annotation) is Literal and type(a) is str
        ),
    )


_shapes = functools.cache(_shape)


def shape_of(annotation: Any) -> Shape:
    try:
        return _shapes(annotation)
    except TypeError:  # pragma: no cover - an unhashable annotation: not kept
        return _shape(annotation)


@dataclass(frozen=True)
class FieldSpec:
    """One field of a model as ``Lowering.build`` reads it."""

    annotation: Any
    tagged: bool  # declared with a discriminator
    unit: UnitKind | None


@dataclass(frozen=True)
class ModelFields:
    """A model's fields but ``span``, in order, and the names of the required ones."""

    fields: dict[str, FieldInfo]
    specs: dict[str, FieldSpec]
    required: tuple[str, ...]


@functools.cache
def fields_of(model: type[ir.Node]) -> ModelFields:
    fields = {n: f for n, f in model.model_fields.items() if n != "span"}
    return ModelFields(
        fields=fields,
        specs={n: FieldSpec(f.annotation, bool(f.discriminator), unit_of(f))
               for n, f in fields.items()},
        required=tuple(n for n, f in fields.items() if f.is_required()),
    )
