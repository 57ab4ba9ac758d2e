"""The `.bronze` field reference, generated from the IR so it cannot drift from it.

``docs/language.md`` embeds :func:`field_tables`; a test keeps the two equal.
Nothing at run time imports this module.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from foundry_dsl import ir
from foundry_dsl.frontends.lower import unit_of
from foundry_dsl.frontends.positioned import DURATION_UNITS, SIZE_UNITS


def _source_models() -> dict[str, type[BaseModel]]:
    """Every source kind's model, in the IR union's order: new kinds appear by themselves."""
    import typing

    members = typing.get_args(typing.get_args(ir.Source)[0])
    return {str(m.model_fields["kind"].default): m for m in members}


SECTIONS: list[tuple[str, list[type[BaseModel]]]] = [
    ("platform NAME { ... }", [ir.Platform]),
    (
        "storage KIND { ... } (in a platform)",
        [ir.LocalStorage, ir.S3Storage, ir.AzureStorage, ir.GcsStorage, ir.CustomStorage],
    ),
    ("pipeline SYSTEM.TABLE { ... }", [ir.Pipeline]),
    ("run { ... } (in a pipeline)", [ir.RunOptions]),
    ("source api { ... }", [ir.ApiSource, ir.ApiIncremental, ir.RetryPolicy]),
    (
        "auth KIND { ... } (in an api source)",
        [ir.BearerAuth, ir.ApiKeyAuth, ir.BasicAuth, ir.OAuth2Auth],
    ),
    (
        "paginate KIND { ... } (in an api source)",
        [
            ir.OffsetPagination,
            ir.PagePagination,
            ir.CursorPagination,
            ir.LinkPagination,
            ir.NextUrlPagination,
        ],
    ),
    *(
        (f"source {kind} {{ ... }}", [model])
        for kind, model in _source_models().items()
        if kind != "api"  # with its nested blocks, above
    ),
]

HIDDEN = {"span", "kind", "source_file"}
#: fields written as a block's labels (``platform NAME``, ``pipeline SYSTEM.TABLE``), not
#: as attributes; ``name`` elsewhere (``auth api_key { name = ... }``) is an attribute
LABELS: dict[type[BaseModel], set[str]] = {ir.Platform: {"name"}, ir.Pipeline: {"system", "table"}}
SPECIAL_TYPES: dict[tuple[type[BaseModel], str], str] = {
    (ir.Pipeline, "platform"): "a platform's name (optional when one is visible)",
    (ir.Pipeline, "source"): "`source KIND_OR_TEMPLATE { ... }` block",
    (ir.Pipeline, "run"): "`run { ... }` block",
}
BLOCK_NAMES = {ir.ApiIncremental: "incremental { ... }", ir.RetryPolicy: "retry { ... }"}


def field_tables() -> str:
    out: list[str] = []
    for title, models in SECTIONS:
        out.append(f"### {title}\n")
        for model in models:
            kind = model.model_fields.get("kind")
            if len(models) > 1:
                label = BLOCK_NAMES.get(model) or f"{kind.default if kind else model.__name__}"
                out.append(f"**{label}**\n")
            out.append("| field | type | default |\n| --- | --- | --- |")
            for name, f in model.model_fields.items():
                if name in HIDDEN or name in LABELS.get(model, ()):
                    continue
                unit = unit_of(f)
                kind_of = SPECIAL_TYPES.get((model, name)) or unit or _type(f.annotation)
                out.append(f"| `{name}` | {kind_of} | {_default(f, unit)} |")
            out.append("")
    return "\n".join(out)


def _type(t: Any) -> str:
    origin = get_origin(t)
    if origin is typing.Annotated:
        return _type(get_args(t)[0])
    if origin in (Union, types.UnionType):
        parts = [_type(a) for a in get_args(t) if a is not type(None)]
        return " or ".join(dict.fromkeys(parts))
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(t))
    if origin in (tuple, list):
        return f"list of {_type(get_args(t)[0])}"
    if origin is dict:
        return "block of key = value"
    if t is ir.EnvRef:
        return '`env("NAME")`'
    if isinstance(t, type) and issubclass(t, BaseModel):
        return "block"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(t, str(t))


def _default(f: Any, unit: str | None = None) -> str:
    if unit is not None and isinstance(f.default, (int, float)) and f.default:
        return f"`{_quantity(unit, f.default)}`"
    if f.is_required():
        return "required"
    if f.default_factory is not None:
        value = f.default_factory()
        if isinstance(value, BaseModel):
            return f"`{value.model_dump().get('kind', '{}')}`"
        return "empty"
    if f.default is None or f.default is PydanticUndefined:
        return "none"
    if isinstance(f.default, tuple):
        return "`[" + ", ".join(f.default) + "]`"
    if isinstance(f.default, bool):
        return f"`{str(f.default).lower()}`"
    if f.default == "":
        return '`""`'
    return f"`{f.default}`"


def _quantity(unit: str, value: float) -> str:
    """A size in bytes or a duration in seconds as it is written: 30.0 → ``30s``."""
    units: dict[str, Any] = SIZE_UNITS if unit == "size" else DURATION_UNITS
    for name, factor in sorted(units.items(), key=lambda u: u[1], reverse=True):
        amount = value / factor
        if amount >= 1 and float(amount).is_integer():
            return f"{int(amount)}{name}"
    return str(value)
